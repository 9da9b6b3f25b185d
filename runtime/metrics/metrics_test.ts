import assert from "node:assert/strict";
import { emptySidecarStats, LATENCY_BOUNDS_SECONDS, type SidecarStats } from "../../ffi/mod.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { NodeMetrics } from "./metrics.ts";

/** The parts of a Scheduler that /metrics reads, for functions with these sidecar counters. */
function schedulerWith(fns: Record<string, SidecarStats>): Scheduler {
  const groups = Object.entries(fns).map(([name, st]) => ({
    name,
    status: () => ({ instances: [], starting: 0, queued: 0, coldStarts: 0, peakInstances: 0 }),
    sidecarStats: () => st,
  }));
  return {
    groups: () => groups,
    instances: 0,
    functions: groups.length,
    kvmAvailable: false,
    budget: { limitBytes: 1, usedBytes: 0 },
  } as unknown as Scheduler;
}

Deno.test("metrics: sidecar latency buckets are fixed bounds in seconds, the same everywhere", () => {
  const served = emptySidecarStats();
  served.requests = served.admitted = 4;
  served.handlerSeconds = 0.0021;
  served.latencyBuckets[0] = 1; // <= 1 us
  served.latencyBuckets[9] = 2; // <= 1 ms
  served.latencyBuckets[LATENCY_BOUNDS_SECONDS.length] = 1; // > 10 s: +Inf only
  const text = new NodeMetrics().render(schedulerWith({ echo: served }));
  const bucket = (le: string) =>
    text.split("\n").find((l) =>
      l.startsWith(`sure_sidecar_handler_seconds_bucket{function="echo",chain="",le="${le}"}`)
    )?.split(" ")[1];
  assert.equal(LATENCY_BOUNDS_SECONDS[0], 1e-6);
  assert.equal(LATENCY_BOUNDS_SECONDS.at(-1), 10);
  assert.equal(bucket("0.000001"), "1");
  assert.equal(bucket("0.0005"), "1");
  assert.equal(bucket("0.001"), "3");
  assert.equal(bucket("10"), "3");
  assert.equal(bucket("+Inf"), "4");
  const les = text.split("\n").filter((l) => l.startsWith("sure_sidecar_handler_seconds_bucket"));
  assert.equal(les.length, LATENCY_BOUNDS_SECONDS.length + 1);
});

Deno.test("metrics: no sidecar series for functions that served no request", () => {
  const served = emptySidecarStats();
  served.requests = served.admitted = 1;
  served.latencyBuckets[3] = 1;
  const idle = Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [`idle${i}`, emptySidecarStats()]),
  );
  const text = new NodeMetrics().render(schedulerWith({ echo: served, ...idle }));
  const sidecar = text.split("\n").filter((l) => l.startsWith("sure_sidecar_"));
  assert.ok(sidecar.length > 0);
  assert.deepEqual(sidecar.filter((l) => l.includes('function="idle')), []);
  // 11 functions, one of them busy: a few dozen sidecar lines, not hundreds.
  assert.ok(sidecar.length < 40, `${sidecar.length} sidecar lines`);
});

Deno.test("metrics: a folded outcome counts its requests, errors and durations", () => {
  const m = new NodeMetrics();
  const b = m.duration.bounds;
  const buckets = new Array<number>(b.length + 1).fill(0);
  buckets[0] = 3;
  buckets[b.length] = 2;
  m.record("function", "echo", 503, 20.0003, "overloaded", 5, buckets);
  m.record("function", "echo", 503, 0.2, "overloaded");
  const text = m.render(schedulerWith({}));
  const line = (prefix: string) =>
    text.split("\n").find((l) => l.startsWith(prefix))?.split(" ")[1];
  assert.equal(line('sure_requests_total{target="function",name="echo",code="503"}'), "6");
  assert.equal(
    line('sure_request_errors_total{target="function",name="echo",kind="overloaded"}'),
    "6",
  );
  const le = (v: string) =>
    line(`sure_request_duration_seconds_bucket{target="function",name="echo",le="${v}"}`);
  assert.equal(le(String(b[0])), "3");
  assert.equal(le("0.25"), "4");
  assert.equal(le("+Inf"), "6");
  assert.equal(line('sure_request_duration_seconds_count{target="function",name="echo"}'), "6");
});
