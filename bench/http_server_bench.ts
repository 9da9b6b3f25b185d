// libsure's HTTP server (the data plane's sockets backend) on its own: a
// trivial echo served by the C server (libsure/tests/tool_http_echo.c: every
// /invoke/<name> answered at once with its body, no VM, no dispatcher) next to
// a plain Deno.serve echo (bench/lib/plain_echo.ts), both measured with wrk in
// the same run, alternating C/Deno/C/Deno so that drift hits both alike.
// The C server runs twice, reading its sockets with epoll (the default) and
// with io_uring (SURE_HTTP_IO=io_uring: a recv submitted with the loop's wait
// instead of a recv syscall per request); the ratio io_uring/epoll is printed.
// Needs no KVM.
//   deno run -A bench/http_server_bench.ts [seconds] [connections...]
// Per row: requests/s, p50, p99 and the server's CPU per request: the
// utime+stime of the server process (all its threads, /proc/<pid>/stat) over
// the wrk run, divided by the requests wrk completed, and the part of it in
// user mode ("of it user": the server's own code; the rest is the kernel's,
// which on loopback includes the receiving side's TCP). Each figure is the
// median over the rounds. wrk runs on the same cores (1 thread); its own CPU
// per request is shown too (this process's reaped-children time), and so is
// the machine's irq+softirq time per request (/proc/stat), which Linux charges
// to no process: on loopback much of TCP's receive work runs there.
import { runWrk } from "./lib/wrk.ts";
import {
  type Case,
  clkTck,
  measureAll,
  printSamples,
  run,
  type Sample,
  serverPid,
  sizeName,
  warnOnErrors,
} from "./lib/server_cpu.ts";
import { fmt, freePort, spawn, stop, waitReady } from "./lib/proc.ts";

const root = new URL("../", import.meta.url).pathname;
const toolBin = `${root}libsure/build/tests/tool_http_echo`;
const seconds = Number(Deno.args[0] ?? "5");
const connList = Deno.args.length > 1 ? Deno.args.slice(1).map(Number) : [1, 8, 32, 64];
const ROUNDS = 2;
if (!(seconds > 0) || connList.some((c) => !Number.isInteger(c) || c < 1)) {
  console.error("usage: http_server_bench.ts [seconds] [connections...]");
  Deno.exit(2);
}

const cases: Case[] = [
  ...connList.map((conns) => ({ conns, bodyBytes: 64 })),
  { conns: 32, bodyBytes: 4 << 10 },
  { conns: 32, bodyBytes: 64 << 10 },
];

// The tool is built with the C benchmarks (make -C libsure bench); make is a
// no-op when it is up to date and rebuilds it after a change of the server.
await run("make", ["-s", "-C", "libsure", "tools"]);

const cPort = freePort();
const uPort = freePort();
const dPort = freePort();
const cTool = (port: number, io: "epoll" | "io_uring") =>
  new Deno.Command(toolBin, {
    args: [String(port)],
    cwd: root,
    env: { SURE_HTTP_IO: io },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
const cProc = cTool(cPort, "epoll");
const uProc = cTool(uPort, "io_uring");
const dProc = spawn([
  "run",
  "-A",
  "--quiet",
  new URL("./lib/plain_echo.ts", import.meta.url).pathname,
  String(dPort),
]);

try {
  const cUrl = `http://127.0.0.1:${cPort}/invoke/echo`;
  const uUrl = `http://127.0.0.1:${uPort}/invoke/echo`;
  const dUrl = `http://127.0.0.1:${dPort}/`;
  await waitReady(cUrl);
  await waitReady(uUrl);
  await waitReady(dUrl);
  const cPid = serverPid(cProc.pid, "tool_http_echo");
  const uPid = serverPid(uProc.pid, "tool_http_echo");
  const dPid = serverPid(dProc.pid, "deno");
  for (const url of [cUrl, uUrl, dUrl]) {
    const sent = "0123456789abcdef".repeat(4096);
    const got = await (await fetch(url, { method: "POST", body: sent })).text();
    if (got !== sent) throw new Error(`${url} did not echo (${got.length} bytes back)`);
  }

  // Warm-up: Deno's JIT, both servers' buffers and the kernel's sockets.
  for (const url of [cUrl, uUrl, dUrl]) {
    await runWrk({ url, body: "x".repeat(64), connections: 32, durationSec: 2 });
  }

  const servers = [
    { name: "C sure_http_server", url: cUrl, pid: cPid },
    { name: "Deno.serve", url: dUrl, pid: dPid },
    { name: "C on io_uring", url: uUrl, pid: uPid },
  ];
  const results = await measureAll(servers, cases, ROUNDS, seconds);

  console.log(
    `HTTP echo, C server (libsure) vs Deno.serve, wrk -t1 -d${seconds}s, median of ${ROUNDS} ` +
      `rounds alternating C/Deno/C-io_uring; ${navigator.hardwareConcurrency} cores shared with wrk; ` +
      `CLK_TCK ${clkTck}`,
  );
  printSamples("server", servers, cases, results);
  console.log("ratios C/Deno (throughput: >1 is C faster; cpu/req: <1 is C cheaper)");
  const ratios = (a: Sample, b: Sample) =>
    `throughput ${fmt(a.requestsPerSec / b.requestsPerSec)}x  cpu/req ${
      fmt(a.cpuUsPerReq / b.cpuUsPerReq)
    }x  p50 ${fmt(a.p50Ms / b.p50Ms)}x  p99 ${fmt(a.p99Ms / b.p99Ms)}x`;
  const row = (c: Case) => `c=${String(c.conns).padEnd(3)} body ${sizeName(c.bodyBytes).padEnd(7)}`;
  cases.forEach((c, ci) => console.log(`${row(c)} ${ratios(results[ci][0], results[ci][1])}`));
  console.log("ratios C on io_uring / C on epoll (cpu/req: <1 is io_uring cheaper)");
  cases.forEach((c, ci) => console.log(`${row(c)} ${ratios(results[ci][2], results[ci][0])}`));
  warnOnErrors(results);
} finally {
  await stop(cProc);
  await stop(uProc);
  await stop(dProc);
}
