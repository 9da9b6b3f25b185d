// Fresh instance start: a new KVM VM from the `echo` image until the function
// is ready to serve (init done), and until its first answer, next to the
// cheapest fresh process start (spawn /bin/true and wait for it) in the same run.
//   deno run -A bench/instance_start_bench.ts [count]
import { Instance } from "../ffi/mod.ts";
import { buildFunction } from "../runtime/builder/compile.ts";
import { fmt } from "./lib/proc.ts";
import { percentile } from "./lib/wrk.ts";

const count = Number(Deno.args[0] ?? "200");
const root = new URL("../", import.meta.url).pathname;
const built = await buildFunction(`${root}functions/echo`);
const image = await Deno.readFile(built.image);
const opts = { memMib: built.manifest.memory, ioCap: built.manifest.maxBody };
const hello = new TextEncoder().encode("hello");

/** Runs fn count times after a warm-up; fn returns the milliseconds it measured. */
async function measure(fn: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < count; i++) ms.push(await fn());
  return ms.sort((a, b) => a - b);
}

const destroyMs: number[] = [];
const toReady = await measure(async () => {
  const t0 = performance.now();
  const inst = await Instance.create(image, opts);
  const t1 = performance.now();
  await inst.destroy(); // teardown runs on Deno's blocking thread pool: time until it is done
  destroyMs.push(performance.now() - t1);
  return t1 - t0;
});
const toFirstAnswer = await measure(async () => {
  const t0 = performance.now();
  const inst = await Instance.create(image, opts);
  const r = await inst.invoke(hello, 1000);
  const t1 = performance.now();
  if (r.body.byteLength !== hello.byteLength) throw new Error("echo answered wrong");
  await inst.destroy();
  return t1 - t0;
});
const proc = await measure(async () => {
  const t0 = performance.now();
  const out = await new Deno.Command("/bin/true").output();
  if (!out.success) throw new Error("/bin/true failed");
  return performance.now() - t0;
});
destroyMs.sort((a, b) => a - b);

const row = (name: string, v: number[]) =>
  `${name.padEnd(44)} p50 ${fmt(percentile(v, 50), 3)} ms  p99 ${fmt(percentile(v, 99), 3)} ms`;
console.log(`fresh instance start, ${count} runs each (a full VM boot: no template yet)`);
console.log(row("sure VM create -> ready to serve", toReady));
console.log(row("sure VM create -> first answer", toFirstAnswer));
console.log(row("sure VM destroy", destroyMs));
console.log(row("baseline: spawn /bin/true -> exit", proc));
console.log(
  `ratio sure ready / process spawn: p50 ${
    fmt(percentile(toReady, 50) / percentile(proc, 50))
  }x, p99 ${fmt(percentile(toReady, 99) / percentile(proc, 99))}x`,
);
