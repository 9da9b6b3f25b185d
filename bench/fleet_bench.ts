// A fleet of three nodes on one NATS JetStream server (Debian's nats-server),
// all on this machine. Rows, each against its baseline in the same run:
//   deploy propagation: from POST /admin/functions on one node until all
//     three answer the new version, against the same deploy on a node that is
//     in no fleet (until it answers);
//   forwarded invoke: wrk -c32 on a node that does not run the function
//     against wrk on the node that does: a public function (straight from
//     the data plane of one to the other's), a private one (the same way,
//     signed with the hop key the fleet key gives, x-sure-forward-mac), and
//     a private one from a fourth node that has no fleet key (over NATS
//     request/reply, as every private forward went before signing);
//   event accept: 8 clients posting one CloudEvent each to /events on a fleet
//     node (answered once JetStream stored it) against the same on the node
//     in no fleet (stored in its Deno KV);
//   failover: 32 clients in a loop on a node that forwards to the one node
//     that runs the function (replicas 1), which is killed (SIGKILL) after
//     2 s: the requests no node served, and the time until they are served
//     again (the heartbeat's expiry, three beats, bounds it from below).
// Without KVM the function answers 503 kvm_unavailable wherever it runs: then
// the invoke rows measure the forwarding alone (the node that "ran" it says
// so in x-sure-node), and the header says so.
//   deno run -A bench/fleet_bench.ts [seconds] [rounds]
import { probe } from "../ffi/mod.ts";
import { buildFunction } from "../runtime/builder/compile.ts";
import { percentile, runWrk } from "./lib/wrk.ts";
import { fmt, freePort } from "./lib/proc.ts";
import { authFor, type BenchNode, deploy, startBenchNode } from "./lib/node.ts";

const seconds = Number(Deno.args[0] ?? "5");
const rounds = Number(Deno.args[1] ?? "5");
const root = new URL("../", import.meta.url).pathname;
const kvm = probe().kvm.available;
const BEAT_MS = 500;

const natsDir = await Deno.makeTempDir({ prefix: "sure-bench-nats-" });
const natsPort = freePort();
const nats = new Deno.Command("nats-server", {
  args: ["-js", "-a", "127.0.0.1", "-p", String(natsPort), "-sd", natsDir],
  stdout: "null",
  stderr: "null",
}).spawn();
const KEY = "5e".repeat(32);
const fleet = (name: string, key = true) => ({
  ...(key ? { SURE_FLEET_KEY: KEY } : {}),
  SURE_FLEET: `nats://127.0.0.1:${natsPort}`,
  SURE_NODE_NAME: name,
  SURE_LABELS: `node=${name}`,
  SURE_FLEET_HEARTBEAT_MS: String(BEAT_MS),
  SURE_REQUEST_LOG: "0",
});
const images = await Promise.all(
  ["echo", "upper"].map(async (f) =>
    await Deno.readFile((await buildFunction(`${root}functions/${f}`)).image)
  ),
);

const post = deploy;

async function digestOn(url: string, name: string): Promise<string> {
  const r = await fetch(`${url}/admin/functions/${name}`, { headers: authFor(url) });
  return r.ok ? (await r.json()).digest : (await r.body?.cancel(), "");
}

