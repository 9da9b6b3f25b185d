// The remote hop over veth: a chain split over two nodes, each in a network
// namespace of its own joined to this one by a veth pair (this namespace
// routes between them and is the client), against the same chain on one of
// them, in the same run. upper -> reverse -> echo with reverse on node b: a
// hop from a's data plane to b's and back per request, over two veth links
// and this namespace's forwarding. Rounds alternate the rows. Per row:
// requests/s and p50/p99 from wrk in this namespace, and the p50 the remote
// step adds (target: <= 50 us at c1). Needs root and KVM, else
// it says so and measures nothing. Both backends: sockets (kernel TCP) and
// af_xdp (each node's Z-stack on its veth end, at an address of its own).
//   deno run -A bench/split_chain_veth_bench.ts [seconds] [rounds]
import { probe } from "../ffi/mod.ts";
import { runWrk, type WrkResult } from "./lib/wrk.ts";
import { deno, fmt, sh, stop } from "./lib/proc.ts";
import { rememberToken } from "./lib/node.ts";
import { applySplitChains, splitImages } from "./lib/split_chain.ts";

const seconds = Number(Deno.args[0] ?? "3");
const rounds = Number(Deno.args[1] ?? "3");
const root = new URL("../", import.meta.url).pathname;
if (!probe().kvm.available || Deno.uid() !== 0) {
  console.log("split chain over veth: needs KVM and root (namespaces, veth), nothing measured");
  Deno.exit(0);
}

const NODES = [
  { name: "a", ns: "sure-sva", here: "sva0", there: "sva1", net: "10.233.1" },
  { name: "b", ns: "sure-svb", here: "svb0", there: "svb1", net: "10.233.2" },
];
const PORT = 8080;

async function cleanNetworks(): Promise<void> {
  for (const n of NODES) {
    await sh(["ip", "netns", "del", n.ns], false);
    await sh(["ip", "link", "del", n.here], false);
  }
}

async function makeNetworks(): Promise<void> {
  await cleanNetworks();
  for (const { ns, here, there, net } of NODES) {
    const inNs = (args: string[]) => sh(["ip", "netns", "exec", ns, ...args]);
    await sh(["ip", "netns", "add", ns]);
    await sh(["ip", "link", "add", here, "type", "veth", "peer", "name", there]);
    await sh(["ip", "link", "set", there, "netns", ns]);
    await sh(["ip", "addr", "add", `${net}.1/24`, "dev", here]);
    await sh(["ip", "link", "set", here, "up"]);
    await inNs(["ip", "link", "set", "lo", "up"]);
    await inNs(["ip", "addr", "add", `${net}.2/24`, "dev", there]);
    await inNs(["ip", "link", "set", there, "up"]);
    await inNs(["ip", "route", "add", "default", "via", `${net}.1`]);
  }
  await Deno.writeTextFile("/proc/sys/net/ipv4/ip_forward", "1");
}

interface Node {
  url: string;
  child: Deno.ChildProcess;
  dataDir: string;
}

type Backend = "sockets" | "af_xdp";

/**
 * `sure serve` in node i's namespace, with the other node as its peer. With
 * af_xdp its Z-stack owns <net>.3 on the namespace's veth end: clients and
 * hops speak to that address.
 */
async function startNode(i: number, backend: Backend): Promise<Node> {
  const me = NODES[i], other = NODES[1 - i];
  const host = backend === "af_xdp" ? 3 : 2;
  const dataDir = await Deno.makeTempDir({ prefix: "sure-bench-veth-" });
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      me.ns,
      deno,
      "run",
      "-A",
      "--quiet",
      `${root}main.ts`,
      "serve",
      "--host",
      `${me.net}.2`,
      "--insecure", // the admin API beyond loopback, in clear text: this bench's own links
      "--port",
      String(PORT),
      "--data-dir",
      dataDir,
      "--node-name",
      me.name,
      "--peer",
      `${other.name}=${other.net}.${host}:${PORT}`,
      "--dataplane",
      backend,
      ...(backend === "af_xdp"
        ? ["--iface", me.there, "--addr", `${me.net}.3/24`, "--gateway", `${me.net}.1`]
        : []),
    ],
    env: { SURE_REQUEST_LOG: "0" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const url = `http://${me.net}.${host}:${PORT}`;
  for (const end = Date.now() + 60_000;;) {
    try {
      const r = await fetch(`${url}/healthz`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`node ${me.name} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  rememberToken(url, (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
  return { url, child, dataDir };
}

const images = await splitImages();

async function measure(backend: Backend): Promise<void> {
  await makeNetworks();
  const nodes: Node[] = [];
  try {
    nodes.push(await startNode(0, backend), await startNode(1, backend));
    const [a, b] = nodes;
    await applySplitChains(a.url, b.url, images);
    const body = "x".repeat(64);
    const run = (name: string, c: number, durationSec = seconds) =>
      runWrk({ url: `${a.url}/invoke/${name}`, body, connections: c, durationSec });
    await run("across", 8, 1); // warm: instances, the kept connections between the nodes
    await run("local", 8, 1);
    const adds: Record<number, number[]> = { 1: [], 32: [] };
    const line = (r: WrkResult) =>
      `${fmt(r.requestsPerSec, 0)} req/s p50 ${fmt(r.p50Ms * 1000, 0)} us p99 ${
        fmt(r.p99Ms * 1000, 0)
      } us`;
    console.log(
      `chain upper -> reverse -> echo, 64 B, ${backend}: client and router in this namespace, ` +
        "nodes over veth",
    );
    for (let round = 0; round < rounds; round++) {
      for (const c of [1, 32]) {
        const one = await run("local", c);
        const two = await run("across", c);
        const us = (two.p50Ms - one.p50Ms) * 1000;
        adds[c].push(us);
        console.log(
          `${backend} c${c} round ${round + 1}: one node ${line(one)}; split over two ${
            line(two)
          } -> ${fmt(two.requestsPerSec / one.requestsPerSec)}x req/s, the remote step adds ` +
            `${fmt(us, 0)} us p50`,
        );
      }
    }
    for (const c of [1, 32]) {
      const sorted = [...adds[c]].sort((x, y) => x - y);
      console.log(
        `${backend} c${c}: the remote step adds ${sorted.map((u) => fmt(u, 0)).join(", ")} us ` +
          "p50 over veth" +
          (c === 1 ? ` (target <= 50 us; median ${fmt(sorted[sorted.length >> 1], 0)})` : ""),
      );
    }
  } finally {
    for (const n of nodes) {
      await stop(n.child);
      await Deno.remove(n.dataDir, { recursive: true }).catch(() => {});
    }
    await cleanNetworks();
  }
}

await measure("sockets");
await measure("af_xdp");
