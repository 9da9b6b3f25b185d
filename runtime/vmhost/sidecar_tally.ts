/**
 * The sidecar counters of a function (or a chain step) over all its
 * instances, live and destroyed. A sidecar's counters live in its VM's
 * memory and vanish with it, so each instance's are folded in just before it
 * is destroyed: the Prometheus counters built from the total never go back.
 */
import { addSidecarStats, emptySidecarStats, type SidecarStats } from "../../ffi/mod.ts";

/** What the tally reads of an instance (Vm). */
export interface SidecarSource {
  sidecarStats(): SidecarStats | null;
}

export class SidecarTally {
  #retired: SidecarStats = emptySidecarStats();

  /** Keeps a VM's counters; call it once, right before the VM is destroyed. */
  fold(vm: SidecarSource): void {
    const st = vm.sidecarStats();
    if (st) this.#retired = addSidecarStats(this.#retired, st);
  }

  /** Destroyed instances' counters plus those of the live ones. */
  total(live: Iterable<SidecarSource>): SidecarStats {
    let sum = this.#retired;
    for (const vm of live) {
      const st = vm.sidecarStats();
      if (st) sum = addSidecarStats(sum, st);
    }
    return sum;
  }
}
