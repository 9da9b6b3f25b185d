// What the protection keys cost. Two nodes on this machine, the same
// functions and chains on both: one whose VMs have keys (the gates switch
// PKRU twice per call, four or five calls per request and step) and one with
// SURE_GUEST_PKU=off (the same gates, WRPKRUs skipped: the model of a host
// without PKU). Rows, alternated over rounds, medians printed: warm echo and
// the 3-step chain (upper -> reverse -> echo) at 64 B, wrk -c32; and on the
// keyed node the same chain with request-level isolation (a key per request,
// at most 11 in flight). Without PKU for guests there is nothing to compare:
// it says so and exits 0.
//   deno run -A bench/keys_bench.ts [seconds] [rounds]
import { probe } from "../ffi/mod.ts";
import { buildFunction } from "../runtime/builder/compile.ts";
import { runWrk } from "./lib/wrk.ts";
import { fmt } from "./lib/proc.ts";
import { type BenchNode, deploy, startBenchNode } from "./lib/node.ts";

const seconds = Number(Deno.args[0] ?? "5");
const rounds = Number(Deno.args[1] ?? "3");
const STEPS = ["upper", "reverse", "echo"];
const root = new URL("../", import.meta.url).pathname;
const body = "abcdefghijklmnopqrstuvwxyz".repeat(3).slice(0, 64);
const connections = 32;

const caps = probe();
if (!caps.kvm.available || !caps.guestPku) {
  console.log(
    "keys: guests get no protection keys here (" +
      (caps.kvm.available ? "KVM offers no PKU" : "no KVM") +
      "): the gates run without WRPKRU, nothing to compare",
  );
  Deno.exit(0);
}

async function setUp(node: BenchNode, isolated: boolean) {
  for (const fn of STEPS) {
    const image = await Deno.readFile((await buildFunction(`${root}functions/${fn}`)).image);
    await deploy(node.url, fn, image);
  }
  const chains: Record<string, unknown>[] = [{ name: "c3", steps: STEPS }];
  if (isolated) {
    chains.push({
      name: "c3iso",
      steps: STEPS,
      isolation: "request",
      maxBody: 65536,
      pool: { buffers: 2200, bufferSize: 4096 },
    });
  }
  for (const spec of chains) {
    const r = await fetch(`${node.url}/admin/chains`, {
      method: "POST",
      headers: { "content-type": "application/json", ...node.auth },
      body: JSON.stringify(spec),
    });
    if (!r.ok) throw new Error(`chain ${spec.name}: ${await r.text()}`);
    await r.body?.cancel();
  }
}

async function rate(url: string): Promise<{ rps: number; errors: number }> {
  await runWrk({ url, body, connections, durationSec: 1 }); // warm-up
  const r = await runWrk({ url, body, connections, durationSec: seconds });
  return { rps: r.requestsPerSec, errors: r.errors };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const keyed = await startBenchNode();
const plain = await startBenchNode([], { SURE_GUEST_PKU: "off" });
const rows: Record<string, number[]> = {};
const add = (k: string, v: number) => (rows[k] ??= []).push(v);
try {
  await setUp(keyed, true);
  await setUp(plain, false);
  for (let i = 0; i < rounds; i++) {
    add("echo keys", (await rate(`${keyed.url}/invoke/echo`)).rps);
    add("echo off", (await rate(`${plain.url}/invoke/echo`)).rps);
    add("chain keys", (await rate(`${keyed.url}/invoke/c3`)).rps);
    add("chain off", (await rate(`${plain.url}/invoke/c3`)).rps);
    // At most 11 in flight: the rest of the 32 connections' requests are 503s.
    const iso = await rate(`${keyed.url}/invoke/c3iso`);
    add("chain request-level", iso.rps - iso.errors / seconds); // answered 200
    add("  503s", iso.errors / seconds);
  }
} finally {
  await keyed.close();
  await plain.close();
}

console.log(`protection keys: ${body.length} B, wrk -c${connections}, ${rounds} x ${seconds}s`);
for (const [k, v] of Object.entries(rows)) {
  console.log(
    `${k.padEnd(20)} ${fmt(median(v), 0).padStart(8)} req/s  (${
      v.map((x) => fmt(x, 0)).join(", ")
    })`,
  );
}
const r = (a: string, b: string) => fmt(median(rows[a]) / median(rows[b]), 2);
console.log(
  `ratio keys/off: warm echo ${r("echo keys", "echo off")}x, 3-step chain ${
    r("chain keys", "chain off")
  }x`,
);
console.log(`ratio request-level/chain-level (keys): ${r("chain request-level", "chain keys")}x`);
