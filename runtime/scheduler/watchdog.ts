/**
 * The runaway watchdog of an instance group: an idle instance that kept
 * running LIMITS.runawayMs after its answer without going back to sleep is
 * stopped, logged and counted, and its group takes it out of service. No
 * request was given to it meanwhile. Instances lent to the data plane are
 * not watched here: the data plane checks its own and says so (the group's
 * onRunaway, which comes to runaway() here too).
 */
import { LIMITS } from "../../ffi/abi.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import type { LogDrain } from "../vmhost/log_drain.ts";
import type { GroupDrain } from "./drain.ts";
import type { Lending } from "./lending.ts";
import type { InstancePool, Member } from "./pool.ts";

/** What the watchdog needs of its instance group. */
export interface WatchdogContext {
  pool: InstancePool;
  /** Set when the data plane runs the requests (and watches the idle instances). */
  lending: Lending | undefined;
  logger: Logger;
  logs: LogDrain;
  deployment(): Deployment;
  /** Set once the group is being taken out of service. */
  drain: GroupDrain;
  /** Takes a runaway (stopped already) out of service. */
  removeRunaway(m: Member): void;
}

export class RunawayWatchdog {
  #timer: ReturnType<typeof setInterval> | undefined;
  #runaways = 0;

  constructor(readonly ctx: WatchdogContext) {}

  /** Idle instances stopped because they did not go back to sleep after their answer. */
  get runaways(): number {
    return this.#runaways;
  }

  /** Checks the idle instances every 100 ms while there are any (not lent: the data plane
   * checks its own and says so with onRunaway). */
  arm(): void {
    const { pool } = this.ctx;
    if (this.#timer !== undefined || this.ctx.lending) return;
    const id = setInterval(() => {
      const now = performance.now();
      for (const m of [...pool.idle]) {
        if (now - m.lastUsed >= LIMITS.runawayMs && m.vm.sleeping?.() === false) {
          m.vm.stop?.();
          this.runaway(m);
        }
      }
      if (pool.idle.length === 0 || this.ctx.drain.active) {
        clearInterval(id);
        this.#timer = undefined;
      }
    }, 100);
    Deno.unrefTimer(id as unknown as number);
    this.#timer = id;
  }

  /**
   * An idle instance kept running after its answer without going back to
   * sleep (stopped already): it goes, is logged and counted, and the group
   * keeps its minimum (removeRunaway).
   */
  runaway(m: Member): void {
    this.#runaways++;
    const name = this.ctx.deployment().name;
    this.ctx.logger(
      "warn",
      `instance stopped: function ${name} kept running ${LIMITS.runawayMs} ms after its ` +
        "answer without going back to sleep",
      { function: name, instance: m.vm.id },
    );
    this.ctx.logs.note(
      `instance ${m.vm.id} stopped: it kept running after its answer without going back to sleep`,
      m.vm.id,
    );
    this.ctx.removeRunaway(m);
  }
}
