// The library sidecar's cost. The same 3-function chain (upper -> reverse ->
// echo, 64 B bodies, wrk -c32) runs twice on one node: with each function's
// sidecar on (admission checks, accounting, trace context) and off. Then
// baseline A of the chain bench, the Knative model, where each function has
// a proxy sidecar process in front of it.
// Printed per request: the sidecars' own CPU time (on: measured inside the
// guests with the TSC, summed over the three steps; A: the CPU time of the
// three proxy processes), the node's CPU per request on and off, and ratios.
//   deno run -A bench/sidecar_bench.ts [seconds]
import { buildFunction } from "../runtime/builder/compile.ts";
import { runWrk } from "./lib/wrk.ts";
import { fmt } from "./lib/proc.ts";
import { authFor, cpuSecondsOf, deploy, startBenchNode } from "./lib/node.ts";
import { startKnative } from "./lib/knative.ts";

const seconds = Number(Deno.args[0] ?? "5");
const STEPS = ["upper", "reverse", "echo"];
const root = new URL("../", import.meta.url).pathname;
const body = "abcdefghijklmnopqrstuvwxyz".repeat(3).slice(0, 64);
const connections = 32;

/** Sum of sure_sidecar_cpu_seconds_total over a chain's steps. */
async function sidecarSeconds(url: string, chain: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: authFor(url) })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("sure_sidecar_cpu_seconds_total{") && line.includes(`chain="${chain}"`)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

async function run(url: string, pids: number[]) {
  await runWrk({ url, body, connections, durationSec: 1 }); // warm-up
  const cpu0 = pids.map(cpuSecondsOf);
  const r = await runWrk({ url, body, connections, durationSec: seconds });
  const cpu = pids.map((p, i) => cpuSecondsOf(p) - cpu0[i]);
  return { ...r, cpu };
}

const node = await startBenchNode();
const results: Record<string, { reqs: number; rps: number; nodeCpu: number; sidecar: number }> = {};
try {
  for (const fn of STEPS) {
    const image = await Deno.readFile((await buildFunction(`${root}functions/${fn}`)).image);
    await deploy(node.url, fn, image);
    await deploy(node.url, `${fn}-off`, image, { sidecar: "off" });
  }
  for (const [chain, steps] of [["sc-on", STEPS], ["sc-off", STEPS.map((s) => `${s}-off`)]]) {
    const r = await fetch(`${node.url}/admin/chains`, {
      method: "POST",
      headers: { "content-type": "application/json", ...node.auth },
      body: JSON.stringify({ name: chain, steps }),
    });
    if (!r.ok) throw new Error(`chain ${chain}: ${await r.text()}`);
    await r.body?.cancel();
  }
  for (const chain of ["sc-on", "sc-off"]) {
    const s0 = await sidecarSeconds(node.url, chain);
    const r = await run(`${node.url}/invoke/${chain}`, [node.pid]);
    const s1 = await sidecarSeconds(node.url, chain);
    results[chain] = {
      reqs: r.requests,
      rps: r.requestsPerSec,
      nodeCpu: r.cpu[0],
      sidecar: s1 - s0,
    };
  }
} finally {
  await node.close();
}

const k = await startKnative(STEPS);
let proxy: { reqs: number; rps: number; proxyCpu: number; allCpu: number };
try {
  const r = await run(k.url, k.pids);
  const proxyCpu = k.pids.reduce((a, p, i) => a + (k.sidecarPids.includes(p) ? r.cpu[i] : 0), 0);
  proxy = {
    reqs: r.requests,
    rps: r.requestsPerSec,
    proxyCpu,
    allCpu: r.cpu.reduce((a, b) => a + b),
  };
} finally {
  await k.close();
}

const us = (sec: number, n: number) => (sec / Math.max(1, n)) * 1e6;
const on = results["sc-on"], off = results["sc-off"];
const sidecarUs = us(on.sidecar, on.reqs);
const proxyUs = us(proxy.proxyCpu, proxy.reqs);
console.log(`3-function chain, ${body.length} B, wrk -t1 -c${connections} -d${seconds}s`);
console.log(
  `sure, sidecar on : ${fmt(on.rps, 0).padStart(7)} req/s  node CPU ${
    fmt(us(on.nodeCpu, on.reqs), 2).padStart(7)
  } us/req  library sidecars ${fmt(sidecarUs * 1000, 1)} ns/req (3 hops)`,
);
console.log(
  `sure, sidecar off: ${fmt(off.rps, 0).padStart(7)} req/s  node CPU ${
    fmt(us(off.nodeCpu, off.reqs), 2).padStart(7)
  } us/req  (difference on-off ${
    fmt(us(on.nodeCpu, on.reqs) - us(off.nodeCpu, off.reqs), 2)
  } us/req: within noise)`,
);
console.log(
  `A: Knative model : ${fmt(proxy.rps, 0).padStart(7)} req/s  all processes ${
    fmt(us(proxy.allCpu, proxy.reqs), 2).padStart(7)
  } us/req  proxy sidecars ${fmt(proxyUs, 2)} us/req (3 proxies)`,
);
console.log(
  `ratio proxy sidecar CPU / library sidecar CPU per request: ${
    fmt(proxyUs / Math.max(sidecarUs, 1e-9), 0)
  }x (target >= 100x)`,
);
