// Warm invoke of the `echo` function over HTTP, measured with wrk, next to a
// plain Deno.serve handler doing the same work in-process, in the same run:
// the node with libsure's data plane in front (--dataplane sockets: /invoke
// never enters JavaScript) and with the Hono gateway (--dataplane hono);
// and the data plane once more with one request per instance at a time
// (SURE_IO_SLOTS=1: no request queue), alternating with the default.
//   npm run bench            (all benchmarks)
//   deno run -A bench/invoke_echo_bench.ts [seconds] [connections]
import { runWrk, type WrkResult } from "./lib/wrk.ts";
import { fmt, freePort, mainTs, spawn, stop, waitReady } from "./lib/proc.ts";
import { cpuSecondsOf, guestCpuSecondsOf, hostCpuSecondsOf } from "./lib/node.ts";

const seconds = Number(Deno.args[0] ?? "5");
const connections = Number(Deno.args[1] ?? "16");
const body = "hello";

const dataDir = await Deno.makeTempDir({ prefix: "sure-bench-" });
const dataDir2 = await Deno.makeTempDir({ prefix: "sure-bench-" });
const dataDir3 = await Deno.makeTempDir({ prefix: "sure-bench-" });
const nodePort = freePort();
const oneSlotPort = freePort();
const honoPort = freePort();
const basePort = freePort();
const nodeArgs = (port: number, dir: string, dataplane: string) => [
  "run",
  "-A",
  "--quiet",
  mainTs,
  "dev",
  "--port",
  String(port),
  "--data-dir",
  dir,
  "--dataplane",
  dataplane,
];
const node = spawn(nodeArgs(nodePort, dataDir, "sockets"));
const hono = spawn(nodeArgs(honoPort, dataDir2, "hono"));
const oneSlot = spawn(nodeArgs(oneSlotPort, dataDir3, "sockets"), { SURE_IO_SLOTS: "1" });
const base = spawn([
  "run",
  "-A",
  "--quiet",
  new URL("./lib/plain_echo.ts", import.meta.url).pathname,
  String(basePort),
]);

