/**
 * The starts of an instance group's instances: starter.ts makes one; this
 * keeps the record around each start. A start counts as starting from the
 * moment its memory is reserved (synchronously: a start that does not fit
 * throws MemoryBudgetError at once) until it serves or fails; it is weighed
 * (start_gauge.ts), logged with why it happened, and the instance joins the
 * pool. Then the group decides whom it serves (SpawnContext.placed). A
 * failed start fails the requests that can no longer get an instance.
 */
import { FunctionStartError, MemoryBudgetError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import { startsToReach } from "./autoscale.ts";
import type { MemoryBudget } from "./budget.ts";
import type { GroupDrain } from "./drain.ts";
import type { Lending } from "./lending.ts";
import { sidecarLimits } from "./limits.ts";
import type { InstancePool, Member } from "./pool.ts";
import type { RequestQueue } from "./request_queue.ts";
import type { StartGauge } from "./start_gauge.ts";
import type { InstanceStarter } from "./starter.ts";

/** Why an instance starts: "demand" and "need" (the data plane's demand) are cold starts. */
export type StartReason = "demand" | "initial" | "minimum" | "manual" | "replace" | "need";

/** What the spawner needs of its instance group. */
export interface SpawnContext {
  starter: InstanceStarter;
  pool: InstancePool;
  queue: RequestQueue;
  drain: GroupDrain;
  gauge: StartGauge;
  budget: MemoryBudget;
  /** Set when the data plane runs the requests (the instances are lent to it). */
  lending: Lending | undefined;
  logger: Logger;
  deployment(): Deployment;
  /** A started instance joined the pool, busy: the group gives it work. */
  placed(m: Member): void;
}

export class Spawner {
  #coldStarts = 0;

  constructor(readonly ctx: SpawnContext) {}

  /** Instances started because a request found none free. */
  get coldStarts(): number {
    return this.#coldStarts;
  }

  /**
   * Starts one instance. The budget is reserved synchronously (throws
   * MemoryBudgetError); the instance then goes to the oldest waiter or the
   * idle list. The promise settles when it serves or failed to start.
   */
  spawn(why: StartReason): Promise<void> {
    const { pool, logger } = this.ctx;
    const mode = this.ctx.deployment().coldStart;
    const starting = this.ctx.starter.start(mode);
    pool.startBegan();
    // The data plane counts it as coming, so a request meanwhile asks for no other.
    if (why !== "need") this.ctx.lending?.expect();
    return starting.then(
      ({ vm, startMs, release }) => {
        pool.startEnded();
        this.ctx.gauge.started(startMs);
        if (why === "demand" || why === "need") this.#coldStarts++;
        const d = this.ctx.deployment();
        logger("debug", "instance started", {
          function: d.name,
          instance: vm.id,
          start: mode,
          startMs: Math.round(startMs * 1000) / 1000,
          why,
        });
        vm.configureSidecar(sidecarLimits(d, false));
        const m: Member = {
          vm,
          busy: true,
          startedAt: Date.now(),
          lastUsed: performance.now(),
          startMs,
          start: mode,
          release,
          retire: false,
        };
        pool.add(m);
        this.ctx.placed(m);
      },
      (err) => {
        pool.startEnded();
        logger("error", `instance could not start: ${(err as Error).message}`, {
          function: this.ctx.deployment().name,
        });
        // With nothing left that could ever serve them, queued requests fail now
        // rather than wait forever.
        if (pool.size + pool.starting === 0) this.ctx.queue.failAll(this.startError(err));
        this.ctx.lending?.startFailed(this.startError(err));
        this.ctx.drain.check();
        throw err;
      },
    );
  }

  /** Starts instances in the background until there are n (errors are logged). */
  fillTo(n: number, why: "initial" | "minimum"): void {
    const { pool } = this.ctx;
    if (this.ctx.drain.active) return;
    const d = this.ctx.deployment();
    const count = startsToReach(n, pool.size + pool.starting, d.maxInstances);
    for (let i = 0; i < count; i++) {
      try {
        this.spawn(why).catch(() => {});
      } catch (e) {
        this.ctx.logger("warn", `no ${why} instance: ${(e as Error).message}`, {
          function: d.name,
        });
        return;
      }
    }
  }

  /** Throws MemoryBudgetError unless n more instances fit the budget now (before any starts). */
  checkFits(n: number): void {
    const need = n * this.ctx.starter.instanceBytes;
    const b = this.ctx.budget;
    if (b.usedBytes + need > b.limitBytes) {
      throw new MemoryBudgetError(
        `${n} instance(s) of ${this.ctx.deployment().name}`,
        need,
        b.usedBytes,
        b.limitBytes,
      );
    }
  }

  /** What a request waiting for a failed start is answered. */
  startError(err: unknown): MemoryBudgetError | FunctionStartError {
    if (err instanceof MemoryBudgetError) return err;
    return new FunctionStartError(this.ctx.deployment().name, (err as Error).message);
  }
}
