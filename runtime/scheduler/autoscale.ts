/**
 * A function's scaling rules as pure functions of its counts, so that they
 * are table-tested without VMs (autoscale_test.ts) and the instance group
 * (group.ts) only carries them out.
 *
 * Scale up on concurrency, as Knative's autoscaler does: a request that
 * finds no idle instance starts one more while instances x
 * targetConcurrency < requests in flight (running + queued, this one
 * included), up to maxInstances; either way it waits in a FIFO queue for the
 * first instance that frees up or starts. Scale down: instances idle for
 * idleTimeout stop, oldest first, down to minInstances.
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
  const supply = load.instances + load.starting;
  const inFlight = load.running + load.queued + 1;
  if (rules.concurrencyLimit > 0 && inFlight > rules.concurrencyLimit * rules.maxInstances) {
    return { action: "reject", reason: "concurrency" };
  }
  if (canStart && supply < rules.maxInstances && supply * rules.targetConcurrency < inFlight) {
    return { action: "start" };
  }
  // A request that started an instance is queued even past maxQueue: the instance is its own.
  if (load.queued >= rules.maxQueue) return { action: "reject", reason: "overloaded" };
  return { action: "wait" };
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
