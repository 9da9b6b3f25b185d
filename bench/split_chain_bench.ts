// A chain split over two nodes against the same chain on one: upper -> reverse
// -> echo with reverse on the second node (one hop there and back per
// request, data plane to data plane over loopback), against all three on the
// first node, in the same run. Each row is run twice, alternating: with hops
// on connections kept open between them (the default) and with a fresh
// connection per hop (SURE_HOP_KEEPALIVE=0 on both nodes, as before), and a
// third time with signed hops (SURE_PEER_KEY on both nodes: each hop and its
// answer carry an HMAC-SHA256), whose cost is printed against unsigned hops
// of the same round. Per row: requests/s, p50/p99, and the p50 a remote step
// adds over a local one. With kept, unsigned hops the split chain is also
// entered on b (which sends each request on to a, the node that leads it),
// against entered on a.
//   deno run -A bench/split_chain_bench.ts [seconds] [rounds]
import { probe } from "../ffi/mod.ts";
import { runWrk } from "./lib/wrk.ts";
import { fmt, freePort } from "./lib/proc.ts";
import { type BenchNode, startBenchNode } from "./lib/node.ts";
import { applySplitChains, splitImages } from "./lib/split_chain.ts";

const seconds = Number(Deno.args[0] ?? "3");
const rounds = Number(Deno.args[1] ?? "2");
if (!probe().kvm.available) {
  console.log("split chain: no KVM on this machine, nothing measured");
  Deno.exit(0);
}
const images = await splitImages();

/** Two nodes that know each other as peers, with both chains applied. */
async function pair(keepalive: boolean, signed: boolean): Promise<[BenchNode, BenchNode]> {
  const ports = [freePort(), freePort()];
  const env = {
    SURE_REQUEST_LOG: "0",
    ...(keepalive ? {} : { SURE_HOP_KEEPALIVE: "0" }),
    ...(signed ? { SURE_PEER_KEY: "5a".repeat(32) } : {}),
  };
  const nodes: BenchNode[] = [];
  for (const [i, me] of ["a", "b"].entries()) {
    nodes.push(
      await startBenchNode(
        ["--node-name", me, "--peer", `${i ? "a" : "b"}=127.0.0.1:${ports[1 - i]}`],
        env,
        ports[i],
      ),
    );
  }
  const [a, b] = nodes;
  await applySplitChains(a.url, b.url, images);
  return [a, b];
}

const body = "x".repeat(64);
const VARIANTS = [
  { keepalive: true, signed: false, label: "on kept connections" },
  { keepalive: false, signed: false, label: "a connection each" },
  { keepalive: true, signed: true, label: "on kept connections, signed" },
];
for (let round = 0; round < rounds; round++) {
  /** Split-chain results of this round by variant label and connections. */
  const split = new Map<string, { requestsPerSec: number; p50Ms: number }>();
  for (const { keepalive, signed, label } of VARIANTS) {
    const [a, b] = await pair(keepalive, signed);
    try {
      for (const c of [1, 32]) {
        const run = (name: string) =>
          runWrk({ url: `${a.url}/invoke/${name}`, body, connections: c, durationSec: seconds });
        await run("across"); // warm: instances, connections
        const one = await run("local");
        const two = await run("across");
        split.set(`${label} c${c}`, two);
        if (keepalive && !signed) {
          // The same chain entered on b, which runs step 1 only: b sends each
          // request to a, which leads it (libsure's forward on sockets).
          const viaB = await runWrk({
            url: `${b.url}/invoke/across`,
            body,
            connections: c,
            durationSec: seconds,
          });
          console.log(
            `chain 64 B c${c}, split, entered on b (sent to a): ${fmt(viaB.requestsPerSec, 0)} ` +
              `req/s p50 ${fmt(viaB.p50Ms, 3)} ms p99 ${fmt(viaB.p99Ms, 3)} ms -> ` +
              `${fmt(viaB.requestsPerSec / two.requestsPerSec)}x entered on a, ` +
              `+${fmt((viaB.p50Ms - two.p50Ms) * 1000, 0)} us p50`,
          );
        }
        console.log(
          `chain 64 B c${c}, hops ${label}: ` +
            `one node ${fmt(one.requestsPerSec, 0)} req/s p50 ${fmt(one.p50Ms, 3)} ms p99 ` +
            `${fmt(one.p99Ms, 3)} ms; split over two ${fmt(two.requestsPerSec, 0)} req/s p50 ` +
            `${fmt(two.p50Ms, 3)} ms p99 ${fmt(two.p99Ms, 3)} ms -> ` +
            `${fmt(two.requestsPerSec / one.requestsPerSec)}x req/s, the remote step adds ` +
            `${fmt((two.p50Ms - one.p50Ms) * 1000, 0)} us p50`,
        );
      }
    } finally {
      await a.close();
      await b.close();
    }
  }
  for (const c of [1, 32]) {
    const plain = split.get(`on kept connections c${c}`)!;
    const signed = split.get(`on kept connections, signed c${c}`)!;
    console.log(
      `chain 64 B c${c}, signed hops against unsigned (round ${round + 1}): ` +
        `${fmt(signed.requestsPerSec / plain.requestsPerSec)}x req/s, ` +
        `${fmt((signed.p50Ms - plain.p50Ms) * 1000, 0)} us p50`,
    );
  }
}
