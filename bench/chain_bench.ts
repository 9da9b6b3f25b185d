// A chain of three functions (upper -> reverse -> echo) over HTTP, measured
// with wrk for payloads of 64 B, 4 KiB and 64 KiB at concurrency 1, 8, 32 and
// 64, with libsure's data plane in front (--dataplane sockets: the chain's
// requests never enter JavaScript) and with the Hono gateway (--dataplane
// hono: a completion pump in TypeScript), and, as root, through the Z-stack
// (--dataplane af_xdp on one end of a veth pair, wrk in a namespace at the
// other end: AF_XDP copy mode), in the same run as:
//   A, the Knative model: each function its own process behind its own proxy
//      sidecar process, chained by a broker over HTTP (bench/baselines/knative.ts);
//   B, the ceiling: the three handlers as in-process calls in one Deno.serve.
// Per row: requests/s, p50/p99 latency, and CPU seconds per 1000 requests of
// the server side (every process of the system, all their threads).
//   npm run bench
//   deno run -A bench/chain_bench.ts [seconds per run]
import { buildFunction } from "../runtime/builder/compile.ts";
import { runWrk, type WrkResult } from "./lib/wrk.ts";
import { fmt, freePort, sh, spawn, stop, waitReady } from "./lib/proc.ts";
import { cpuSecondsOf, deploy, hostCpuSecondsOf, startBenchNode } from "./lib/node.ts";
import { startKnative } from "./lib/knative.ts";

const seconds = Number(Deno.args[0] ?? "3");
const PAYLOADS = [64, 4096, 65536];
const CONCURRENCY = [1, 8, 32, 64];
const STEPS = ["upper", "reverse", "echo"];
const here = (p: string) => new URL(p, import.meta.url).pathname;
const root = here("../");

interface Row extends WrkResult {
  cpuPer1k: number;
  /** CPU the servers spent per request outside guests (us): the node's own work. */
  hostUsPerReq: number;
  hopP50Us?: number[];
}

interface System {
  name: string;
  url: string;
  /** wrk runs in this network namespace (the af_xdp row). */
  netns?: string;
  pids: number[];
  /** Called before each measured run (sure: fresh chain, fresh counters). */
  reset?: () => Promise<void>;
  /** Extra numbers after a run. */
  after?: () => Promise<Partial<Row>>;
  close: () => Promise<void>;
}

async function measure(sys: System, payload: number, c: number): Promise<Row> {
  const body = "abcdefghijklmnopqrstuvwxyz".repeat(Math.ceil(payload / 26)).slice(0, payload);
  await sys.reset?.();
  const netns = sys.netns;
  await runWrk({ url: sys.url, body, connections: c, durationSec: 1, netns }); // warm-up
  const cpu0 = sys.pids.reduce((a, p) => a + cpuSecondsOf(p), 0);
  const host0 = sys.pids.reduce((a, p) => a + hostCpuSecondsOf(p), 0);
  const r = await runWrk({ url: sys.url, body, connections: c, durationSec: seconds, netns });
  const cpu1 = sys.pids.reduce((a, p) => a + cpuSecondsOf(p), 0);
  const host1 = sys.pids.reduce((a, p) => a + hostCpuSecondsOf(p), 0);
  return {
    ...r,
    cpuPer1k: ((cpu1 - cpu0) / Math.max(1, r.requests)) * 1000,
    hostUsPerReq: ((host1 - host0) / Math.max(1, r.requests)) * 1e6,
    ...(await sys.after?.()),
  };
}

/** The af_xdp row's wire: XDP_IF here (no kernel address), its peer in XDP_NS. */
const XDP_NS = "sure-cb-c", XDP_IF = "surecb0", XDP_ADDR = "10.79.0.2", XDP_CLIENT = "10.79.0.10";

async function xdpWireDown(): Promise<void> {
  await sh(["ip", "link", "del", XDP_IF], false);
  await sh(["ip", "netns", "del", XDP_NS], false);
}

