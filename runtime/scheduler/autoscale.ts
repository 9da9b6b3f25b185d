/**
 * A function's scaling rules as pure functions of its counts, so that they
 * are table-tested without VMs (autoscale_test.ts) and the instance group
 * (group.ts) only carries them out.
 *
 * Scale up on concurrency, as Knative's autoscaler does: a request that
 * finds no idle instance starts one more while instances x
 * targetConcurrency < requests in flight (running + queued, this one
 * included), up to maxInstances, if a start is worth it (worthStarting:
 * the request would otherwise wait longer than a start takes, and the
 * vCPUs' CPUs have room for another instance); either way it waits in a
 * FIFO queue for the first instance that frees up or starts. Scale down:
 * instances idle for idleTimeout stop, oldest first, down to minInstances.
 * libsure's data plane decides the same in C (dispatch.c worth_starting).
 *
 * concurrencyLimit bounds the whole function, not each instance: at most
 * concurrencyLimit x maxInstances requests in flight (running + queued);
 * beyond that a request gets 429 concurrency_limited. (A chain step has one
 * instance, so there the limit is concurrencyLimit, which its sidecar
 * enforces: runtime/scheduler/limits.ts.)
 */

/** A function's instances and requests when a request finds no idle instance. */
export interface Load {
  /** Live instances, idle or busy. */
  instances: number;
  /** Instances being started. */
  starting: number;
  /** Requests running on an instance. */
  running: number;
  /** Requests waiting in the queue (not counting the one arriving). */
  queued: number;
  /**
   * What a start is weighed against (worthStarting), as measured: how long
   * the oldest queued request has waited, how long requests recently ran on
   * an instance and how long an instance took to start (ms; undefined: none
   * yet), and how many CPUs the vCPUs run on. Without vcpuCpus, a start is
   * always worth it (concurrency alone decides).
   */
  oldestWaitMs?: number;
  serviceMs?: number;
  startMs?: number;
  vcpuCpus?: number;
}

/** A start before one was measured is taken to last this long (ms). */
export const START_GUESS_MS = 2;
/**
 * How much longer than a start the oldest queued request may wait before one
 * more instance starts for it whatever the averages say (ms): a request that
 * runs far longer than the others holds its instance. Not less, because a
 * vCPU thread waiting for its CPU waits a scheduler tick or two (4 ms each
 * here), and instances started for that only wait too.
 */
export const STUCK_MS = 10;

/**
 * Whether one more instance would serve sooner than the ones there: when
 * none runs or comes; not while the only ones are starting (another would
 * come no sooner); when the oldest waiter has waited STUCK_MS past a start;
 * not past two instances per vCPU CPU (a guest only computes while it runs a
 * request, so more only share those CPUs: warm echo at c16 on 2 cores, p99
 * 4.4-5.3 ms with 10 instances and 1.0-1.4 ms with 2); else when the queue,
 * at the recent service time per instance, keeps this request waiting
 * longer than a start.
 */
export function worthStarting(load: Load): boolean {
  if (load.vcpuCpus === undefined) return true;
  if (load.instances + load.starting === 0) return true;
  if (load.instances === 0) return false;
  const start = load.startMs ?? START_GUESS_MS;
  if ((load.oldestWaitMs ?? 0) > start + STUCK_MS) return true;
  if (load.instances + load.starting >= 2 * load.vcpuCpus || load.serviceMs === undefined) {
    return false;
  }
  return (load.queued + 1) * load.serviceMs / load.instances > start;
}

/** The settings admission follows (a Deployment's fields, and the node's queue bound). */
export interface AdmissionRules {
  maxInstances: number;
  targetConcurrency: number;
  /** 0: no limit. */
  concurrencyLimit: number;
  /** Requests that may wait at once; past it 503 overloaded. */
  maxQueue: number;
}

/**
 * What happens to a request that found no idle instance:
 * - start: one more instance starts; the request waits in the queue (the
 *   instance goes to the oldest waiter, which may be this request or not);
 * - wait: the request waits for a busy or starting instance;
 * - reject: 429 concurrency_limited, or 503 overloaded (queue full).
 */
export type Admission =
  | { action: "start" }
  | { action: "wait" }
  | { action: "reject"; reason: "concurrency" | "overloaded" };

/**
 * canStart false: no instance may start now (the function is being
 * replaced, or the memory budget refused the one `start` asked for); then
 * the request may only wait, if the queue has room.
 */
export function admit(load: Load, rules: AdmissionRules, canStart = true): Admission {
  const inFlight = load.running + load.queued + 1;
  if (rules.concurrencyLimit > 0 && inFlight > rules.concurrencyLimit * rules.maxInstances) {
    return { action: "reject", reason: "concurrency" };
  }
  if (canStart && wantsStart(load, rules, 1)) return { action: "start" };
  // A request that started an instance is queued even past maxQueue: the instance is its own.
  if (load.queued >= rules.maxQueue) return { action: "reject", reason: "overloaded" };
  return { action: "wait" };
}

/**
 * The start half of admit(): one more instance while instances x
 * targetConcurrency < requests in flight (counting `arriving`, the request
 * being admitted, if any), up to maxInstances, if it is worth it. Also what a
 * queue left to wait is looked at again with (arriving 0).
 */
export function wantsStart(
  load: Load,
  rules: Pick<AdmissionRules, "maxInstances" | "targetConcurrency">,
  arriving: 0 | 1,
): boolean {
  const supply = load.instances + load.starting;
  const inFlight = load.running + load.queued + arriving;
  return supply < rules.maxInstances && supply * rules.targetConcurrency < inFlight &&
    worthStarting(load);
}

/** Instances to start so that `want` (capped at maxInstances) are live or starting. */
export function startsToReach(want: number, supply: number, maxInstances: number): number {
  return Math.max(0, Math.min(want, maxInstances) - supply);
}

/** What a manual scale to n instances does (POST /admin/functions/:name/scale). */
export interface ScalePlan {
  /** New instances to start. */
  start: number;
  /** Busy instances marked to stop after their request that stay after all. */
  revive: number;
  /** Idle instances to stop now, oldest first. */
  stopIdle: number;
  /** Busy instances to stop after their request. */
  retireBusy: number;
}

/**
 * Instances being started are never cancelled, and busy ones finish their
 * request; those already marked to stop (retiring) count as gone.
 */
export function planScale(
  n: number,
  s: { instances: number; starting: number; idle: number; retiring: number },
): ScalePlan {
  const staying = s.instances - s.retiring;
  const supply = staying + s.starting;
  if (n > supply) {
    const revive = Math.min(s.retiring, n - supply);
    return { start: n - supply - revive, revive, stopIdle: 0, retireBusy: 0 };
  }
  const excess = Math.max(0, staying - n);
  const stopIdle = Math.min(s.idle, excess);
  return { start: 0, revive: 0, stopIdle, retireBusy: excess - stopIdle };
}

/**
 * Idle instances to stop now: of the idle ones (last use, oldest first),
 * those unused since `cutoff`, as long as more than minInstances stay.
 */
export function idleToStop(
  idleLastUsed: readonly number[],
  instances: number,
  minInstances: number,
  cutoff: number,
): number {
  let n = 0;
  while (n < idleLastUsed.length && instances - n > minInstances && idleLastUsed[n] <= cutoff) n++;
  return n;
}

/** How often the idle check runs: a quarter of idleTimeout, within [5 ms, 1 s]. */
export function reapPeriodMs(idleTimeout: number): number {
  return Math.min(1000, Math.max(5, Math.floor(idleTimeout / 4)));
}
