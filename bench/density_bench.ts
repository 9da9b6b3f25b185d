// Density: how many idle instances one node holds and what each costs.
// Scales `primes` (8 MiB guests whose init builds ~0.8 MiB of tables) to
// 250, 500, 750 and 1000 idle clones through the admin API and reports, at
// each level: the time the step took (creation rate), host memory per idle
// instance, and a warm request's latency (per-VM costs grow with the VMs in
// one process). Then the node's CPU while they idle. Baselines in the same
// run: the same function as fresh boots (coldStart "boot", nothing shared)
// and idle `deno run` HTTP servers (a process per instance).
//
// Memory per instance is the growth of the kernel's own accounting of what
// a VM can hold (anonymous and shmem pages, slab, kernel stacks, page
// tables, KVM's secondary page tables, vmalloc, per-cpu): MemAvailable is
// printed too, but it lags behind frees (RCU, lazy vmalloc purge) and so
// depends on what ran before.
//   deno run -A bench/density_bench.ts [max]
import { buildFunction } from "../runtime/builder/compile.ts";
import { deno, fmt, freePort } from "./lib/proc.ts";
import {
  cpuSecondsOf,
  deploy,
  idle,
  invokeOnce,
  memAvailable,
  rssOf,
  scaleTo,
  startBenchNode,
} from "./lib/node.ts";
import { percentile } from "./lib/wrk.ts";

const max = Number(Deno.args[0] ?? "1000");
const root = new URL("../", import.meta.url).pathname;
const FN = "primes";
const BODY = "1000000";
const EXPECT = "1000000 is not prime; primes up to 1000000: 78498\n";
const image = await Deno.readFile((await buildFunction(`${root}functions/${FN}`)).image);
const settings = { memory: 8, maxBody: 4096, maxInstances: max, idleTimeout: 3600000 };
const KiB = 1024;

/** Bytes the kernel accounts to what VMs and their host mappings can hold. */
function accounted(): number {
  const text = Deno.readTextFileSync("/proc/meminfo");
  let kib = 0;
  for (
    const key of [
      "AnonPages",
      "Shmem",
      "Slab",
      "KernelStack",
      "PageTables",
      "SecPageTables",
      "VmallocUsed",
      "Percpu",
    ]
  ) {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
    if (m) kib += Number(m[1]);
  }
  return kib * 1024;
}

const settle = () => new Promise((r) => setTimeout(r, 300));

async function warmLatency(url: string, name: string): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    await invokeOnce(url, name, BODY, EXPECT);
    ms.push(performance.now() - t0);
  }
  return percentile(ms.sort((a, b) => a - b).slice(10), 50);
}

/** Scales name up in steps; per step: ms, memory per instance, warm p50. */
async function climb(url: string, pid: number, name: string, steps: number[]) {
  await scaleTo(url, name, 1);
  await invokeOnce(url, name, BODY, EXPECT);
  await scaleTo(url, name, 0);
  await settle();
  const mem0 = memAvailable(), rss0 = rssOf(pid), acc0 = accounted();
  const rows = [];
  let have = 0;
  for (const n of steps) {
    const t0 = performance.now();
    await scaleTo(url, name, n);
    const ms = performance.now() - t0;
    await settle();
    rows.push({
      n,
      perSec: ((n - have) / ms) * 1000,
      memPer: (mem0 - memAvailable()) / n,
      accPer: (accounted() - acc0) / n,
      rssPer: (rssOf(pid) - rss0) / n,
      warmMs: await warmLatency(url, name),
    });
    have = n;
  }
  return rows;
}