async function xdpWireUp(): Promise<void> {
  await xdpWireDown();
  await sh(["ip", "netns", "add", XDP_NS]);
  await sh(["ip", "link", "add", XDP_IF, "type", "veth", "peer", "name", "surecb1"]);
  await sh(["ip", "link", "set", "surecb1", "netns", XDP_NS]);
  await sh(["ip", "link", "set", XDP_IF, "up"]);
  const inNs = (args: string[]) => sh(["ip", "netns", "exec", XDP_NS, ...args]);
  await inNs(["ip", "addr", "add", `${XDP_CLIENT}/24`, "dev", "surecb1"]);
  await inNs(["ip", "link", "set", "surecb1", "up"]);
  await inNs(["ip", "link", "set", "lo", "up"]);
}

async function startSure(dataplane: "sockets" | "hono" | "af_xdp"): Promise<System> {
  const xdp = dataplane === "af_xdp";
  if (xdp) await xdpWireUp();
  const node = await startBenchNode([
    "--dataplane",
    dataplane,
    ...(xdp ? ["--iface", XDP_IF, "--addr", `${XDP_ADDR}/24`] : []),
  ]);
  const base = node.url;
  for (const fn of STEPS) {
    const built = await buildFunction(`${root}functions/${fn}`);
    await deploy(base, fn, await Deno.readFile(built.image));
  }
  const apply = async () => {
    const r = await fetch(`${base}/admin/chains`, {
      method: "POST",
      headers: { "content-type": "application/json", ...node.auth },
      body: JSON.stringify({ name: "bench3", steps: STEPS, reserve: 65536 }),
    });
    if (!r.ok) throw new Error(`chain: ${await r.text()}`);
    await r.body?.cancel();
  };
  await apply();
  await waitReady(`${base}/invoke/bench3`); // the kernel listener, here
  const port = new URL(base).port;
  return {
    name: `sure --dataplane ${dataplane} (3 KVM VMs, shared-memory hand-off)` +
      (xdp ? ", wrk over veth" : ""),
    url: xdp ? `http://${XDP_ADDR}:${port}/invoke/bench3` : `${base}/invoke/bench3`,
    ...(xdp ? { netns: XDP_NS } : {}),
    pids: [node.pid],
    reset: apply, // a replaced chain starts with fresh VMs and counters
    after: async () => {
      const s = await (await fetch(`${base}/admin/chains/bench3/stats`, { headers: node.auth }))
        .json();
      return {
        hopP50Us: s.steps.map((x: { handoffLatency: { p50Ns: number } } | null) =>
          x ? x.handoffLatency.p50Ns / 1000 : NaN
        ),
      };
    },
    close: async () => {
      await node.close();
      if (xdp) await xdpWireDown();
    },
  };
}

async function startKnativeSystem(): Promise<System> {
  const k = await startKnative(STEPS);
  return {
    name: "A: Knative model (3 fn + 3 sidecar + broker processes)",
    url: k.url,
    pids: k.pids,
    close: k.close,
  };
}

async function startInProcess(): Promise<System> {
  const port = freePort();
  const p = spawn(["run", "-A", "--quiet", here("./baselines/inprocess.ts"), String(port)]);
  await waitReady(`http://127.0.0.1:${port}/`);
  return {
    name: "B: in-process calls in one Deno.serve",
    url: `http://127.0.0.1:${port}/`,
    pids: [p.pid],
    close: () => stop(p),
  };
}

const results = new Map<string, Map<string, Row>>();
const key = (p: number, c: number) => `${p}/${c}`;
const systems: System[] = [];
try {
  systems.push(
    await startSure("sockets"),
    await startSure("hono"),
    await startKnativeSystem(),
    await startInProcess(),
  );
  if (Deno.uid() === 0) systems.push(await startSure("af_xdp"));
  else console.log("chain_bench: not root, so no af_xdp row (namespaces, XDP)");
  for (const sys of systems) {
    const rows = new Map<string, Row>();
    results.set(sys.name, rows);
    for (const p of PAYLOADS) {
      for (const c of CONCURRENCY) rows.set(key(p, c), await measure(sys, p, c));
    }
  }
} finally {
  for (const s of systems) await s.close();
}

