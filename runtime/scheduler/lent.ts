/**
 * An instance group's instances while libsure's data plane runs its
 * requests (lending.ts). The group still starts, reaps, scales and destroys
 * them, but each is lent to the data plane as soon as it serves; from then
 * on only the data plane knows which are busy, and an instance must be
 * taken back (reclaimed) before it stops: at once when it idles there, else
 * after its request (the group's onRetired).
 */
import type { RouteStats } from "../../ffi/dataplane.ts";
import type { Lending } from "./lending.ts";
import type { InstancePool, Member } from "./pool.ts";

export class LentInstances {
  constructor(readonly lending: Lending, readonly pool: InstancePool) {}

  /** Sets every instance's busy flag as the data plane has it; returns how many requests queue there. */
  syncBusy(): number {
    // Who is busy is the data plane's knowledge: every lent instance not idle there.
    const s = this.lending.stats();
    const idle = new Set(s.idleTags.map((t) => t.tag));
    for (const m of this.pool.members) m.busy = !idle.has(m.vm.id);
    return s.queued;
  }

  /** The instances idle in the data plane, the one idle longest first. */
  idle(): RouteStats["idleTags"] {
    return this.lending.stats().idleTags;
  }

  /** A started instance goes to the data plane, idle; when draining it is taken back at once. */
  lend(m: Member, draining: boolean): void {
    m.busy = false;
    // Lent even when draining: that is how the data plane stops counting it as coming.
    this.lending.lend(m.vm, true);
    if (draining && this.lending.reclaim(m.vm) !== "busy") this.pool.remove(m);
  }

  /** Takes back and stops the n instances idle longest in the data plane. */
  reclaimIdle(n: number): void {
    if (n <= 0) return;
    const byId = new Map(this.pool.members.map((m) => [m.vm.id, m]));
    for (const { tag } of this.idle().slice(0, n)) {
      const m = byId.get(tag);
      if (m && this.lending.reclaim(m.vm) === "back") this.pool.remove(m);
    }
  }

  /** A busy instance is to stop after its request; at once if it idles there by now. */
  retire(m: Member): void {
    m.retire = true;
    if (this.lending.reclaim(m.vm) === "back") this.pool.remove(m);
  }

  /** No new requests; every instance stops, a busy one once its request is done (onRetired). */
  withdraw(): void {
    this.lending.withdraw();
    for (const m of this.pool.members) {
      m.retire = true;
      if (this.lending.reclaim(m.vm) !== "busy") this.pool.remove(m);
    }
  }
}
