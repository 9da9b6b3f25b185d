/** The scaling rules as tables (autoscale.ts): no VMs involved. */
import assert from "node:assert/strict";
import {
  type Admission,
  type AdmissionRules,
  admit,
  idleToStop,
  type Load,
  planScale,
  reapPeriodMs,
  type ScalePlan,
  startsToReach,
  worthStarting,
} from "./autoscale.ts";

const rules = (over: Partial<AdmissionRules> = {}): AdmissionRules => ({
  maxInstances: 10,
  targetConcurrency: 1,
  concurrencyLimit: 0,
  maxQueue: 1024,
  ...over,
});
const load = (instances: number, starting: number, running: number, queued: number): Load => ({
  instances,
  starting,
  running,
  queued,
});
const START: Admission = { action: "start" };
const WAIT: Admission = { action: "wait" };
const LIMITED: Admission = { action: "reject", reason: "concurrency" };
const OVERLOADED: Admission = { action: "reject", reason: "overloaded" };

Deno.test("admit: a clone starts while instances x targetConcurrency < requests in flight", () => {
  const table: [string, Load, Partial<AdmissionRules>, Admission][] = [
    ["nothing runs: start one", load(0, 0, 0, 0), {}, START],
    ["all busy, target 1: start", load(2, 0, 2, 0), {}, START],
    ["one starting, one waiting: another starts", load(0, 1, 0, 1), {}, START],
    ["starting ones count as supply", load(1, 1, 1, 0), {}, WAIT],
    ["target 2: 1 x 2 < 2 is false, wait", load(1, 0, 1, 0), { targetConcurrency: 2 }, WAIT],
    ["target 2: 1 x 2 < 3, start", load(1, 0, 1, 1), { targetConcurrency: 2 }, START],
    ["at maxInstances: wait", load(2, 0, 2, 5), { maxInstances: 2 }, WAIT],
    ["starting counts toward maxInstances", load(1, 1, 1, 5), { maxInstances: 2 }, WAIT],
  ];
  for (const [why, l, r, want] of table) assert.deepEqual(admit(l, rules(r)), want, why);
});

Deno.test("admit: the FIFO queue holds maxQueue requests, then 503 (unless one starts)", () => {
  const r = rules({ maxInstances: 1, maxQueue: 2 });
  assert.deepEqual(admit(load(1, 0, 1, 1), r), WAIT);
  assert.deepEqual(admit(load(1, 0, 1, 2), r), OVERLOADED);
  // The default queue of 1024.
  assert.deepEqual(admit(load(1, 0, 1, 1023), rules({ maxInstances: 1 })), WAIT);
  assert.deepEqual(admit(load(1, 0, 1, 1024), rules({ maxInstances: 1 })), OVERLOADED);
  // A request that starts an instance is queued even when the queue is full.
  assert.deepEqual(admit(load(1, 0, 1, 2), rules({ maxInstances: 2, maxQueue: 2 })), START);
});

Deno.test("admit: when no instance may start (draining, budget) the request only waits", () => {
  assert.deepEqual(admit(load(1, 0, 1, 0), rules(), false), WAIT);
  assert.deepEqual(admit(load(1, 0, 1, 2), rules({ maxQueue: 2 }), false), OVERLOADED);
});

Deno.test("admit: concurrencyLimit bounds the function at limit x maxInstances in flight", () => {
  const r = rules({ concurrencyLimit: 2, maxInstances: 3 }); // 6 in flight, running + queued
  assert.deepEqual(admit(load(3, 0, 3, 2), r), WAIT, "the 6th is admitted");
  assert.deepEqual(admit(load(3, 0, 3, 3), r), LIMITED, "the 7th is refused");
  assert.deepEqual(admit(load(1, 0, 1, 5), r), LIMITED, "whatever the instance count");
  // A chain step's view: one instance, so the limit is concurrencyLimit itself.
  const step = rules({ concurrencyLimit: 4, maxInstances: 1 });
  assert.deepEqual(admit(load(1, 0, 1, 2), step), WAIT);
  assert.deepEqual(admit(load(1, 0, 1, 3), step), LIMITED);
  // 0: no limit.
  assert.deepEqual(admit(load(1, 0, 1, 500), rules({ maxInstances: 1 })), WAIT);
  // The limit is checked before a start and before the queue bound.
  assert.deepEqual(admit(load(0, 0, 0, 0), rules({ concurrencyLimit: 1, maxInstances: 1 })), START);
  assert.deepEqual(
    admit(load(1, 0, 1, 1), rules({ concurrencyLimit: 1, maxInstances: 1, maxQueue: 1 })),
    LIMITED,
  );
});

Deno.test("startsToReach: up to want, capped at maxInstances, never negative", () => {
  const table: [number, number, number, number][] = [
    // want, supply, max, starts
    [1, 0, 10, 1],
    [3, 1, 10, 2],
    [3, 1, 2, 1],
    [0, 2, 10, 0],
    [5, 6, 10, 0],
  ];
  for (const [want, supply, max, n] of table) {
    assert.equal(startsToReach(want, supply, max), n, `${want} ${supply} ${max}`);
  }
});

