/**
 * The instances of one deployed function, scaled on demand (the rules are
 * pure functions in autoscale.ts; this class carries them out).
 *
 * - New instances are copy-on-write clones of the function's template (its
 *   VM right after init, built once per deployment), or fresh boots when the
 *   deployment says coldStart "boot" (starter.ts).
 * - A request that finds no idle instance waits in a FIFO queue (at most
 *   `maxQueue`, then 503), so a request to a function at zero instances is
 *   held until its clone is up; it may start one more instance first
 *   (request_queue.ts).
 * - Idle instances are reused last-in first-out, so the others age out
 *   (pool.ts); an idle reaper stops those idle for idleTimeout, down to
 *   minInstances (0: the function scales to zero; the template stays;
 *   reaper.ts). Idle ones that never go back to sleep are stopped
 *   (watchdog.ts).
 * - Every instance (and the template) reserves its memory in the node's
 *   budget first; past the budget the request gets a 503, never an OOM.
 * - An instance that faults, times out or breaks the protocol is destroyed
 *   (the answer and the log lines: deaths.ts); a replacement starts only if
 *   someone waits or minInstances needs it.
 *
 * This class coordinates those parts: it decides when an instance starts,
 * whom it serves and when it goes. VMs come from an injected VmFactory
 * (runtime/vmhost/vm.ts): libsure in the node, a fake in group_test.ts.
 */
import {
  type InvokeResult,
  isFatal,
  type RequestHead,
  type RequestRecord,
  type SidecarStats,
  type SureError,
} from "../../ffi/mod.ts";
import {
  BadResponseHeaderError,
  DeadlineExceededError,
  type HttpError,
  PayloadTooLargeError,
} from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Deployment } from "../store/store.ts";
import { refusalError } from "../vmhost/failures.ts";
import { LogDrain } from "../vmhost/log_drain.ts";
import { symbolise } from "../vmhost/symbolise.ts";
import type { VmFactory } from "../vmhost/vm.ts";
import type { MemoryBudget } from "./budget.ts";
import { InstanceDeaths } from "./deaths.ts";
import { GroupDrain } from "./drain.ts";
import type { Lending } from "./lending.ts";
import { LentInstances } from "./lent.ts";
import { ManualScaling } from "./manual_scale.ts";
import { InstancePool, type Member } from "./pool.ts";
import { IdleReaper } from "./reaper.ts";
import { RequestQueue } from "./request_queue.ts";
import { Spawner } from "./spawner.ts";
import { StartGauge } from "./start_gauge.ts";
import { InstanceStarter } from "./starter.ts";
import { type GroupStatus, groupStatus } from "./status.ts";
import { RunawayWatchdog } from "./watchdog.ts";

export interface GroupOptions {
  maxQueue: number;
  initTimeoutMs: number;
  logger: Logger;
  budget: MemoryBudget;
  /** Where the function's own log lines go (sure logs). */
  logs?: LogHub;
  /** Makes the VMs (runtime/vmhost/ffi_vms.ts in the node). */
  vms: VmFactory;
  /** When libsure's data plane serves the function: lends it the instances. */
  lending?: (group: InstanceGroup) => Lending;
  /** CPUs the vCPU threads run on: starts are weighed (autoscale.ts worthStarting); else concurrency alone decides. */
  vcpuCpus?: number;
}

export const DEFAULT_GROUP_OPTIONS = { maxQueue: 1024, initTimeoutMs: 5000 };

export class InstanceGroup {
  #deployment: Deployment;
  readonly #pool: InstancePool;
  readonly #queue: RequestQueue;
  readonly #spawner: Spawner;
  readonly #reaper: IdleReaper;
  /** Looks for idle instances that never went back to sleep (while any idle here). */
  readonly #watchdog: RunawayWatchdog;
  /** How long requests run and instances take to start: what a start is weighed against. */
  readonly #gauge: StartGauge;
  readonly #drain: GroupDrain;
  readonly #starter: InstanceStarter;
  readonly #logs: LogDrain;
  readonly #deaths: InstanceDeaths;
  /** New scaling settings and scale(). */
  readonly #scaling: ManualScaling;
  #requests = 0;
  /** Answers the data plane reported since the last onAnswered(), by instance tag. */
  #answered = new Map<number, number>();
  /** Set when the data plane runs the requests (the instances are lent to it). */
  readonly #lent: LentInstances | undefined;

