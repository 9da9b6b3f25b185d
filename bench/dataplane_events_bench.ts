// What the control plane costs per request: libsure's data plane answers in
// C and the node's control plane (runtime/dataplane/link.ts) reads what
// happened in batches, feeding the metrics and the request log. This measures
// the node's CPU per request outside any guest, with the real link and
// observers, split into the data-plane thread and the rest of the process
// (the JavaScript side: the event reads, the metrics, the request log):
//   - events read as they come (linger 0: the node before this bench), and
//     gathered while the node is busy (linger 5 ms: the default);
//   - with the request log off (SURE_REQUEST_LOG=0), on as the control
//     plane writes it (a node with another logger), and on as libsure
//     writes it (dp_reqlog.c: what a node logging to its console does);
//   - with the answers folded in C (DataplaneLink.foldAnswers: one event per
//     kind of answer per batch, what a node does unless the control plane
//     writes the request log), with the request log off and written by libsure;
//   - against libsure's HTTP server alone (tool_http_echo) in the same run.
// The route is a function with no instance that may not start one and has no
// queue, so C answers each request at once (503 overloaded) and reports it:
// no VM is involved, so this runs on any machine. Rounds alternate the rows.
//
//   deno run -A bench/dataplane_events_bench.ts [rounds=3] [seconds=3] [conns=32]
import { consoleLogger } from "../runtime/log.ts";
import { NodeMetrics } from "../runtime/metrics/metrics.ts";
import { requestMetrics } from "../runtime/middleware/metrics.ts";
import { requestLog } from "../runtime/middleware/request_log.ts";
import { linkAnsweredInC } from "./lib/c_answered.ts";
import { deno, fmt, freePort, stop } from "./lib/proc.ts";
import { clkTck, median, run } from "./lib/server_cpu.ts";
import { runWrk } from "./lib/wrk.ts";

const root = new URL("../", import.meta.url).pathname;
const here = new URL(import.meta.url).pathname;

/**
 * The node side, in a process of its own: `--serve PORT LINGER LOG [fold]`,
 * LOG 0: no request log, 1: written by the control plane, c: written by
 * libsure; fold: answers folded in C.
 */
function serve(port: number, lingerMs: number, log: string, fold: boolean): void {
  const link = linkAnsweredInC("x", { port, eventLingerMs: lingerMs });
  const metrics = new NodeMetrics();
  link.observe(requestMetrics(metrics));
  if (fold) link.foldAnswers(metrics.duration.bounds);
  if (log !== "0") link.logRequests(requestLog(consoleLogger), log === "c");
  // Count the reads of events (one wake-up of this side each).
  const dp = link.dp;
  const events = dp.events.bind(dp);
  let reads = 0, got = 0;
  dp.events = async (t: number, l?: number, ids?: boolean) => {
    const batch = await events(t, l, ids);
    reads++;
    // Answers, not events: a folded event stands for count of them.
    for (const e of batch) got += e.kind === "done" ? e.count : 1;
    return batch;
  };
  link.listen();
  Deno.addSignalListener("SIGTERM", async () => {
    await link.close(100);
    Deno.writeTextFileSync(`/tmp/sure-bench-events-${port}.json`, JSON.stringify({ reads, got }));
    Deno.exit(0);
  });
}

interface Row {
  name: string;
  reqPerSec: number;
  cpuUs: number;
  dpUs: number;
  restUs: number;
  perRead: number;
}

function ticks(pid: number, task?: string): number {
  const s = Deno.readTextFileSync(task ? `/proc/${pid}/task/${task}/stat` : `/proc/${pid}/stat`);
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}
function thread(pid: number, name: string): string | undefined {
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      if (Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim() === name) return t.name;
    } catch {
      // gone
    }
  }
  return undefined;
}

async function ready(port: number, child: Deno.ChildProcess, what: string): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 300 && !exited; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/invoke/x`, { method: "POST", body: "w" });
      await r.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not start on port ${port}`);
}

