/**
 * The idle reaper of an instance group: stops the instances idle for the
 * deployment's idleTimeout, oldest first, down to minInstances (0: the
 * function scales to zero; the template stays). It checks only while
 * instances above the minimum idle, and never keeps the process alive.
 *
 * Instances lent to the data plane idle there: it says which and for how
 * long, and each is taken back (lent.ts reclaimIdle) before it stops.
 */
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import { idleToStop, reapPeriodMs } from "./autoscale.ts";
import type { GroupDrain } from "./drain.ts";
import type { LentInstances } from "./lent.ts";
import type { InstancePool } from "./pool.ts";

/** What the reaper needs of its instance group. */
export interface ReaperContext {
  pool: InstancePool;
  /** Set when the data plane runs the requests (the instances are lent to it). */
  lent: LentInstances | undefined;
  logger: Logger;
  /** Set once the group is being taken out of service (the drain stops every instance). */
  drain: GroupDrain;
  deployment(): Deployment;
}

export class IdleReaper {
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly ctx: ReaperContext) {}

  /** Starts the idle check while instances above minInstances idle. */
  arm(): void {
    const { pool, lent } = this.ctx;
    if (this.#timer !== undefined || this.ctx.drain.active) return;
    const d = this.ctx.deployment();
    const idle = lent ? pool.size : pool.idle.length;
    if (idle === 0 || pool.size <= d.minInstances) return;
    const id = setInterval(() => this.#reap(), reapPeriodMs(d.idleTimeout));
    Deno.unrefTimer(id as unknown as number); // idle checks never keep the process alive
    this.#timer = id;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #reap(): void {
    const { pool, lent } = this.ctx;
    const d = this.ctx.deployment();
    if (lent) {
      const idle = lent.idle();
      let stop = 0;
      while (
        stop < idle.length && pool.size - stop > d.minInstances &&
        idle[stop].idleMs >= d.idleTimeout
      ) stop++;
      lent.reclaimIdle(stop);
      if (pool.size <= d.minInstances) this.stop();
      return;
    }
    const stop = idleToStop(
      pool.idle.map((m) => m.lastUsed),
      pool.size,
      d.minInstances,
      performance.now() - d.idleTimeout,
    );
    pool.removeIdle(stop);
    if (stop > 0) {
      this.ctx.logger("debug", "idle instances stopped", {
        function: d.name,
        stopped: stop,
        left: pool.size,
      });
    }
    if (pool.idle.length === 0 || pool.size <= d.minInstances) this.stop();
  }
}
