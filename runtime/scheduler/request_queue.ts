/**
 * How a request of the instance group's own (not lent to the data plane)
 * gets an instance: the most recently used idle one, else it waits in a
 * FIFO queue (at most maxQueue, then 503; the rules are autoscale.ts admit),
 * so a request to a function at zero instances is held until its clone is
 * up; it may start one more instance first. Whoever frees or creates an
 * instance next hands it to the oldest waiter (handOver).
 */
import { InternalError, OverloadedError, TooManyRequestsError } from "../errors.ts";
import type { Deployment } from "../store/store.ts";
import { admit, type Load, wantsStart } from "./autoscale.ts";
import type { GroupDrain } from "./drain.ts";
import type { InstancePool, Member } from "./pool.ts";
import type { StartGauge } from "./start_gauge.ts";

interface Waiter {
  resolve: (m: Member) => void;
  reject: (err: unknown) => void;
  /** performance.now() when it began to wait. */
  since: number;
}

/** What the queue needs of its instance group. */
export interface QueueContext {
  pool: InstancePool;
  /** How long requests run and instances take to start: what a start is weighed against. */
  gauge: StartGauge;
  maxQueue: number;
  /** Set once the group is being taken out of service. */
  drain: GroupDrain;
  deployment(): Deployment;
  /** Starts one instance; throws at once (MemoryBudgetError) when it does not fit the budget. */
  spawn(): Promise<void>;
}

export class RequestQueue {
  readonly #waiters: Waiter[] = [];
  /** Looks again whether a queue that was left to wait needs an instance (worthStarting). */
  #stuckTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly ctx: QueueContext) {}

  get length(): number {
    return this.#waiters.length;
  }

  /** An instance for one request: at once when one idles, else when one is free for it. */
  acquire(): Promise<Member> {
    const { pool, maxQueue } = this.ctx;
    const m = pool.takeIdle();
    if (m) return Promise.resolve(m);
    const load = this.#load();
    const supply = load.instances + load.starting;
    const draining = this.ctx.drain.active;
    const d = this.ctx.deployment();
    if (draining && supply === 0) {
      // Nothing will ever be released here again (the function was replaced).
      throw new InternalError(`function ${d.name} is being replaced`);
    }
    const rules = {
      maxInstances: d.maxInstances,
      targetConcurrency: d.targetConcurrency,
      concurrencyLimit: d.concurrencyLimit,
      maxQueue,
    };
    let admission = admit(load, rules, !draining);
    if (admission.action === "start") {
      try {
        this.ctx.spawn().catch(() => {}); // failures reach the waiters
      } catch (e) {
        // Over budget: wait for a running instance, if there is any at all.
        if (supply === 0) throw e;
        admission = admit(load, rules, false);
      }
    }
    if (admission.action === "reject") {
      throw admission.reason === "concurrency"
        ? new TooManyRequestsError(d.name, "concurrency")
        : new OverloadedError(d.name);
    }
    // Whoever frees or creates an instance next hands it to the oldest waiter.
    if (admission.action === "wait") this.#armStuckCheck();
    return new Promise<Member>((resolve, reject) =>
      this.#waiters.push({ resolve, reject, since: performance.now() })
    );
  }

  /** Gives m to the oldest waiter; false when nobody waits. */
  handOver(m: Member): boolean {
    const w = this.#waiters.shift();
    if (!w) return false;
    w.resolve(m);
    return true;
  }

  /** Every waiter fails with err (no instance will come for them). */
  failAll(err: unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  /** No more looks at a stuck queue (the group drains). */
  stop(): void {
    clearTimeout(this.#stuckTimer);
    this.#stuckTimer = undefined;
  }

  #load(): Load {
    const { pool, gauge } = this.ctx;
    const oldest = this.#waiters[0];
    return {
      instances: pool.size,
      starting: pool.starting,
      running: pool.running,
      queued: this.#waiters.length,
      ...gauge.load(oldest ? performance.now() - oldest.since : undefined),
    };
  }

  /**
   * A queue admission let wait (not worth a start then) behind a request that
   * runs on: once its oldest has waited well past a start, one more instance,
   * as admit() would give an arriving request (the data plane's tick does
   * the same, dispatch.c).
   */
  #armStuckCheck(): void {
    const { gauge } = this.ctx;
    if (this.#stuckTimer !== undefined || gauge.vcpuCpus === undefined) return;
    this.#stuckTimer = setTimeout(() => {
      this.#stuckTimer = undefined;
      if (this.#waiters.length === 0 || this.ctx.drain.active) return;
      const load = this.#load();
      if (load.starting === 0 && wantsStart(load, this.ctx.deployment(), 0)) {
        try {
          this.ctx.spawn().catch(() => {});
        } catch {
          // over budget: the waiters keep waiting for a running instance
        }
      }
      this.#armStuckCheck();
    }, gauge.recheckMs);
  }
}