async function measure(
  name: string,
  args: string[],
  seconds: number,
  conns: number,
  dpThread: string | null,
): Promise<Row> {
  const port = freePort();
  const cmd = dpThread ? deno : `${root}libsure/build/tests/tool_http_echo`;
  const child = new Deno.Command(cmd, {
    args: dpThread ? ["run", "-A", here, "--serve", String(port), ...args] : [String(port)],
    cwd: root,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await ready(port, child, name);
    // Warm up (JIT, connections), then measure.
    await runWrk({
      url: `http://127.0.0.1:${port}/invoke/x`,
      body: "x".repeat(64),
      threads: 1,
      connections: conns,
      durationSec: 1,
    });
    const tid = dpThread ? thread(child.pid, dpThread) : undefined;
    const c0 = ticks(child.pid), d0 = tid ? ticks(child.pid, tid) : 0;
    const r = await runWrk({
      url: `http://127.0.0.1:${port}/invoke/x`,
      body: "x".repeat(64),
      threads: 1,
      connections: conns,
      durationSec: seconds,
    });
    const c1 = ticks(child.pid), d1 = tid ? ticks(child.pid, tid) : 0;
    const us = (t: number) => t * 1e6 / clkTck / Math.max(1, r.requests);
    await stop(child);
    let perRead = NaN;
    if (dpThread) {
      const f = `/tmp/sure-bench-events-${port}.json`;
      const { reads, got } = JSON.parse(Deno.readTextFileSync(f));
      Deno.removeSync(f);
      perRead = got / Math.max(1, reads);
    }
    return {
      name,
      reqPerSec: r.requestsPerSec,
      cpuUs: us(c1 - c0),
      dpUs: tid ? us(d1 - d0) : us(c1 - c0),
      restUs: tid ? us(c1 - c0 - (d1 - d0)) : 0,
      perRead,
    };
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const rounds = Number(Deno.args[0] ?? 3);
  const seconds = Number(Deno.args[1] ?? 3);
  const conns = Number(Deno.args[2] ?? 32);
  await run("make", ["-s", "-C", "libsure", "host", "tools"]);
  const cases: [string, string[], string | null][] = [
    ["C server alone (tool_http_echo)", [], null],
    ["node, events as they come", ["0", "0"], "sure-dataplane"],
    ["node, events gathered 5 ms", ["5", "0"], "sure-dataplane"],
    ["node + request log, as they come", ["0", "1"], "sure-dataplane"],
    ["node + request log, gathered 5 ms", ["5", "1"], "sure-dataplane"],
    ["node + request log in C, gathered", ["5", "c"], "sure-dataplane"],
    ["node, gathered and folded", ["5", "0", "fold"], "sure-dataplane"],
    ["node + log in C, gathered, folded", ["5", "c", "fold"], "sure-dataplane"],
  ];
  const runs: Row[][] = cases.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const [name, args, dpThread] = cases[i];
      runs[i].push(await measure(name, args, seconds, conns, dpThread));
    }
  }
  const mid = (rs: Row[]): Row => ({
    name: rs[0].name,
    reqPerSec: median(rs.map((r) => r.reqPerSec)),
    cpuUs: median(rs.map((r) => r.cpuUs)),
    dpUs: median(rs.map((r) => r.dpUs)),
    restUs: median(rs.map((r) => r.restUs)),
    perRead: median(rs.map((r) => r.perRead)),
  });
  const rows = runs.map(mid);
  console.log(
    `wrk -t1 -c${conns}, 64 B POST, ${seconds} s, median of ${rounds} alternating rounds; ` +
      "CPU per request of the serving process (utime+stime)",
  );
  console.log(
    "server".padEnd(36) + "req/s".padStart(9) + "cpu us/req".padStart(12) +
      "dp thread".padStart(11) + "the rest".padStart(10) + "answers/read".padStart(13),
  );
  for (const r of rows) {
    console.log(
      r.name.padEnd(36) + fmt(r.reqPerSec, 0).padStart(9) + fmt(r.cpuUs).padStart(12) +
        fmt(r.dpUs).padStart(11) + (r.restUs ? fmt(r.restUs) : "-").padStart(10) +
        (Number.isNaN(r.perRead) ? "-" : fmt(r.perRead, 1)).padStart(13),
    );
  }
  const [alone, asCome, gathered, logCome, logGathered, logInC, folded, logInCFolded] = rows;
  console.log("ratios (gathered / as they come):");
  console.log(
    `  control plane us/req: ${fmt(gathered.restUs / asCome.restUs)}x without the request log, ` +
      `${fmt(logGathered.restUs / logCome.restUs)}x with it`,
  );
  console.log(
    `  node cpu us/req: ${fmt(gathered.cpuUs / asCome.cpuUs)}x, ${
      fmt(logGathered.cpuUs / logCome.cpuUs)
    }x; throughput ${fmt(gathered.reqPerSec / asCome.reqPerSec)}x, ${
      fmt(logGathered.reqPerSec / logCome.reqPerSec)
    }x`,
  );
  console.log(
    `node cpu / C server alone: ${fmt(asCome.cpuUs / alone.cpuUs)}x as they come, ${
      fmt(gathered.cpuUs / alone.cpuUs)
    }x gathered (request log off)`,
  );
  console.log(
    `request log written by libsure / by the control plane (gathered): control plane us/req ${
      fmt(logInC.restUs / logGathered.restUs)
    }x, node cpu us/req ${fmt(logInC.cpuUs / logGathered.cpuUs)}x, throughput ${
      fmt(logInC.reqPerSec / logGathered.reqPerSec)
    }x`,
  );
  console.log(
    `answers folded in C / one event each (gathered): control plane us/req ${
      fmt(folded.restUs / gathered.restUs)
    }x without the request log, ${fmt(logInCFolded.restUs / logInC.restUs)}x with it in C; ` +
      `node cpu us/req ${fmt(folded.cpuUs / gathered.cpuUs)}x, ${
        fmt(logInCFolded.cpuUs / logInC.cpuUs)
      }x`,
  );
}

if (Deno.args[0] === "--serve") {
  serve(Number(Deno.args[1]), Number(Deno.args[2]), Deno.args[3], Deno.args[4] === "fold");
} else {
  await main();
}
