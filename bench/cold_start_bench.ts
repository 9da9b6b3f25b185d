// Cold requests over HTTP: a function at zero instances, so every measured
// request waits for a new instance. `echo` has no init at all; `primes`
// sieves for ~10 ms in its init (the work a template saves). Three ways,
// in the same run:
//   sure clone  - a copy-on-write clone of the function's template (the default)
//   sure boot   - the same function deployed with coldStart "boot": a fresh VM
//   process     - a `deno run` HTTP server spawned for the request (the
//                 container-less analogue of a cold container)
// Then the instance creation rate through the admin API (scale 0 -> 100).
//   deno run -A bench/cold_start_bench.ts [runs]
import { buildFunction } from "../runtime/builder/compile.ts";
import { deno, fmt, freePort } from "./lib/proc.ts";
import { deploy, idle, invokeOnce, scaleTo, startBenchNode } from "./lib/node.ts";
import { percentile } from "./lib/wrk.ts";

const runs = Number(Deno.args[0] ?? "100");
const procRuns = Math.max(5, Math.floor(runs / 5));
const root = new URL("../", import.meta.url).pathname;
const image = async (fn: string) =>
  await Deno.readFile((await buildFunction(`${root}functions/${fn}`)).image);
const FUNCTIONS = [
  { fn: "echo", body: "hello", expect: "hello" },
  { fn: "primes", body: "1000000", expect: "1000000 is not prime; primes up to 1000000: 78498\n" },
];
const plainEcho = new URL("./lib/plain_echo.ts", import.meta.url).pathname;

/** Scale to zero (not timed), then time one request end to end. */
async function coldRequest(
  url: string,
  name: string,
  body: string,
  expect: string,
  idleMs = 5,
) {
  await scaleTo(url, name, 0);
  await idle(idleMs); // a cold start follows idle time, not the previous instance's teardown
  const t0 = performance.now();
  await invokeOnce(url, name, body, expect);
  return performance.now() - t0;
}

/** Spawn a Deno HTTP server, wait until it accepts, send the request, stop it. */
async function processColdRequest(): Promise<number> {
  const port = freePort();
  const t0 = performance.now();
  const child = new Deno.Command(deno, {
    args: ["run", "--allow-net", "--quiet", plainEcho, String(port)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  const r = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "hello" });
  if ((await r.text()) !== "hello") throw new Error("process echo answered wrong");
  const ms = performance.now() - t0;
  child.kill("SIGKILL");
  await child.status;
  return ms;
}

async function measure(n: number, fn: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up: JIT, first connections
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await fn());
  return ms.sort((a, b) => a - b);
}

const row = (name: string, v: number[]) =>
  `${name.padEnd(44)} p50 ${fmt(percentile(v, 50), 3).padStart(8)} ms  p99 ${
    fmt(percentile(v, 99), 3).padStart(8)
  } ms  (${v.length} runs)`;
const p50 = (v: number[]) => percentile(v, 50);

const node = await startBenchNode();
try {
  const proc = await measure(procRuns, processColdRequest);
  console.log("cold request over HTTP: function at zero instances -> answer");
  for (const { fn, body, expect } of FUNCTIONS) {
    const img = await image(fn);
    const settings = { memory: 16, maxInstances: 100 };
    await deploy(node.url, fn, img, settings);
    await deploy(node.url, `${fn}-boot`, img, { ...settings, coldStart: "boot" });
    const clone = await measure(runs, () => coldRequest(node.url, fn, body, expect));
    const boot = await measure(runs, () => coldRequest(node.url, `${fn}-boot`, body, expect));
    // After the machine had time to go idle (CPU wake-up included).
    const sleepy = await measure(
      Math.max(5, Math.floor(runs / 5)),
      () => coldRequest(node.url, fn, body, expect, 200),
    );
    // Warm, for scale: the same request to an instance that is already up.
    await scaleTo(node.url, fn, 1);
    const warm = await measure(runs, async () => {
      const t0 = performance.now();
      await invokeOnce(node.url, fn, body, expect);
      return performance.now() - t0;
    });
    console.log(`-- ${fn}`);
    console.log(row("sure: clone of the template (default)", clone));
    console.log(row("sure: clone, after 200 ms of idle machine", sleepy));
    console.log(row("baseline a: sure fresh VM boot, no template", boot));
    console.log(row("(for scale) warm request, instance up", warm));
    console.log(
      `ratio ${fn} clone/boot p50 ${fmt(p50(clone) / p50(boot))}x, clone/process p50 ${
        fmt(p50(clone) / p50(proc), 3)
      }x; target clone p50 <= 3 ms`,
    );
  }
  console.log(row("baseline b: deno run HTTP echo server spawned", proc));

  // Creation rate: 0 -> 100 instances in one scale call.
  for (const name of ["echo", "echo-boot", "primes", "primes-boot"]) {
    await scaleTo(node.url, name, 0);
    const t0 = performance.now();
    await scaleTo(node.url, name, 100);
    const s = (performance.now() - t0) / 1000;
    console.log(
      `creation rate ${name.padEnd(11)}: 100 instances in ${fmt(s * 1000, 0).padStart(5)} ms = ${
        fmt(100 / s, 0).padStart(5)
      } instances/s`,
    );
    await scaleTo(node.url, name, 0);
  }
} finally {
  await node.close();
}
