/**
 * The live instances of one deployed function and what its instance group
 * knows about each: which are idle, how many run a request, how many are
 * starting or still being torn down, and the most there were at once. The
 * group decides what happens to them; this only keeps the record straight.
 *
 * - Idle instances are reused last-in first-out, so the others age out and
 *   the idle reaper (reaper.ts) finds the oldest first.
 * - Removing an instance destroys it; its memory goes back to the budget
 *   only once the teardown is done, and its sidecar counters are kept (the
 *   deployment's totals count every instance it ever had).
 */
import type { RequestRecord, SidecarStats } from "../../ffi/mod.ts";
import type { LogDrain } from "../vmhost/log_drain.ts";
import { SidecarTally } from "../vmhost/sidecar_tally.ts";
import type { Vm } from "../vmhost/vm.ts";
import type { MemberState } from "./status.ts";

/** One live instance and what the group knows about it. */
export interface Member extends MemberState {
  vm: Vm;
  /** Gives the instance's memory back to the budget. */
  release: () => void;
  /** Scaled down by hand while busy: destroy instead of parking it idle. */
  retire: boolean;
}

export class InstancePool {
  readonly #members = new Set<Member>();
  /** Free instances; the most recently used last, so the oldest idle ones are reaped. */
  readonly #idle: Member[] = [];
  #running = 0;
  #starting = 0;
  /** Instances whose teardown (on Deno's blocking threads) has not finished. */
  #destroying = 0;
  #peak = 0;
  readonly #sidecar = new SidecarTally();

  constructor(
    /** Where an instance's log lines are read before it goes. */
    readonly logs: LogDrain,
    /** An instance's teardown finished (its memory is back in the budget). */
    readonly gone: () => void,
  ) {}

  /** Live instances (idle + busy). */
  get size(): number {
    return this.#members.size;
  }

  /** Live instances, in the order they joined. */
  get members(): Member[] {
    return [...this.#members];
  }

  /** The idle instances, the one idle longest first. */
  get idle(): readonly Member[] {
    return this.#idle;
  }

  /** Instances running a request of the group's own (not lent ones). */
  get running(): number {
    return this.#running;
  }

  /** Instances whose start began and has not ended. */
  get starting(): number {
    return this.#starting;
  }

  /** Most instances alive at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Instances live, starting or being torn down: none left once it is 0. */
  get left(): number {
    return this.#members.size + this.#starting + this.#destroying;
  }

  /** A start began (its memory is reserved). */
  startBegan(): void {
    this.#starting++;
  }

  /** A start ended: the instance serves, or it failed. */
  startEnded(): void {
    this.#starting--;
  }

  /** A started instance joins. */
  add(m: Member): void {
    this.#members.add(m);
    this.#peak = Math.max(this.#peak, this.#members.size);
  }

  /** Counts m as running a request. */
  markBusy(m: Member): void {
    m.busy = true;
    this.#running++;
  }

  /** m's request is over: it no longer counts as running (parked or removed next). */
  markFree(m: Member): void {
    this.#running--;
    m.busy = false;
  }

  /** The most recently used idle instance, now running; undefined if none idles. */
  takeIdle(): Member | undefined {
    const m = this.#idle.pop();
    if (m) this.markBusy(m);
    return m;
  }

  /** m waits idle for the next request. */
  park(m: Member): void {
    this.#idle.push(m);
  }

  /** The live instance with this tag (its vm id). */
  byTag(tag: number): Member | undefined {
    for (const m of this.#members) if (m.vm.id === tag) return m;
    return undefined;
  }

  /** Removes the n instances idle longest (all of them without n). */
  removeIdle(n = this.#idle.length): void {
    for (const m of this.#idle.splice(0, n)) this.remove(m);
  }

  /** Destroys an instance that is not busy; its memory returns to the budget once it is gone. */
  remove(m: Member): void {
    this.#members.delete(m);
    const i = this.#idle.indexOf(m);
    if (i >= 0) this.#idle.splice(i, 1);
    this.logs.drain(m.vm, m.vm.id);
    this.#sidecar.fold(m.vm);
    this.#destroying++;
    m.vm.destroy().then(() => {
      this.#destroying--;
      m.release();
      this.gone();
    });
  }

  /** The latest requests the live instances' sidecars recorded, newest first. */
  requestRecords(): (RequestRecord & { instance: number })[] {
    const all = this.members.flatMap((m) =>
      m.vm.requestRecords().map((r) => ({ instance: m.vm.id, ...r }))
    );
    return all.sort((a, b) => a.ageMs - b.ageMs);
  }

  /** The sidecar counters of every instance this deployment ever had. */
  sidecarStats(): SidecarStats {
    return this.#sidecar.total(this.members.map((m) => m.vm));
  }
}