/** POST /events from 8 clients for `seconds`: events per second and latency percentiles. */
async function acceptRate(url: string, tag: string) {
  const ms: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await fetch(`${url}/events`, {
        method: "POST",
        headers: {
          ...authFor(url),
          "ce-specversion": "1.0",
          "ce-id": `${tag}-${n++}`,
          "ce-source": "/bench",
          "ce-type": "com.example.bench",
        },
        body: "x".repeat(64),
      });
      await r.body?.cancel();
      if (r.status !== 202) throw new Error(`/events answered ${r.status}`);
      ms.push(performance.now() - t0);
    }
  }));
  ms.sort((x, y) => x - y);
  return { perSec: ms.length / seconds, p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

const nodes: BenchNode[] = [];
let single: BenchNode | undefined, keyless: BenchNode | undefined;
try {
  for (const n of ["a", "b", "c"]) nodes.push(await startBenchNode([], fleet(n)));
  single = await startBenchNode();
  keyless = await startBenchNode([], fleet("d", false));
  const d = keyless;
  const [a, b, c] = nodes;
  console.log(`fleet: 3 nodes, one NATS server, heartbeat ${BEAT_MS} ms; KVM ${kvm}`);

  // Deploy propagation, alternating two images under one name.
  const fleetMs: number[] = [], singleMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const image = images[i % 2];
    let t0 = performance.now();
    const digest = await post(a.url, "prop", image);
    for (const n of nodes) while ((await digestOn(n.url, "prop")) !== digest) { /* poll */ }
    fleetMs.push(performance.now() - t0);
    t0 = performance.now();
    await post(single.url, "prop", image);
    singleMs.push(performance.now() - t0);
  }
  fleetMs.sort((x, y) => x - y);
  singleMs.sort((x, y) => x - y);
  console.log(
    `deploy propagation (${rounds} deploys): all 3 nodes p50 ${
      fmt(percentile(fleetMs, 50), 1)
    } ms` +
      ` max ${fmt(fleetMs.at(-1)!, 1)} ms; a single node p50 ${
        fmt(percentile(singleMs, 50), 1)
      } ms` +
      ` -> ${fmt(percentile(fleetMs, 50) / percentile(singleMs, 50))}x`,
  );

  // Forwarded against local: "near" (public) and "nearp" (private) run on a only.
  await post(a.url, "near", images[0], { labels: "node=a" });
  await post(a.url, "nearp", images[0], { labels: "node=a", access: "private" });
  while (!(await digestOn(a.url, "near")) || !(await digestOn(a.url, "nearp"))) {
    /* converging */
  }
  for (const [via, fn] of [[b, "near"], [b, "nearp"], [d, "nearp"]] as const) {
    for (;;) { // b and d forward once they know a serves it
      const headers = authFor(via.url);
      const r = await fetch(`${via.url}/invoke/${fn}`, { method: "POST", body: "x", headers });
      const by = r.headers.get("x-sure-node");
      await r.body?.cancel();
      if (by === "a") break;
    }
  }
  // wrk -c32 with 64 B bodies on node's /invoke/fn (with its token: a private function).
  const c32 = (node: BenchNode, fn: string, token = false) =>
    runWrk({
      url: `${node.url}/invoke/${fn}`,
      body: "x".repeat(64),
      connections: 32,
      durationSec: seconds,
      ...(token ? { headers: authFor(node.url) } : {}),
    });
  const note = kvm ? "" : " (no KVM: every answer is 503 kvm_unavailable from a; the hop alone)";
  for (let i = 0; i < Math.min(rounds, 3); i++) {
    const local = await c32(a, "near");
    const fwd = await c32(b, "near");
    const signed = await c32(b, "nearp", true);
    const viaNats = await c32(d, "nearp", true);
    const row = (what: string, r: typeof local) =>
      `${what} ${fmt(r.requestsPerSec, 0)} req/s p50 ${fmt(r.p50Ms)} ms p99 ${fmt(r.p99Ms)} ms` +
      (r === local ? "" : ` -> ${fmt(r.requestsPerSec / local.requestsPerSec)}x`);
    console.log(
      `invoke c32, 64 B${note}: ${row("local", local)}; ${row("forwarded (public)", fwd)}; ` +
        `${row("forwarded private, signed", signed)}; ${row("private over NATS", viaNats)}`,
    );
  }

  // d leaves (its heartbeat goes with it): the rows below are the three nodes'.
  await keyless.close();
  keyless = undefined;

  // Event accept: the sink's answer waits for the store (JetStream / Deno KV).
  for (let i = 0; i < Math.min(rounds, 3); i++) {
    const inFleet = await acceptRate(b.url, `f${i}`);
    const alone = await acceptRate(single.url, `s${i}`);
    console.log(
      `event accept c8: fleet ${fmt(inFleet.perSec, 0)}/s p50 ${fmt(inFleet.p50)} ms p99 ` +
        `${fmt(inFleet.p99)} ms; single node ${fmt(alone.perSec, 0)}/s p50 ${fmt(alone.p50)} ms ` +
        `p99 ${fmt(alone.p99)} ms -> ${fmt(inFleet.perSec / alone.perSec)}x`,
    );
  }

  // Failover: "solo2" on one node (replicas 1); another forwards to it.
  await post(c.url, "solo2", images[0], { replicas: 1 });
  const owner = async () => {
    const r = await fetch(`${c.url}/admin/fleet/functions`, { headers: authFor(c.url) });
    const f = (await r.json()).functions.find((x: { name: string }) => x.name === "solo2");
    return (f?.running ?? [])[0] as string | undefined;
  };
  let runner: string | undefined;
  while (!(runner = await owner())) { /* converging */ }
  // Load on a node that does not run it.
  const victim = nodes[["a", "b", "c"].indexOf(runner)];
  const via = nodes.find((n) => n !== victim)!;
  let served = 0, failed = 0, lastFail = 0, stop = false, firstServed = 0;
  const killAt = performance.now() + 2000;
  let killed = 0;
  const client = async () => {
    while (!stop) {
      const started = performance.now();
      try {
        const r = await fetch(`${via.url}/invoke/solo2`, { method: "POST", body: "x" });
        const text = await r.text();
        // Served: by the function somewhere (without KVM its 503 is kvm_unavailable);
        // not served: the fleet had no node for it, or the forward failed.
        const ok = !/"error":"(fleet_unavailable|forward_failed)"/.test(text);
        const by = r.headers.get("x-sure-node") ?? "here";
        if (ok && killed && started > killed && by !== runner && !firstServed) {
          firstServed = performance.now();
        }
        if (ok) served++;
        else {
          failed++;
          lastFail = performance.now();
        }
      } catch {
        failed++;
        lastFail = performance.now();
      }
    }
  };
  const clients = Array.from({ length: 32 }, client);
  await new Promise((r) => setTimeout(r, killAt - performance.now()));
  killed = performance.now();
  Deno.kill(victim.pid, "SIGKILL"); // a crash: no goodbye, the heartbeat has to expire
  // Long enough for requests stuck on the dead node to time out (5 s + 3 s) and
  // for new ones to be served elsewhere.
  await new Promise((r) => setTimeout(r, 12_000));
  stop = true;
  await Promise.all(clients);
  console.log(
    `failover (c32 on ${via.url.split(":").pop()}, the one node running it killed): ${failed} ` +
      `request(s) no node served (the last failed ${
        lastFail > killed ? fmt(lastFail - killed, 0) : "0"
      } ms after the kill); new ` +
      `requests served by another node ${
        firstServed ? fmt(firstServed - killed, 0) : "never"
      } ms after the kill (heartbeat ${BEAT_MS} ms, dead after 3); ${served} served`,
  );
  await victim.close().catch(() => {});
  nodes.splice(nodes.indexOf(victim), 1);
} finally {
  for (const n of nodes) await n.close().catch(() => {});
  await single?.close().catch(() => {});
  await keyless?.close().catch(() => {});
  nats.kill("SIGKILL");
  await nats.status;
  await Deno.remove(natsDir, { recursive: true });
}