/** Memory per idle `deno run` HTTP server: the process-per-instance baseline. */
async function processBaseline(count: number): Promise<number> {
  const acc0 = accounted();
  const kids = [];
  for (let i = 0; i < count; i++) {
    const port = freePort();
    kids.push(
      new Deno.Command(deno, {
        args: ["run", "--allow-net", "--quiet", `${root}bench/lib/plain_echo.ts`, String(port)],
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
    for (;;) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  await settle();
  const per = (accounted() - acc0) / count;
  for (const k of kids) k.kill("SIGKILL");
  await Promise.all(kids.map((k) => k.status));
  return per;
}

const steps = [250, 500, 750, 1000].filter((n) => n <= max);
// First, before any VM exists, so that no frees are still pending.
const procPer = await processBaseline(10);
console.log(
  `baseline: idle deno HTTP server process: ${fmt(procPer / KiB, 0)} KiB each (10 started)`,
);
const node = await startBenchNode();
try {
  await deploy(node.url, FN, image, settings);
  await deploy(node.url, `${FN}-boot`, image, { ...settings, coldStart: "boot" });
  const header =
    "instances  step ms/inst  inst/s   KiB/inst  (MemAvailable KiB/inst)  node RSS KiB/inst  warm p50 ms";
  const print = (rows: Awaited<ReturnType<typeof climb>>) => {
    console.log(header);
    for (const r of rows) {
      console.log(
        `${String(r.n).padStart(9)}  ${fmt(1000 / r.perSec, 3).padStart(12)}  ${
          fmt(r.perSec, 0).padStart(6)
        }   ${fmt(r.accPer / KiB, 0).padStart(8)}  ${fmt(r.memPer / KiB, 0).padStart(23)}  ${
          fmt(r.rssPer / KiB, 0).padStart(17)
        }  ${fmt(r.warmMs, 3).padStart(11)}`,
      );
    }
  };
  console.log(`idle instances of ${FN} (8 MiB guests), clones of its template, up to ${max}:`);
  const clones = await climb(node.url, node.pid, FN, steps);
  print(clones);
  const cpu0 = cpuSecondsOf(node.pid);
  await new Promise((r) => setTimeout(r, 3000));
  const idleCpu = (cpuSecondsOf(node.pid) - cpu0) / 3;
  console.log(
    `node CPU while ${clones.at(-1)!.n} instances idle: ${fmt(idleCpu * 100, 2)}% of one core`,
  );
  // Does the crowd slow a cold start down? echo at zero instances, next to the idle ones.
  const echoImg = await Deno.readFile((await buildFunction(`${root}functions/echo`)).image);
  await deploy(node.url, "echo", echoImg, { memory: 8, maxBody: 4096 });
  const cold: number[] = [];
  for (let i = 0; i < 23; i++) {
    await scaleTo(node.url, "echo", 0);
    await idle(); // a cold start follows idle time, not the previous instance's teardown
    const t0 = performance.now();
    await invokeOnce(node.url, "echo", "hello");
    if (i >= 3) cold.push(performance.now() - t0);
  }
  cold.sort((a, b) => a - b);
  console.log(
    `cold request to another function with ${clones.at(-1)!.n} instances idle: p50 ${
      fmt(percentile(cold, 50), 3)
    } ms, p99 ${fmt(percentile(cold, 99), 3)} ms (target p50 <= 3 ms)`,
  );
  await scaleTo(node.url, FN, 0);
  await settle();

  console.log("baseline: fresh boots (coldStart boot, nothing shared):");
  const boots = await climb(node.url, node.pid, `${FN}-boot`, [250]);
  print(boots);
  await scaleTo(node.url, `${FN}-boot`, 0);
  const last = clones.at(-1)!;
  console.log(
    `ratios at ${last.n}: memory per idle instance clone/boot ${
      fmt(last.accPer / boots[0].accPer)
    }x, clone/process ${fmt(last.accPer / procPer, 3)}x; target <= 1024 KiB per idle instance ` +
      `(measured ${fmt(last.accPer / KiB, 0)} KiB; MemAvailable says ${
        fmt(last.memPer / KiB, 0)
      } KiB)`,
  );
} finally {
  await node.close();
}
