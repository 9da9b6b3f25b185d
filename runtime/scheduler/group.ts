/**
 * The instances of one deployed function, scaled on demand (the rules are
 * pure functions in autoscale.ts; this class carries them out).
 *
 * - New instances are copy-on-write clones of the function's template (its
 *   VM right after init, built once per deployment), or fresh boots when the
 *   deployment says coldStart "boot" (starter.ts).
 * - A request that finds no idle instance waits in a FIFO queue (at most
 *   `maxQueue`, then 503), so a request to a function at zero instances is
 *   held until its clone is up; it may start one more instance first.
 * - Idle instances are reused last-in first-out, so the others age out; an
 *   idle reaper stops those idle for idleTimeout, down to minInstances (0:
 *   the function scales to zero; the template stays).
 * - Every instance (and the template) reserves its memory in the node's
 *   budget first; past the budget the request gets a 503, never an OOM.
 * - An instance that faults, times out or breaks the protocol is destroyed;
 *   a replacement starts only if someone waits or minInstances needs it.
 *
 * VMs come from an injected VmFactory (runtime/vmhost/vm.ts): libsure in the
 * node, a fake in group_test.ts.
 */
import {
  errorFromErrno,
  type Fault,
  type InvokeResult,
  isFatal,
  type RequestRecord,
  type SidecarStats,
  type SureError,
} from "../../ffi/mod.ts";
import {
  BadResponseHeaderError,
  DeadlineExceededError,
  type FaultLocation,
  FunctionStartError,
  type HttpError,
  InternalError,
  MemoryBudgetError,
  OverloadedError,
  PayloadTooLargeError,
  toHttpError,
  TooManyRequestsError,
  ValidationError,
} from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Deployment } from "../store/store.ts";
import type { RequestHead } from "../../ffi/mod.ts";
import { invokeError, placeholderFault, readFault, refusalError } from "../vmhost/failures.ts";
import { LogDrain } from "../vmhost/log_drain.ts";
import { SidecarTally } from "../vmhost/sidecar_tally.ts";
import { symbolise } from "../vmhost/symbolise.ts";
import type { Vm, VmFactory } from "../vmhost/vm.ts";
import { LIMITS } from "../../ffi/abi.ts";
import {
  admit,
  idleToStop,
  type Load,
  planScale,
  reapPeriodMs,
  startsToReach,
  wantsStart,
} from "./autoscale.ts";
import { StartGauge } from "./start_gauge.ts";
import type { MemoryBudget } from "./budget.ts";
import { sidecarLimits } from "./limits.ts";
import { InstanceStarter } from "./starter.ts";
import { type GroupStatus, groupStatus, type MemberState } from "./status.ts";
import type { Lending } from "./lending.ts";

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

type StartReason = "demand" | "initial" | "minimum" | "manual" | "replace" | "need";

interface Waiter {
  resolve: (m: Member) => void;
  reject: (err: unknown) => void;
  /** performance.now() when it began to wait. */
  since: number;
}

/** One live instance and what the group knows about it. */
interface Member extends MemberState {
  vm: Vm;
  /** Gives the instance's memory back to the budget. */
  release: () => void;
  /** Scaled down by hand while busy: destroy instead of parking it idle. */
  retire: boolean;
}

export class InstanceGroup {
  #deployment: Deployment;
  #members = new Set<Member>();
  /** Free instances; the most recently used last, so the oldest idle ones are reaped. */
  #idle: Member[] = [];
  #busy = 0;
  #creating = 0;
  /** Instances whose teardown (on Deno's blocking threads) has not finished. */
  #destroying = 0;
  #waiters: Waiter[] = [];
  /** How long requests run and instances take to start: what a start is weighed against. */
  readonly #gauge: StartGauge;
  /** Looks again whether a queue that was left to wait needs an instance (worthStarting). */
  #stuckTimer: ReturnType<typeof setTimeout> | undefined;
  #draining = false;
  #drained: (() => void) | undefined;
  #drainPromise: Promise<void> | undefined;
  readonly #starter: InstanceStarter;
  readonly #logs: LogDrain;
  readonly #sidecar = new SidecarTally();
  #reaper: ReturnType<typeof setInterval> | undefined;
  #peak = 0;
  #coldStarts = 0;
  #runaways = 0;
  /** Looks for idle instances that never went back to sleep (while any idle here). */
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #requests = 0;
  /** Answers the data plane reported since the last onAnswered(), by instance tag. */
  #answered = new Map<number, number>();
  /** Set when the data plane runs the requests (the instances are lent to it). */
  readonly #lending: Lending | undefined;