Deno.test("planScale: start the missing, stop idle first, then busy after their request", () => {
  const plan = (
    start: number,
    revive: number,
    stopIdle: number,
    retireBusy: number,
  ): ScalePlan => ({
    start,
    revive,
    stopIdle,
    retireBusy,
  });
  const table: [string, number, Parameters<typeof planScale>[1], ScalePlan][] = [
    ["up from zero", 3, { instances: 0, starting: 0, idle: 0, retiring: 0 }, plan(3, 0, 0, 0)],
    [
      "starting ones count",
      3,
      { instances: 1, starting: 1, idle: 1, retiring: 0 },
      plan(1, 0, 0, 0),
    ],
    ["already there", 2, { instances: 2, starting: 0, idle: 1, retiring: 0 }, plan(0, 0, 0, 0)],
    ["idle first", 1, { instances: 3, starting: 0, idle: 1, retiring: 0 }, plan(0, 0, 1, 1)],
    ["to zero", 0, { instances: 3, starting: 0, idle: 3, retiring: 0 }, plan(0, 0, 3, 0)],
    [
      "starting ones are not cancelled",
      0,
      { instances: 1, starting: 2, idle: 1, retiring: 0 },
      plan(
        0,
        0,
        1,
        0,
      ),
    ],
    [
      "retiring ones are not retired twice",
      1,
      { instances: 3, starting: 0, idle: 0, retiring: 2 },
      plan(0, 0, 0, 0),
    ],
    [
      "back up: keep retiring ones first",
      3,
      { instances: 3, starting: 0, idle: 0, retiring: 2 },
      plan(0, 2, 0, 0),
    ],
    [
      "back up past them: start the rest",
      4,
      { instances: 2, starting: 0, idle: 0, retiring: 1 },
      plan(2, 1, 0, 0),
    ],
  ];
  for (const [why, n, s, want] of table) assert.deepEqual(planScale(n, s), want, why);
});

Deno.test("idleToStop: oldest idle past the cutoff, while more than minInstances stay", () => {
  const table: [string, number[], number, number, number, number][] = [
    // why, idle lastUsed (oldest first), instances, minInstances, cutoff, stops
    ["all old, min 0", [1, 2, 3], 3, 0, 10, 3],
    ["min 1 keeps the newest", [1, 2, 3], 3, 1, 10, 2],
    ["busy ones count toward min", [1, 2], 4, 3, 10, 1],
    ["only those past the cutoff", [1, 5, 20], 3, 0, 10, 2],
    ["stops at the first recent one", [20, 1], 2, 0, 10, 0],
    ["nothing idle", [], 2, 0, 10, 0],
    ["at minInstances", [1], 1, 1, 10, 0],
  ];
  for (const [why, idle, inst, min, cutoff, n] of table) {
    assert.equal(idleToStop(idle, inst, min, cutoff), n, why);
  }
});

Deno.test("reapPeriodMs: a quarter of idleTimeout within [5 ms, 1 s]", () => {
  assert.equal(reapPeriodMs(10), 5);
  assert.equal(reapPeriodMs(400), 100);
  assert.equal(reapPeriodMs(60000), 1000);
});

Deno.test("worthStarting: a start only where it serves sooner than the instances there", () => {
  const at = (over: Partial<Load>): Load => ({ ...load(1, 0, 1, 3), vcpuCpus: 1, ...over });
  const table: [string, Load, boolean][] = [
    ["no vCPU count: concurrency alone decides", load(1, 0, 1, 3), true],
    ["nothing runs or comes", at({ instances: 0, running: 0 }), true],
    ["only starting ones: another comes no sooner", at({ instances: 0, starting: 1 }), false],
    ["no answer yet: wait", at({}), false],
    ["the queue drains before a start: wait", at({ serviceMs: 0.03, startMs: 1 }), false],
    ["the queue outlasts a start: start", at({ serviceMs: 5, startMs: 1 }), true],
    ["not measured: a start is taken to be 2 ms", at({ serviceMs: 0.4 }), false],
    ["not measured: a start is taken to be 2 ms (longer)", at({ serviceMs: 0.6 }), true],
    ["two per vCPU CPU at most", at({ instances: 2, serviceMs: 5, startMs: 1 }), false],
    ["more CPUs, more room", at({ instances: 2, serviceMs: 5, startMs: 1, vcpuCpus: 2 }), true],
    [
      "stuck behind a long request: start anyway",
      at({ instances: 4, oldestWaitMs: 12, startMs: 1 }),
      true,
    ],
    [
      "waited, but not well past a start",
      at({ instances: 4, oldestWaitMs: 10, startMs: 1 }),
      false,
    ],
  ];
  for (const [why, l, want] of table) assert.equal(worthStarting(l), want, why);
  // admit() asks it: a quick function's queue waits instead of starting clones.
  assert.deepEqual(admit(at({ serviceMs: 0.03, startMs: 1 }), rules()), WAIT);
  assert.deepEqual(admit(at({ serviceMs: 5, startMs: 1 }), rules()), START);
});
