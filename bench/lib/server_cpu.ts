// What a server costs per request under wrk: its CPU (all its threads, from
// /proc/<pid>/stat), wrk's own (reaped children), and the machine's irq and
// softirq time, which Linux charges to no process. Shared by the benchmarks
// of servers (http_server_bench.ts, zstack_bench.ts).
import { fmt } from "./proc.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

const root = new URL("../../", import.meta.url).pathname;

export async function run(cmd: string, args: string[], cwd = root): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout);
}

export const clkTck = Number((await run("getconf", ["CLK_TCK"])).trim());
if (!(clkTck > 0)) throw new Error("getconf CLK_TCK gave no number");

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces);
 * index 0 is field 3 (state). */
function statFields(pid: number | "self"): string[] {
  const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}
/** utime and stime of a process, all its threads, in clock ticks: the time in
 * its own code (and libc's) and the time the kernel spent on its behalf
 * (syscalls: on loopback a send also runs the receiver's TCP work). */
function cpuTicks(pid: number): { user: number; sys: number } {
  const f = statFields(pid);
  return { user: Number(f[11]), sys: Number(f[12]) }; // fields 14 and 15
}
/** cutime + cstime of this process: the CPU of the children it has reaped
 * (here: each wrk, once its run is over). */
function childTicks(): number {
  const f = statFields("self");
  return Number(f[13]) + Number(f[14]); // fields 16 and 17
}

/** irq + softirq time of the whole machine, in clock ticks (/proc/stat). */
function irqTicks(): number {
  const cpu = Deno.readTextFileSync("/proc/stat").split("\n")[0].split(/\s+/);
  return Number(cpu[6]) + Number(cpu[7]);
}

function exeName(pid: number): string {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`).split("/").pop() ?? "";
  } catch {
    return "";
  }
}
function children(pid: number): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}
/** The pid of the process that runs the server: pid itself when it is the
 * expected executable, else its first descendant that is (a wrapper such as a
 * launcher script would otherwise be measured instead of the server). */
export function serverPid(pid: number, exe: string): number {
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    if (exeName(p) === exe) return p;
    queue.push(...children(p));
  }
  throw new Error(`no ${exe} process under pid ${pid}`);
}

export interface Sample extends WrkResult {
  cpuUsPerReq: number;
  /** The part of cpuUsPerReq spent in user mode: the server's own code. */
  userUsPerReq: number;
  wrkUsPerReq: number;
  irqUsPerReq: number;
}

export interface Case {
  conns: number;
  bodyBytes: number;
}

export async function measure(
  url: string,
  pid: number,
  c: Case,
  seconds: number,
  netns?: string,
): Promise<Sample> {
  const body = "x".repeat(c.bodyBytes);
  const cpu0 = cpuTicks(pid), kids0 = childTicks(), irq0 = irqTicks();
  const r = await runWrk({
    url,
    body,
    threads: 1,
    connections: c.conns,
    durationSec: seconds,
    ...(netns ? { netns } : {}),
  });
  const cpu1 = cpuTicks(pid), kids1 = childTicks(), irq1 = irqTicks();
  const us = (ticks: number) => ticks * 1e6 / clkTck / Math.max(1, r.requests);
  return {
    ...r,
    cpuUsPerReq: us(cpu1.user + cpu1.sys - cpu0.user - cpu0.sys),
    userUsPerReq: us(cpu1.user - cpu0.user),
    wrkUsPerReq: us(kids1 - kids0),
    irqUsPerReq: us(irq1 - irq0),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function mid(samples: Sample[]): Sample {
  const k = (f: (s: Sample) => number) => median(samples.map(f));
  return {
    requestsPerSec: k((s) => s.requestsPerSec),
    p50Ms: k((s) => s.p50Ms),
    p99Ms: k((s) => s.p99Ms),
    requests: k((s) => s.requests),
    errors: samples.reduce((a, s) => a + s.errors, 0),
    cpuUsPerReq: k((s) => s.cpuUsPerReq),
    userUsPerReq: k((s) => s.userUsPerReq),
    wrkUsPerReq: k((s) => s.wrkUsPerReq),
    irqUsPerReq: k((s) => s.irqUsPerReq),
  };
}

export function sizeName(n: number): string {
  return n >= 1024 ? `${n >> 10} KiB` : `${n} B`;
}

/** A server under measure: its name in the table, the URL wrk loads, the pid whose CPU counts. */
export interface Target {
  name: string;
  url: string;
  pid: number;
}

/** Every case on every target, `rounds` times, alternating targets so that drift hits all
 * alike; the median per case and target ([case][target]). */
export async function measureAll(
  targets: Target[],
  cases: Case[],
  rounds: number,
  seconds: number,
  netns?: string,
): Promise<Sample[][]> {
  const results: Sample[][] = [];
  for (const c of cases) {
    const runs: Sample[][] = targets.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        runs[i].push(await measure(targets[i].url, targets[i].pid, c, seconds, netns));
      }
    }
    results.push(runs.map(mid));
  }
  return results;
}

/** The table: one row per case and target. */
export function printSamples(
  first: string,
  targets: { name: string }[],
  cases: Case[],
  results: Sample[][],
): void {
  // Columns: [title, width]; the first is left-aligned.
  const cols: [string, number][] = [
    [first, Math.max(first.length, ...targets.map((t) => t.name.length))],
    ["conns", 5],
    ["body", 7],
    ["req/s", 9],
    ["p50 ms", 8],
    ["p99 ms", 8],
    ["cpu us/req", 10],
    ["of it user", 10],
    ["wrk us/req", 10],
    ["irq us/req", 10],
    ["errors", 6],
  ];
  const line = (cells: string[]) =>
    cells.map((v, i) => i ? v.padStart(cols[i][1]) : v.padEnd(cols[i][1])).join(" ");
  console.log(line(cols.map(([t]) => t)));
  cases.forEach((c, ci) =>
    targets.forEach((t, ti) => {
      const r = results[ci][ti];
      console.log(line([
        t.name,
        String(c.conns),
        sizeName(c.bodyBytes),
        fmt(r.requestsPerSec, 0),
        fmt(r.p50Ms, 3),
        fmt(r.p99Ms, 3),
        fmt(r.cpuUsPerReq, 1),
        fmt(r.userUsPerReq, 2),
        fmt(r.wrkUsPerReq, 1),
        fmt(r.irqUsPerReq, 1),
        String(r.errors),
      ]));
    })
  );
}

/** Says when some requests failed: those rows are suspect. */
export function warnOnErrors(results: Sample[][]): void {
  if (results.some((r) => r.some((s) => s.errors > 0))) {
    console.log("warning: some requests failed (errors column): those rows are suspect");
  }
}
