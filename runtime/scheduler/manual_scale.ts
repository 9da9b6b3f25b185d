/**
 * Scaling an instance group by hand: new scaling settings from the admin
 * API, applied to the live instances at once, and scale(n), exactly n
 * instances now. The plan is autoscale.ts planScale; this carries it out.
 * Missing instances start at once (scale resolves when they serve, and
 * fails if one does not fit the budget or cannot start); surplus ones stop,
 * the idle ones at once (oldest first), the busy ones after their request.
 * Instances above minInstances are still stopped after idleTimeout.
 */
import { InternalError, ValidationError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import { planScale } from "./autoscale.ts";
import type { GroupDrain } from "./drain.ts";
import type { LentInstances } from "./lent.ts";
import { sidecarLimits } from "./limits.ts";
import type { InstancePool } from "./pool.ts";
import type { IdleReaper } from "./reaper.ts";
import type { Spawner } from "./spawner.ts";

/** What scaling by hand needs of the instance group. */
export interface ScaleContext {
  pool: InstancePool;
  spawner: Spawner;
  reaper: IdleReaper;
  drain: GroupDrain;
  /** Set when the data plane runs the requests (the instances are lent to it). */
  lent: LentInstances | undefined;
  logger: Logger;
  maxQueue: number;
  /** Bytes of each of an instance's request and response areas. */
  ioCap: number;
  deployment(): Deployment;
}

export class ManualScaling {
  constructor(readonly ctx: ScaleContext) {}

  /** New scaling settings (same image; the group's deployment already): applied to the live instances now. */
  apply(dep: Deployment): void {
    const { pool, drain, lent } = this.ctx;
    lent?.lending.publish(dep, this.ctx.ioCap, this.ctx.maxQueue, !drain.active);
    for (const m of pool.members) m.vm.configureSidecar(sidecarLimits(dep, false));
    this.ctx.spawner.fillTo(dep.minInstances, "minimum");
    // A lowered maximum applies now, as scale() would: the surplus stops
    // (idle ones at once, busy ones after their request), not only when the
    // idle timeout comes.
    if (!drain.active && pool.size > dep.maxInstances) {
      this.scale(dep.maxInstances).catch((e) =>
        this.ctx.logger("warn", `could not scale down: ${(e as Error).message}`, {
          function: this.ctx.deployment().name,
        })
      );
    }
    this.ctx.reaper.arm();
  }

  /**
   * Scales to exactly n instances now: starts the missing ones (resolves
   * when they serve) or stops idle ones (busy ones stop after their request).
   */
  async scale(n: number): Promise<void> {
    const { pool, spawner, drain, lent } = this.ctx;
    const d = this.ctx.deployment();
    const max = d.maxInstances;
    if (n > max) {
      throw new ValidationError("instances", `must be at most maxInstances (${max})`);
    }
    if (drain.active) throw new InternalError(`function ${d.name} is being replaced`);
    lent?.syncBusy(); // the busy flags, from the data plane
    const busy = pool.members.filter((m) => m.busy);
    const plan = planScale(n, {
      instances: pool.size,
      starting: pool.starting,
      // Lent instances idle in the data plane (syncBusy() above set their busy flags).
      idle: lent ? pool.size - busy.length : pool.idle.length,
      retiring: busy.filter((m) => m.retire).length,
    });
    if (plan.start > 0) spawner.checkFits(plan.start);
    // Busy ones marked to stop stay after all, before any new one starts.
    for (const m of busy.filter((m) => m.retire).slice(0, plan.revive)) m.retire = false;
    if (plan.start > 0) {
      const started = Array.from({ length: plan.start }, () => spawner.spawn("manual"));
      const results = await Promise.allSettled(started);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw spawner.startError((failed as PromiseRejectedResult).reason);
      return;
    }
    // Oldest idle first, then busy ones (after their request).
    const retiring = busy.filter((m) => !m.retire).slice(0, plan.retireBusy);
    if (lent) {
      lent.reclaimIdle(plan.stopIdle);
      for (const m of retiring) lent.retire(m);
    } else {
      pool.removeIdle(plan.stopIdle);
      for (const m of retiring) m.retire = true;
    }
    drain.check();
  }
}