  constructor(
    deployment: Deployment,
    readonly image: Uint8Array,
    readonly opts: GroupOptions,
    /** The environment block of its guests (env and secrets; never logged). */
    readonly env?: Uint8Array,
  ) {
    this.#deployment = deployment;
    const gauge = this.#gauge = new StartGauge(opts.vcpuCpus);
    const logs = this.#logs = new LogDrain(deployment.name, opts.logger, opts.logs);
    const starter = new InstanceStarter(deployment, image, { ...opts, logs }, env);
    this.#starter = starter;
    const pool = this.#pool = new InstancePool(logs, () => this.#drain.check());
    const lending = opts.lending?.(this);
    const lent = this.#lent = lending && new LentInstances(lending, pool);
    const { logger, budget, maxQueue } = opts;
    const drain = this.#drain = new GroupDrain(
      () => pool.left + this.#queue.length,
      () => starter.destroy(),
    );
    // What the parts below need of the group: each context names the fields it reads.
    const parts = { pool, drain, gauge, starter, budget, lending, lent, logger, logs, maxQueue };
    const hooks = {
      deployment: () => this.#deployment,
      spawn: () => this.#spawner.spawn("demand"),
      placed: (m: Member) => this.#placed(m),
      removeRunaway: (m: Member) => {
        this.#deaths.lost(m);
        drain.check();
      },
    };
    const queue = this.#queue = new RequestQueue({ ...parts, ...hooks });
    const spawner = this.#spawner = new Spawner({ ...parts, queue, ...hooks });
    const reaper = this.#reaper = new IdleReaper({ ...parts, ...hooks });
    this.#watchdog = new RunawayWatchdog({ ...parts, ...hooks });
    const ioCap = starter.ioCap;
    this.#deaths = new InstanceDeaths({ ...parts, queue, spawner, image, ioCap, ...hooks });
    this.#scaling = new ManualScaling({ ...parts, spawner, reaper, ioCap, ...hooks });
    lending?.publish(deployment, this.ioCap, maxQueue, true);
  }

  /** True when libsure's data plane runs this function's requests. */
  get lent(): boolean {
    return this.#lent !== undefined;
  }

  /** Bytes of each of an instance's request and response areas (at least maxBody). */
  get ioCap(): number {
    return this.#starter.ioCap;
  }

  get deployment(): Deployment {
    return this.#deployment;
  }

  get name(): string {
    return this.#deployment.name;
  }

  /** Live instances (idle + busy). */
  get instances(): number {
    return this.#pool.size;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Bytes one instance of this function reserves in the budget. */
  get instanceBytes(): number {
    return this.#starter.instanceBytes;
  }

  /**
   * Puts the function into service: builds its template and starts
   * max(minInstances, 1) instances in the background (the first request
   * after a deploy is warm; idle ones are reaped later like any other).
   */
  start(): void {
    this.#spawner.fillTo(Math.max(this.#deployment.minInstances, 1), "initial");
  }

  /** New scaling settings (same image): applied to the live instances now. */
  updateScaling(dep: Deployment): void {
    this.#deployment = dep;
    this.#scaling.apply(dep);
  }

  /** The latest requests the live instances' sidecars recorded, newest first. */
  requestRecords(): (RequestRecord & { instance: number })[] {
    return this.#pool.requestRecords();
  }

  /** The sidecar counters of every instance this deployment ever had. */
  sidecarStats(): SidecarStats {
    return this.#pool.sidecarStats();
  }

  /**
   * Runs one request on a free instance. trace: the W3C context bytes the
   * function receives (ffi Instance.setTrace). Throws HttpError subclasses.
   */
  async invoke(
    body: Uint8Array,
    requestId: string,
    trace?: Uint8Array,
    head?: RequestHead,
  ): Promise<InvokeResult> {
    if (body.byteLength > this.ioCap) throw new PayloadTooLargeError(this.ioCap);
    const t0 = performance.now();
    const m = await this.#queue.acquire();
    const d = this.#deployment;
    if (d.deadline > 0 && performance.now() - t0 > d.deadline) {
      // It waited for an instance past its deadline: answer now, run nothing.
      this.#release(m);
      throw new DeadlineExceededError(this.name, d.deadline);
    }
    let result: InvokeResult;
    this.#requests++;
    if (trace) m.vm.setTrace(trace);
    const ran = performance.now();
    try {
      result = await m.vm.invoke(body, d.timeout, head);
      this.#gauge.ran(performance.now() - ran);
    } catch (e) {
      this.#gauge.ran(performance.now() - ran);
      this.#logs.drain(m.vm, m.vm.id);
      const fatal = isFatal(e);
      const fault = fatal ? this.#deaths.retire(m, e as SureError) : undefined;
      if (!fatal) this.#release(m);
      // Symbolised after the instance is out of service: a crash costs the
      // crashing request this lookup, never anyone else's.
      const at = fault?.kind === "exception" ? await symbolise(this.image, fault.rip) : null;
      const instance = m.vm.id;
      throw this.#deaths.answer(e, { requestId, timeoutMs: d.timeout, instance, fault, at });
    }
    this.#logs.drain(m.vm, m.vm.id);
    this.#release(m);
    const refused = refusalError(this.name, result.reason, d.deadline, result.rc, requestId);
    if (refused) throw refused;
    if (result.headerError) throw new BadResponseHeaderError(this.name, result.headerError);
    return result;
  }

  /**
   * Scales to exactly n instances now: starts the missing ones (resolves
   * when they serve) or stops idle ones (busy ones stop after their request).
   * Instances above minInstances are still stopped after idleTimeout.
   */
  scale(n: number): Promise<void> {
    return this.#scaling.scale(n);
  }

  /** What the admin API shows for this function's instances. */
  status(): GroupStatus {
    const queued = this.#lent ? this.#lent.syncBusy() : this.#queue.length;
    return groupStatus(this.#deployment, this.#pool.members, this.#starter.template, {
      starting: this.#pool.starting,
      queued,
      peakInstances: this.#pool.peak,
      coldStarts: this.#spawner.coldStarts,
      runaways: this.#watchdog.runaways,
      requests: this.#requests,
    });
  }

  /**
   * Takes the group out of service: in-flight and queued requests finish,
   * then every instance and the template are destroyed. Resolves when none
   * is left.
   */
  drain(): Promise<void> {
    return this.#drain.begin(() => {
      this.#starter.close();
      this.#reaper.stop();
      this.#queue.stop();
      // Each lent instance comes back when its request is done (onRetired).
      this.#lent?.withdraw();
      if (this.#queue.length === 0) this.#pool.removeIdle();
    });
  }

  /** A new instance serves: lent to the data plane, else to the oldest waiter or the idle list. */
  #placed(m: Member): void {
    if (this.#lent && m.vm.pointer) {
      this.#lent.lend(m, this.#drain.active);
      this.#reaper.arm();
      this.#drain.check();
      return;
    }
    this.#pool.markBusy(m);
    this.#release(m);
  }

  /** Returns a healthy instance: to the oldest waiter, else to the idle list. */
  #release(m: Member): void {
    m.lastUsed = performance.now();
    if (!m.retire && this.#queue.handOver(m)) return;
    this.#pool.markFree(m);
    if (this.#drain.active || m.retire) {
      this.#pool.remove(m);
      // A retired instance's waiters need someone else.
      if (this.#queue.length > 0 && !this.#drain.active) this.#deaths.replace();
    } else {
      this.#pool.park(m);
      this.#reaper.arm();
      this.#watchdog.arm();
    }
    this.#drain.check();
  }

  /** The data plane stopped instance tag: idle, it never went back to sleep. */
  onRunaway(tag: number): void {
    const m = this.#pool.byTag(tag);
    if (m) this.#watchdog.runaway(m);
  }

  /** The data plane wants one more instance for a queued request. */
  onNeed(): void {
    try {
      this.#spawner.spawn("need").catch(() => {}); // failures reach startFailed
    } catch (e) {
      this.#lent?.lending.startFailed(this.#spawner.startError(e));
    }
  }

  /**
   * The data plane answered a request on instance tag. It is counted, and
   * the instance's log read, at onAnswered(): once per instance per batch of
   * events, not once per request.
   */
  onDone(tag: number, count = 1): void {
    this.#answered.set(tag, (this.#answered.get(tag) ?? 0) + count);
  }

  /** The end of a run of onDone() calls: counts them and reads each instance's new log lines. */
  onAnswered(): void {
    if (this.#answered.size === 0) return;
    const now = performance.now();
    for (const [tag, n] of this.#answered) {
      this.#requests += n;
      const m = this.#pool.byTag(tag);
      if (!m) continue;
      m.lastUsed = now;
      this.#logs.drain(m.vm, m.vm.id);
    }
    this.#answered.clear();
  }

  /** A reclaimed instance finished its request and is ours again. */
  onRetired(tag: number): void {
    const m = this.#pool.byTag(tag);
    if (m) this.#pool.remove(m);
    this.#drain.check();
  }

  /**
   * Instance tag died under a request (rc: libsure's -errno): the same
   * answer, log lines and replacement as a death in invoke(). Returns the
   * error the request got.
   */
  onDead(tag: number, token: bigint, rc: number, requestId: string): Promise<HttpError | Error> {
    this.#requests++;
    return this.#deaths.reported(tag, token, rc, requestId);
  }
}