const [sure, hono, a, b, xdp] = systems.map((s) => results.get(s.name));
console.log(`chain of 3 functions (${STEPS.join(" -> ")}), wrk -t1 -d${seconds}s per row`);
for (const sys of systems) {
  console.log(`\n${sys.name}`);
  console.log(
    "payload  conc    req/s   p50 ms   p99 ms  CPU s/1k req  outside guests us/req  errors  " +
      "hand-off p50 us",
  );
  for (const p of PAYLOADS) {
    for (const c of CONCURRENCY) {
      const r = results.get(sys.name)!.get(key(p, c))!;
      console.log(
        `${String(p).padStart(7)} ${String(c).padStart(5)} ${
          fmt(r.requestsPerSec, 0).padStart(8)
        } ${fmt(r.p50Ms, 3).padStart(8)} ${fmt(r.p99Ms, 3).padStart(8)} ${
          fmt(r.cpuPer1k, 3).padStart(13)
        } ${fmt(r.hostUsPerReq, 1).padStart(22)} ${String(r.errors).padStart(7)}  ${
          r.hopP50Us ? r.hopP50Us.map((x) => fmt(x, 1)).join("/") : ""
        }`,
      );
    }
  }
}
console.log(
  "\nratios (sure sockets / A, / B, / sure hono): throughput, CPU per request",
);
for (const p of PAYLOADS) {
  for (const c of CONCURRENCY) {
    const s = sure!.get(key(p, c))!, ra = a!.get(key(p, c))!, rb = b!.get(key(p, c))!;
    const rh = hono!.get(key(p, c))!;
    console.log(
      `${String(p).padStart(7)} ${String(c).padStart(5)}  x/A ${
        fmt(s.requestsPerSec / ra.requestsPerSec).padStart(6)
      }  x/B ${fmt(s.requestsPerSec / rb.requestsPerSec).padStart(5)}  cpu/A ${
        fmt(s.cpuPer1k / ra.cpuPer1k).padStart(5)
      }  cpu/B ${fmt(s.cpuPer1k / rb.cpuPer1k).padStart(5)}  x/hono ${
        fmt(s.requestsPerSec / rh.requestsPerSec).padStart(5)
      }  cpu/hono ${fmt(s.cpuPer1k / rh.cpuPer1k).padStart(5)}`,
    );
  }
}
if (xdp) {
  console.log(
    "\nratios (sure af_xdp over veth / A, / B, / sure sockets): throughput, CPU per request",
  );
  for (const p of PAYLOADS) {
    for (const c of CONCURRENCY) {
      const x = xdp.get(key(p, c))!, ra = a!.get(key(p, c))!, rb = b!.get(key(p, c))!;
      const rs = sure!.get(key(p, c))!;
      console.log(
        `${String(p).padStart(7)} ${String(c).padStart(5)}  x/A ${
          fmt(x.requestsPerSec / ra.requestsPerSec).padStart(6)
        }  x/B ${fmt(x.requestsPerSec / rb.requestsPerSec).padStart(5)}  x/sockets ${
          fmt(x.requestsPerSec / rs.requestsPerSec).padStart(5)
        }  cpu/sockets ${fmt(x.cpuPer1k / rs.cpuPer1k).padStart(5)}`,
      );
    }
  }
}
const t = sure!.get(key(64, 32))!, ta = a!.get(key(64, 32))!, tb = b!.get(key(64, 32))!;
console.log(
  `\ntargets at 64 B, concurrency 32: sure/A ${
    fmt(t.requestsPerSec / ta.requestsPerSec)
  }x (target >= 20x), ` +
    `sure/B ${fmt((100 * t.requestsPerSec) / tb.requestsPerSec, 0)}% (target >= 80%), ` +
    `hand-off p50 per step ${t.hopP50Us?.map((x) => fmt(x, 1)).join("/")} us ` +
    `(latency mode's target, <= 0.5 us, is bench_chain_latency's), ` +
    `node CPU outside the guests ${fmt(t.hostUsPerReq, 1)} us per request (target <= 5 us)`,
);
