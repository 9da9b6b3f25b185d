/**
 * The node's memory budget. Every VM (function instance, template, chain
 * step) reserves its whole guest memory and I/O areas before it is created
 * and returns them when it is destroyed: copy-on-write clones usually touch
 * far less, but a guest may write all of its RAM, and the node must never
 * promise more memory than it has (no overcommit, so no OOM killer).
 */
import { MemoryBudgetError } from "../errors.ts";
import { ioSlots, slotBytes } from "../../ffi/io_slots.ts";

/** Default budget: this share of the memory available when the node starts. */
const DEFAULT_SHARE = 0.75;

export class MemoryBudget {
  #used = 0;

  constructor(readonly limitBytes: number) {
    if (!(limitBytes > 0)) throw new RangeError(`memory budget must be positive: ${limitBytes}`);
  }

  /** Budget from MemAvailable in /proc/meminfo (or 1 GiB if it cannot be read). */
  static fromHost(): MemoryBudget {
    return new MemoryBudget(Math.floor(hostAvailableBytes() * DEFAULT_SHARE));
  }

  get usedBytes(): number {
    return this.#used;
  }

  /**
   * Takes `bytes` for `what`, or throws MemoryBudgetError. The returned
   * function gives them back; calling it again does nothing.
   */
  reserve(bytes: number, what: string): () => void {
    if (this.#used + bytes > this.limitBytes) {
      throw new MemoryBudgetError(what, bytes, this.#used, this.limitBytes);
    }
    this.#used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used -= bytes;
    };
  }
}

export function hostAvailableBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(Deno.readTextFileSync("/proc/meminfo"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux, or no /proc: fall through
  }
  return 1 << 30;
}

/**
 * Bytes a VM of memMib MiB can use at most, with its request slots of two
 * ioCap-byte areas each (a chain step's instance has one).
 */
export function vmBytes(memMib: number, ioCap: number, slots = ioSlots(ioCap)): number {
  return memMib * 1048576 + slots * slotBytes(ioCap);
}
