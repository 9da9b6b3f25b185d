/**
 * Where a function's own log lines go when the node reads them out of a VM
 * (an instance or a template): the node's log, and the function's lines in
 * the log hub for `sure logs`. One drain per function (and per chain step),
 * so plain instances and chain steps label their lines the same way.
 */
import type { Logger } from "../log.ts";
import type { LogHub } from "../logs/hub.ts";

/** Anything whose guest writes log lines (Vm, VmTemplate). */
export interface LogSource {
  drainLog(): string[];
}

export class LogDrain {
  /**
   * fn: the function the lines belong to; chain: set for a chain's step, so
   * the lines say which chain ran them.
   */
  constructor(
    readonly fn: string,
    readonly logger: Logger,
    readonly logs?: LogHub,
    readonly chain?: string,
  ) {}

  /**
   * A line the node writes into the function's own log (e.g. why its
   * instance died), beside the lines the function wrote itself.
   */
  note(line: string, instance: number | "template"): void {
    const where = this.chain === undefined ? { instance } : { chain: this.chain, instance };
    this.logs?.add(this.fn, line, where);
  }

  /** Reads every line the VM wrote since the last call. instance: its id, or "template". */
  drain(vm: LogSource, instance: number | "template"): void {
    const where = this.chain === undefined ? { instance } : { chain: this.chain, instance };
    for (const line of vm.drainLog()) {
      this.logger("info", line, { function: this.fn, ...where });
      this.logs?.add(this.fn, line, where);
    }
  }
}