try {
  const sureUrl = `http://127.0.0.1:${nodePort}/invoke/echo`;
  const honoUrl = `http://127.0.0.1:${honoPort}/invoke/echo`;
  const baseUrl = `http://127.0.0.1:${basePort}/`;
  const oneSlotUrl = `http://127.0.0.1:${oneSlotPort}/invoke/echo`;
  await waitReady(oneSlotUrl);
  await waitReady(sureUrl);
  await waitReady(honoUrl);
  await waitReady(baseUrl);
  const check = await (await fetch(sureUrl, { method: "POST", body })).text();
  if (check !== body) throw new Error(`echo answered ${JSON.stringify(check)}`);

  const opts = { body, threads: 1, connections, durationSec: seconds };
  // Short warm-up of both so that neither pays JIT or first-instance costs.
  await runWrk({ ...opts, url: sureUrl, durationSec: 1 });
  await runWrk({ ...opts, url: honoUrl, durationSec: 1 });
  await runWrk({ ...opts, url: baseUrl, durationSec: 1 });
  await runWrk({ ...opts, url: oneSlotUrl, durationSec: 1 });
  // CPU per request: the node's outside its guests (and its guests'), the plain server's all of it.
  const measured = async (pid: number, url: string) => {
    const host0 = hostCpuSecondsOf(pid), guest0 = guestCpuSecondsOf(pid);
    const r = await runWrk({ ...opts, url });
    const per = (s: number) => (s / Math.max(1, r.requests)) * 1e6;
    return {
      r,
      nodeUs: per(hostCpuSecondsOf(pid) - host0),
      guestUs: per(guestCpuSecondsOf(pid) - guest0),
    };
  };
  // The request queue against one request per instance, alternated: A B A B.
  const queued = [await measured(node.pid, sureUrl)];
  const single = [await measured(oneSlot.pid, oneSlotUrl)];
  queued.push(await measured(node.pid, sureUrl));
  single.push(await measured(oneSlot.pid, oneSlotUrl));
  const sure = queued[1].r;
  const nodeUs = queued[1].nodeUs;
  const viaHono = await runWrk({ ...opts, url: honoUrl });
  const plain0 = cpuSecondsOf(base.pid);
  const plain = await runWrk({ ...opts, url: baseUrl });
  const plainUs = ((cpuSecondsOf(base.pid) - plain0) / Math.max(1, plain.requests)) * 1e6;
  // The same with 20 request headers more (browser-like sizes): each one is
  // copied into the function's request head block.
  const headers = Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => [`x-bench-header-${i}`, `value-${i}-`.repeat(4)]),
  );
  const sure20 = await runWrk({ ...opts, url: sureUrl, headers });
  const plain20 = await runWrk({ ...opts, url: baseUrl, headers });

  const row = (name: string, r: WrkResult) =>
    `${name.padEnd(28)} ${fmt(r.requestsPerSec, 0).padStart(9)} req/s  p50 ${
      fmt(r.p50Ms, 3)
    } ms  p99 ${fmt(r.p99Ms, 3)} ms  errors ${r.errors}`;
  console.log(`warm invoke, body ${body.length} B, wrk -t1 -c${connections} -d${seconds}s`);
  console.log(row("sure, data plane in C", sure));
  console.log(row("sure, Hono gateway", viaHono));
  for (const [k, q] of queued.entries()) {
    const o = single[k];
    console.log(row(`sure, request queue (${k + 1})`, q.r));
    console.log(row(`sure, one slot (${k + 1})`, o.r));
    console.log(
      `  ratio queue/one slot: throughput ${fmt(q.r.requestsPerSec / o.r.requestsPerSec)}x; ` +
        `per request: node ${fmt(q.nodeUs, 1)} vs ${fmt(o.nodeUs, 1)} us, ` +
        `guests ${fmt(q.guestUs, 1)} vs ${fmt(o.guestUs, 1)} us`,
    );
  }
  console.log(row("plain Deno.serve echo", plain));
  console.log(row("sure, 20 request headers", sure20));
  console.log(row("plain, 20 request headers", plain20));
  console.log(
    `ratio C data plane / Hono gateway: throughput ${
      fmt(sure.requestsPerSec / viaHono.requestsPerSec)
    }x, p50 ${fmt(sure.p50Ms / viaHono.p50Ms)}x`,
  );
  console.log(
    `ratio sure/plain: throughput ${fmt(sure.requestsPerSec / plain.requestsPerSec)}x, p50 ${
      fmt(sure.p50Ms / plain.p50Ms)
    }x, p99 ${fmt(sure.p99Ms / plain.p99Ms)}x`,
  );
  console.log(
    `CPU per request: the node outside its guests ${fmt(nodeUs, 1)} us (target <= 5 us), ` +
      `plain Deno.serve ${fmt(plainUs, 1)} us: ${fmt(nodeUs / plainUs)}x`,
  );
  // How many instances the runs left: admission starts only those that serve sooner.
  const token = (await Deno.readTextFile(`${dataDir}/admin.token`)).trim();
  const inst = await fetch(`http://127.0.0.1:${nodePort}/admin/functions/echo/instances`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const st = await inst.json();
  console.log(
    `instances of echo after the runs: ${st.instances?.length} (peak ${st.peakInstances}, ` +
      `maxInstances ${st.maxInstances})`,
  );
  // Time per request at c connections = c / throughput; the headers' cost is the difference.
  const us = (r: WrkResult) => 1e6 / r.requestsPerSec;
  console.log(
    `20 request headers: sure +${fmt(us(sure20) - us(sure), 1)} us/request (throughput ${
      fmt(sure20.requestsPerSec / sure.requestsPerSec)
    }x), plain +${fmt(us(plain20) - us(plain), 1)} us/request (${
      fmt(plain20.requestsPerSec / plain.requestsPerSec)
    }x)`,
  );
} finally {
  await stop(node);
  await stop(hono);
  await stop(base);
  await stop(oneSlot);
  await Deno.remove(dataDir, { recursive: true });
  await Deno.remove(dataDir2, { recursive: true });
  await Deno.remove(dataDir3, { recursive: true });
}