  constructor(
    deployment: Deployment,
    readonly image: Uint8Array,
    readonly opts: GroupOptions,
    /** The environment block of its guests (env and secrets; never logged). */
    readonly env?: Uint8Array,
  ) {
    this.#deployment = deployment;
    this.#gauge = new StartGauge(opts.vcpuCpus);
    this.#logs = new LogDrain(deployment.name, opts.logger, opts.logs);
    this.#starter = new InstanceStarter(deployment, image, { ...opts, logs: this.#logs }, env);
    this.#lending = opts.lending?.(this);
    this.#lending?.publish(deployment, this.ioCap, opts.maxQueue, true);
  }

  /** True when libsure's data plane runs this function's requests. */
  get lent(): boolean {
    return this.#lending !== undefined;
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
    return this.#members.size;
  }

  get queued(): number {
    return this.#waiters.length;
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
    this.#fillTo(Math.max(this.#deployment.minInstances, 1), "initial");
  }

  /** New scaling settings (same image): applied to the live instances now. */
  updateScaling(dep: Deployment): void {
    this.#deployment = dep;
    this.#lending?.publish(dep, this.ioCap, this.opts.maxQueue, !this.#draining);
    for (const m of this.#members) m.vm.configureSidecar(sidecarLimits(dep, false));
    this.#fillTo(dep.minInstances, "minimum");
    // A lowered maximum applies now, as scale() would: the surplus stops
    // (idle ones at once, busy ones after their request), not only when the
    // idle timeout comes.
    if (!this.#draining && this.instances > dep.maxInstances) {
      this.scale(dep.maxInstances).catch((e) =>
        this.opts.logger("warn", `could not scale down: ${(e as Error).message}`, {
          function: this.name,
        })
      );
    }
    this.#armReaper();
  }

  /** The latest requests the live instances' sidecars recorded, newest first. */
  requestRecords(): (RequestRecord & { instance: number })[] {
    const all = [...this.#members].flatMap((m) =>
      m.vm.requestRecords().map((r) => ({ instance: m.vm.id, ...r }))
    );
    return all.sort((a, b) => a.ageMs - b.ageMs);
  }

  /** The sidecar counters of every instance this deployment ever had. */
  sidecarStats(): SidecarStats {
    return this.#sidecar.total([...this.#members].map((m) => m.vm));
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
    const m = await this.#acquire();
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
      const fault = fatal ? this.#retire(m, e as SureError) : undefined;
      if (!fatal) this.#release(m);
      // Symbolised after the instance is out of service: a crash costs the
      // crashing request this lookup, never anyone else's.
      const at = fault?.kind === "exception" ? await symbolise(this.image, fault.rip) : null;
      const err = invokeError(e, {
        fn: this.name,
        requestId,
        timeoutMs: d.timeout,
        ioCap: this.ioCap,
        instance: m.vm.id,
        fault,
        at,
      });
      if (fault) this.#logDeath(m.vm.id, e as SureError, requestId, fault, err, at);
      throw err;
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
  async scale(n: number): Promise<void> {
    const max = this.#deployment.maxInstances;
    if (n > max) {
      throw new ValidationError("instances", `must be at most maxInstances (${max})`);
    }
    if (this.#draining) throw new InternalError(`function ${this.name} is being replaced`);
    if (this.#lending) this.status(); // the busy flags, from the data plane
    const busy = [...this.#members].filter((m) => m.busy);
    const plan = planScale(n, {
      instances: this.instances,
      starting: this.#creating,
      // Lent instances idle in the data plane (status() above set their busy flags).
      idle: this.#lending ? this.#members.size - busy.length : this.#idle.length,
      retiring: busy.filter((m) => m.retire).length,
    });
    if (plan.start > 0) {
      const need = plan.start * this.instanceBytes;
      const b = this.opts.budget;
      if (b.usedBytes + need > b.limitBytes) {
        throw new MemoryBudgetError(
          `${plan.start} instance(s) of ${this.name}`,
          need,
          b.usedBytes,
          b.limitBytes,
        );
      }
    }
    // Busy ones marked to stop stay after all, before any new one starts.
    for (const m of busy.filter((m) => m.retire).slice(0, plan.revive)) m.retire = false;
    if (plan.start > 0) {
      const started = Array.from({ length: plan.start }, () => this.#spawn("manual"));
      const results = await Promise.allSettled(started);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw this.#startError((failed as PromiseRejectedResult).reason);
      return;
    }
    // Oldest idle first, then busy ones (after their request).
    if (this.#lending) {
      this.#reclaimIdle(plan.stopIdle);
      for (const m of busy.filter((m) => !m.retire).slice(0, plan.retireBusy)) {
        m.retire = true;
        if (this.#lending.reclaim(m.vm) === "back") this.#remove(m);
      }
      this.#checkDrained();
      return;
    }
    for (const m of this.#idle.slice(0, plan.stopIdle)) this.#remove(m);
    for (const m of busy.filter((m) => !m.retire).slice(0, plan.retireBusy)) m.retire = true;
    this.#checkDrained();
  }

  /** What the admin API shows for this function's instances. */
  status(): GroupStatus {
    let queued = this.#waiters.length;
    if (this.#lending) {
      // Who is busy is the data plane's knowledge: every lent instance not idle there.
      const s = this.#lending.stats();
      const idle = new Set(s.idleTags.map((t) => t.tag));
      for (const m of this.#members) m.busy = !idle.has(m.vm.id);
      queued = s.queued;
    }
    return groupStatus(this.#deployment, [...this.#members], this.#starter.template, {
      starting: this.#creating,
      queued,
      peakInstances: this.#peak,
      coldStarts: this.#coldStarts,
      runaways: this.#runaways,
      requests: this.#requests,
    });
  }

  /**
   * Takes the group out of service: in-flight and queued requests finish,
   * then every instance and the template are destroyed. Resolves when none
   * is left.
   */
  drain(): Promise<void> {
    if (this.#drainPromise) return this.#drainPromise;
    this.#draining = true;
    this.#starter.close();
    this.#stopReaper();
    clearTimeout(this.#stuckTimer);
    this.#stuckTimer = undefined;
    this.#drainPromise = new Promise<void>((resolve) => (this.#drained = resolve));
    if (this.#lending) {
      this.#lending.withdraw();
      // Each instance comes back when its request is done (onRetired).
      for (const m of [...this.#members]) {
        m.retire = true;
        if (this.#lending.reclaim(m.vm) !== "busy") this.#remove(m);
      }
    }
    if (this.#waiters.length === 0) {
      for (const m of this.#idle.splice(0)) this.#remove(m);
    }
    this.#checkDrained();
    return this.#drainPromise;
  }

  #load(): Load {
    const oldest = this.#waiters[0];
    return {
      instances: this.instances,
      starting: this.#creating,
      running: this.#busy,
      queued: this.#waiters.length,
      ...this.#gauge.load(oldest ? performance.now() - oldest.since : undefined),
    };
  }

  /**
   * A queue admission let wait (not worth a start then) behind a request that
   * runs on: once its oldest has waited well past a start, one more instance,
   * as admit() would give an arriving request (the data plane's tick does
   * the same, dispatch.c).
   */
  #armStuckCheck(): void {
    if (this.#stuckTimer !== undefined || this.#gauge.vcpuCpus === undefined) return;
    this.#stuckTimer = setTimeout(() => {
      this.#stuckTimer = undefined;
      if (this.#waiters.length === 0 || this.#draining) return;
      const load = this.#load();
      if (load.starting === 0 && wantsStart(load, this.#deployment, 0)) {
        try {
          this.#spawn("demand").catch(() => {});
        } catch {
          // over budget: the waiters keep waiting for a running instance
        }
      }
      this.#armStuckCheck();
    }, this.#gauge.recheckMs);
  }

  #acquire(): Promise<Member> {
    const m = this.#idle.pop();
    if (m) {
      m.busy = true;
      this.#busy++;
      return Promise.resolve(m);
    }
    const load = this.#load();
    const supply = load.instances + load.starting;
    if (this.#draining && supply === 0) {
      // Nothing will ever be released here again (the function was replaced).
      throw new InternalError(`function ${this.name} is being replaced`);
    }
    const d = this.#deployment;
    const rules = {
      maxInstances: d.maxInstances,
      targetConcurrency: d.targetConcurrency,
      concurrencyLimit: d.concurrencyLimit,
      maxQueue: this.opts.maxQueue,
    };
    let admission = admit(load, rules, !this.#draining);
    if (admission.action === "start") {
      try {
        this.#spawn("demand").catch(() => {}); // failures reach the waiters
      } catch (e) {
        // Over budget: wait for a running instance, if there is any at all.
        if (supply === 0) throw e;
        admission = admit(load, rules, false);
      }
    }
    if (admission.action === "reject") {
      throw admission.reason === "concurrency"
        ? new TooManyRequestsError(this.name, "concurrency")
        : new OverloadedError(this.name);
    }
    // Whoever frees or creates an instance next hands it to the oldest waiter.
    if (admission.action === "wait") this.#armStuckCheck();
    return new Promise<Member>((resolve, reject) =>
      this.#waiters.push({ resolve, reject, since: performance.now() })
    );
  }

  /** Starts instances in the background until there are n (errors are logged). */
  #fillTo(n: number, why: "initial" | "minimum"): void {
    if (this.#draining) return;
    const count = startsToReach(n, this.instances + this.#creating, this.#deployment.maxInstances);
    for (let i = 0; i < count; i++) {
      try {
        this.#spawn(why).catch(() => {});
      } catch (e) {
        this.opts.logger("warn", `no ${why} instance: ${(e as Error).message}`, {
          function: this.name,
        });
        return;
      }
    }
  }

  /**
   * Starts one instance. The budget is reserved synchronously (throws
   * MemoryBudgetError); the instance then goes to the oldest waiter or the
   * idle list. The promise settles when it serves or failed to start.
   */
  #spawn(why: StartReason): Promise<void> {
    const mode = this.#deployment.coldStart;
    const starting = this.#starter.start(mode);
    this.#creating++;
    // The data plane counts it as coming, so a request meanwhile asks for no other.
    if (why !== "need") this.#lending?.expect();
    return starting.then(
      ({ vm, startMs, release }) => {
        this.#creating--;
        this.#gauge.started(startMs);
        if (why === "demand" || why === "need") this.#coldStarts++;
        this.opts.logger("debug", "instance started", {
          function: this.name,
          instance: vm.id,
          start: mode,
          startMs: Math.round(startMs * 1000) / 1000,
          why,
        });
        vm.configureSidecar(sidecarLimits(this.#deployment, false));
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
        this.#members.add(m);
        this.#peak = Math.max(this.#peak, this.#members.size);
        if (this.#lending && vm.pointer) {
          m.busy = false;
          // Lent even when draining: that is how the data plane stops counting it as coming.
          this.#lending.lend(vm, true);
          if (this.#draining && this.#lending.reclaim(vm) !== "busy") this.#remove(m);
          this.#armReaper();
          this.#checkDrained();
          return;
        }
        this.#busy++;
        this.#release(m);
      },
      (err) => {
        this.#creating--;
        this.opts.logger("error", `instance could not start: ${(err as Error).message}`, {
          function: this.name,
        });
        // With nothing left that could ever serve them, queued requests fail now
        // rather than wait forever.
        if (this.instances + this.#creating === 0) {
          const fail = this.#startError(err);
          for (const w of this.#waiters.splice(0)) w.reject(fail);
        }
        this.#lending?.startFailed(this.#startError(err));
        this.#checkDrained();
        throw err;
      },
    );
  }

  #startError(err: unknown) {
    if (err instanceof MemoryBudgetError) return err;
    return new FunctionStartError(this.name, (err as Error).message);
  }

  /** Returns a healthy instance: to the oldest waiter, else to the idle list. */
  #release(m: Member): void {
    m.lastUsed = performance.now();
    if (!m.retire) {
      const w = this.#waiters.shift();
      if (w) {
        w.resolve(m);
        return;
      }
    }
    this.#busy--;
    m.busy = false;
    if (this.#draining || m.retire) {
      this.#remove(m);
      // A retired instance's waiters need someone else.
      if (this.#waiters.length > 0 && !this.#draining) this.#replace();
    } else {
      this.#idle.push(m);
      this.#armReaper();
      this.#armWatchdog();
    }
    this.#checkDrained();
  }

  /** Checks the idle instances every 100 ms while there are any (not lent: the data plane
   * checks its own and says so with onRunaway). */
  #armWatchdog(): void {
    if (this.#watchdog !== undefined || this.#lending) return;
    const id = setInterval(() => {
      const now = performance.now();
      for (const m of [...this.#idle]) {
        if (now - m.lastUsed >= LIMITS.runawayMs && m.vm.sleeping?.() === false) {
          m.vm.stop?.();
          this.#runaway(m);
        }
      }
      if (this.#idle.length === 0 || this.#draining) {
        clearInterval(id);
        this.#watchdog = undefined;
      }
    }, 100);
    Deno.unrefTimer(id as unknown as number);
    this.#watchdog = id;
  }

  /**
   * An idle instance kept running after its answer without going back to
   * sleep (stopped already): it goes, is logged and counted, and the
   * minimum is kept. No request was given to it meanwhile.
   */
  #runaway(m: Member): void {
    this.#runaways++;
    this.opts.logger(
      "warn",
      `instance stopped: function ${this.name} kept running ${LIMITS.runawayMs} ms after its ` +
        "answer without going back to sleep",
      { function: this.name, instance: m.vm.id },
    );
    this.#logs.note(
      `instance ${m.vm.id} stopped: it kept running after its answer without going back to sleep`,
      m.vm.id,
    );
    this.#remove(m);
    if (!this.#draining) this.#fillTo(this.#deployment.minInstances, "minimum");
    this.#checkDrained();
  }

  /** The data plane stopped instance tag: idle, it never went back to sleep. */
  onRunaway(tag: number): void {
    const m = this.#member(tag);
    if (m) this.#runaway(m);
  }

  /** Takes a dead instance out of service and says what killed it; starts a replacement if needed. */
  #retire(m: Member, err: SureError): Fault {
    const vm = m.vm;
    const fault = readFault(vm) ?? placeholderFault("unknown", err.code);
    this.#busy--;
    m.busy = false;
    this.#remove(m);
    if (this.#waiters.length > 0 && (!this.#draining || this.instances === 0)) this.#replace();
    else if (!this.#draining) this.#fillTo(this.#deployment.minInstances, "minimum");
    this.#checkDrained();
    return fault;
  }

  /**
   * The node's log line for a dead instance, and the same words in the
   * function's own log (`sure logs`): what the 502 says, where, and why.
   */
  #logDeath(
    instance: number,
    err: SureError,
    requestId: string,
    fault: Fault,
    answer: unknown,
    at: FaultLocation | null,
  ): void {
    const words = answer instanceof Error ? answer.message : `${fault.name} (${err.code})`;
    this.opts.logger("warn", `instance died: ${words}`, {
      function: this.name,
      instance,
      requestId,
      fault: { kind: fault.kind, vector: fault.vector, rip: "0x" + fault.rip.toString(16) },
      ...(at ? { at } : {}),
      ...(fault.reason ? { reason: fault.reason } : {}),
    });
    this.#logs.note(words, instance);
  }

  /** One more instance for the waiters; if even that is impossible, they fail now. */
  #replace(): void {
    try {
      this.#spawn("replace").catch(() => {});
    } catch (e) {
      if (this.instances + this.#creating === 0) {
        for (const w of this.#waiters.splice(0)) w.reject(e);
      }
    }
  }

  /** Destroys an instance that is not busy; its memory returns to the budget once it is gone. */
  #remove(m: Member): void {
    this.#members.delete(m);
    const i = this.#idle.indexOf(m);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#logs.drain(m.vm, m.vm.id);
    this.#sidecar.fold(m.vm);
    this.#destroying++;
    m.vm.destroy().then(() => {
      this.#destroying--;
      m.release();
      this.#checkDrained();
    });
  }

  /** Starts the idle check while instances above minInstances idle. */
  #armReaper(): void {
    if (this.#reaper !== undefined || this.#draining) return;
    const idle = this.#lending ? this.instances : this.#idle.length;
    if (idle === 0 || this.instances <= this.#deployment.minInstances) return;
    const id = setInterval(() => this.#reap(), reapPeriodMs(this.#deployment.idleTimeout));
    Deno.unrefTimer(id as unknown as number); // idle checks never keep the process alive
    this.#reaper = id;
  }

  #stopReaper(): void {
    if (this.#reaper !== undefined) clearInterval(this.#reaper);
    this.#reaper = undefined;
  }

  #reap(): void {
    const d = this.#deployment;
    if (this.#lending) {
      const idle = this.#lending.stats().idleTags;
      let stop = 0;
      while (
        stop < idle.length && this.instances - stop > d.minInstances &&
        idle[stop].idleMs >= d.idleTimeout
      ) stop++;
      this.#reclaimIdle(stop);
      if (this.instances <= d.minInstances) this.#stopReaper();
      return;
    }
    const stop = idleToStop(
      this.#idle.map((m) => m.lastUsed),
      this.instances,
      d.minInstances,
      performance.now() - d.idleTimeout,
    );
    for (const m of this.#idle.splice(0, stop)) this.#remove(m);
    if (stop > 0) {
      this.opts.logger("debug", "idle instances stopped", {
        function: this.name,
        stopped: stop,
        left: this.instances,
      });
    }
    if (this.#idle.length === 0 || this.instances <= d.minInstances) this.#stopReaper();
  }

  /** Takes back and stops the n instances idle longest in the data plane. */
  #reclaimIdle(n: number): void {
    if (!this.#lending || n <= 0) return;
    const byId = new Map([...this.#members].map((m) => [m.vm.id, m]));
    for (const { tag } of this.#lending.stats().idleTags.slice(0, n)) {
      const m = byId.get(tag);
      if (m && this.#lending.reclaim(m.vm) === "back") this.#remove(m);
    }
  }

  #member(tag: number): Member | undefined {
    for (const m of this.#members) if (m.vm.id === tag) return m;
    return undefined;
  }

  /** The data plane wants one more instance for a queued request. */
  onNeed(): void {
    try {
      this.#spawn("need").catch(() => {}); // failures reach startFailed
    } catch (e) {
      this.#lending?.startFailed(this.#startError(e));
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
      const m = this.#member(tag);
      if (!m) continue;
      m.lastUsed = now;
      this.#logs.drain(m.vm, m.vm.id);
    }
    this.#answered.clear();
  }

  /** A reclaimed instance finished its request and is ours again. */
  onRetired(tag: number): void {
    const m = this.#member(tag);
    if (m) this.#remove(m);
    this.#checkDrained();
  }

  /**
   * Instance tag died under a request (rc: libsure's -errno): the same
   * answer, log lines and replacement as a death in invoke(). Returns the
   * error the request got.
   */
  async onDead(
    tag: number,
    token: bigint,
    rc: number,
    requestId: string,
  ): Promise<HttpError | Error> {
    const m = this.#member(tag);
    const e = errorFromErrno("invoke", rc);
    this.#requests++;
    let fault: Fault | undefined;
    if (m) {
      this.#logs.drain(m.vm, m.vm.id);
      fault = readFault(m.vm) ?? placeholderFault("unknown", e.code);
      this.#remove(m);
      if (!this.#draining) this.#fillTo(this.#deployment.minInstances, "minimum");
    }
    const at = fault?.kind === "exception" && m ? await symbolise(this.image, fault.rip) : null;
    const err = invokeError(e, {
      fn: this.name,
      requestId,
      timeoutMs: this.#deployment.timeout,
      ioCap: this.ioCap,
      instance: tag,
      fault,
      at,
    }) as HttpError | Error;
    if (fault) this.#logDeath(tag, e, requestId, fault, err, at);
    if (this.#lending) this.#lending.answer(token, toHttpError(err));
    this.#checkDrained();
    return err;
  }

  #checkDrained(): void {
    if (!this.#draining || !this.#drained) return;
    if (this.instances + this.#creating + this.#waiters.length + this.#destroying === 0) {
      this.#starter.destroy();
      const done = this.#drained;
      this.#drained = undefined;
      done();
    }
  }
}
