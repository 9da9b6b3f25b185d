/**
 * What an instance group weighs a start against (autoscale.ts
 * worthStarting): how long its requests run on an instance and how long its
 * instances take to start, as measured (moving averages over ~8), and how
 * many CPUs the vCPUs run on. The data plane keeps the same in C
 * (libsure/src/dispatch.c worth_starting).
 */
import { type Load, START_GUESS_MS, STUCK_MS } from "./autoscale.ts";

function average(avg: number | undefined, sample: number): number {
  return avg === undefined ? sample : avg + (sample - avg) / 8;
}

export class StartGauge {
  #serviceMs: number | undefined;
  #startMs: number | undefined;

  /** vcpuCpus undefined: starts are not weighed (concurrency alone decides). */
  constructor(readonly vcpuCpus: number | undefined) {}

  /** A request ran ms on an instance (answered or not). */
  ran(ms: number): void {
    this.#serviceMs = average(this.#serviceMs, ms);
  }

  /** An instance took ms to start. */
  started(ms: number): void {
    this.#startMs = average(this.#startMs, ms);
  }

  /** The fields of Load that worthStarting reads, with the oldest waiter's wait. */
  load(oldestWaitMs: number | undefined): Pick<
    Load,
    "oldestWaitMs" | "serviceMs" | "startMs" | "vcpuCpus"
  > {
    return {
      oldestWaitMs,
      serviceMs: this.#serviceMs,
      startMs: this.#startMs,
      vcpuCpus: this.vcpuCpus,
    };
  }

  /** When to look again at a queue left to wait: once its oldest may be stuck (ms). */
  get recheckMs(): number {
    return Math.ceil((this.#startMs ?? START_GUESS_MS) + STUCK_MS);
  }
}
