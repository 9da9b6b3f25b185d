/**
 * The instances of one deployed function, scaled on demand.
 *
 * - New instances are copy-on-write clones of the function's template (its
 *   VM right after init, built once per deployment), or fresh boots when the
 *   deployment says coldStart "boot".
 * - Scale up on concurrency, as Knative's autoscaler does: another instance
 *   starts while the requests in flight (running + queued) exceed
 *   targetConcurrency per instance, up to maxInstances. A request that finds
 *   no free instance waits in a FIFO queue (at most `maxQueue`, then 503), so
 *   a request to a function at zero instances is held until its clone is up.
 * - Scale down: an instance idle for idleTimeout ms is stopped, down to
 *   minInstances (0: the function scales to zero; the template stays).
 * - Every instance (and the template) reserves its memory in the node's
 *   budget first; past the budget the request gets a 503, never an OOM.
 * - An instance that faults, times out or breaks the protocol is destroyed;
 *   a replacement starts only if someone waits or minInstances needs it.
 */
import {
  addSidecarStats,
  emptySidecarStats,
  type Fault,
  Instance,
  type InvokeResult,
  isFatal,
  type RequestRecord,
  type SidecarLimits,
  type SidecarStats,
  SureBusyError,
  SureError,
  SureTimeoutError,
  SureTooBigError,
} from "../../ffi/mod.ts";
import {
  DeadlineExceededError,
  FunctionFaultError,
  FunctionStartError,
  FunctionTimeoutError,
  InternalError,
  MemoryBudgetError,
  OverloadedError,
  PayloadTooLargeError,
  TooManyRequestsError,
  ValidationError,
} from "../errors.ts";
import type { LogHub } from "../logs/hub.ts";
import { sidecarLimits } from "./limits.ts";
import { TemplateSlot } from "./template_slot.ts";
import type { Logger } from "../log.ts";
import type { ColdStart } from "../settings/settings.ts";
import type { Deployment } from "../store/store.ts";
import { type MemoryBudget, vmBytes } from "./budget.ts";

export interface PoolOptions {
  maxQueue: number;
  initTimeoutMs: number;
  logger: Logger;
  budget: MemoryBudget;
  /** Where the function's own log lines go (sure logs). */
  logs?: LogHub;
}

export const DEFAULT_POOL_OPTIONS = { maxQueue: 1024, initTimeoutMs: 5000 };

/** Smallest request/response area: responses may be larger than requests. */
const MIN_IO_CAP = 1 << 20;
/** How often the idle check runs, at most and at least (ms). */
const REAP_PERIOD_MAX = 1000;
const REAP_PERIOD_MIN = 5;

interface Waiter {
  resolve: (slot: Slot) => void;
  reject: (err: unknown) => void;
}

/** One live instance and what the pool knows about it. */
interface Slot {
  inst: Instance;
  busy: boolean;
  startedAt: number; // Date.now()
  lastUsed: number; // performance.now()
  startMs: number;
  start: ColdStart;
  /** Gives the instance's memory back to the budget. */
  release: () => void;
  /** Scaled down by hand while busy: destroy instead of parking it idle. */
  retire: boolean;
}

export interface InstanceInfo {
  id: number;
  state: "idle" | "busy";
  startedAt: string;
  ageMs: number;
  idleMs: number;
  requests: number;
  startMs: number;
  start: ColdStart;
}

export interface PoolStatus {
  function: string;
  digest: string;
  minInstances: number;
  maxInstances: number;
  targetConcurrency: number;
  idleTimeout: number;
  coldStart: ColdStart;
  instances: InstanceInfo[];
  starting: number;
  queued: number;
  /** Most instances alive at once since the deploy. */
  peakInstances: number;
  /** Instances started because a request found none free. */
  coldStarts: number;
  requests: number;
  template: { residentBytes: number; clones: number } | null;
}

export class Pool {
  readonly ioCap: number;
  #deployment: Deployment;
  #slots = new Set<Slot>();
  /** Free instances; the most recently used last, so the oldest idle ones are reaped. */
  #idle: Slot[] = [];
  #busy = 0;
  #creating = 0;
  /** Instances whose teardown (on the blocking pool) has not finished. */
  #destroying = 0;
  #waiters: Waiter[] = [];
  #draining = false;
  #drained: (() => void) | undefined;
  #drainPromise: Promise<void> | undefined;
  readonly #template: TemplateSlot;
  #reaper: ReturnType<typeof setInterval> | undefined;
  #peak = 0;
  #coldStarts = 0;
  #requests = 0;
  /** Sidecar counters of the instances already destroyed. */
  #retiredSidecar: SidecarStats = emptySidecarStats();

  constructor(
    deployment: Deployment,
    readonly image: Uint8Array,
    readonly opts: PoolOptions,
  ) {
    this.#deployment = deployment;
    const want = Math.max(deployment.maxBody, MIN_IO_CAP);
    this.ioCap = Math.ceil(want / 4096) * 4096;
    this.#template = new TemplateSlot({
      name: deployment.name,
      image,
      memMib: deployment.memory,
      ioCap: this.ioCap,
      initTimeoutMs: opts.initTimeoutMs,
      budget: opts.budget,
      logger: opts.logger,
      logs: opts.logs,
    });
  }

  get deployment(): Deployment {
    return this.#deployment;
  }

  get name(): string {
    return this.#deployment.name;
  }

  /** Live instances (idle + busy). */
  get instances(): number {
    return this.#slots.size;
  }

  get queued(): number {
    return this.#waiters.length;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Bytes one instance of this function reserves in the budget. */
  get instanceBytes(): number {
    return vmBytes(this.#deployment.memory, this.ioCap);
  }

  /**
   * Puts the function into service: builds its template and starts
   * max(minInstances, 1) instances in the background (the first request
   * after a deploy is warm; idle ones are reaped later like any other).
   */
  start(): void {
    if (this.#draining) return;
    const want = Math.max(this.#deployment.minInstances, 1);
    this.#fillTo(want, "initial");
  }

  /** New scaling settings (same image): applied to the live instances now. */
  updateScaling(dep: Deployment): void {
    this.#deployment = dep;
    for (const slot of this.#slots) slot.inst.configureSidecar(this.#sidecarLimits());
    this.#fillTo(dep.minInstances, "minimum");
    this.#armReaper();
  }

  #sidecarLimits(): SidecarLimits {
    return sidecarLimits(this.#deployment, false);
  }

  /** The latest requests the live instances' sidecars recorded, newest first. */
  requestRecords(): (RequestRecord & { instance: number })[] {
    const all = [...this.#slots].flatMap((s) =>
      s.inst.requestRecords().map((r) => ({ instance: s.inst.id, ...r }))
    );
    return all.sort((a, b) => a.ageMs - b.ageMs);
  }

  /** The sidecar counters of every instance this deployment ever had. */
  sidecarStats(): SidecarStats {
    let sum = this.#retiredSidecar;
    for (const slot of this.#slots) {
      const st = slot.inst.sidecarStats();
      if (st) sum = addSidecarStats(sum, st);
    }
    return sum;
  }

  /**
   * Runs one request on a free instance. trace: the W3C context bytes the
   * function receives (ffi Instance.setTrace). Throws HttpError subclasses.
   */
  async invoke(body: Uint8Array, requestId: string, trace?: Uint8Array): Promise<InvokeResult> {
    if (body.byteLength > this.ioCap) throw new PayloadTooLargeError(this.ioCap);
    const t0 = performance.now();
    const slot = await this.#acquire();
    const inst = slot.inst;
    const d = this.#deployment;
    if (d.deadline > 0 && performance.now() - t0 > d.deadline) {
      // It waited for an instance past its deadline: answer now, run nothing.
      this.#release(slot);
      throw new DeadlineExceededError(this.name, d.deadline);
    }
    let result: InvokeResult;
    this.#requests++;
    if (trace) inst.setTrace(trace);
    try {
      result = await inst.invoke(body, d.timeout);
    } catch (e) {
      this.#drainLog(inst);
      if (isFatal(e)) {
        const fault = this.#retire(slot, e as SureError, requestId);
        if (e instanceof SureTimeoutError) {
          throw new FunctionTimeoutError(this.name, this.#deployment.timeout);
        }
        throw new FunctionFaultError(this.name, fault, requestId);
      }
      this.#release(slot);
      if (e instanceof SureTooBigError) throw new PayloadTooLargeError(this.ioCap);
      if (e instanceof SureBusyError) throw new InternalError(`instance ${inst.id} was busy`);
      throw e;
    }
    this.#drainLog(inst);
    this.#release(slot);
    if (result.reason === "rate") throw new TooManyRequestsError(this.name, "rate");
    if (result.reason === "deadline") throw new DeadlineExceededError(this.name, d.deadline);
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
    const supply = this.instances + this.#creating;
    if (n > supply) {
      const need = (n - supply) * this.instanceBytes;
      const b = this.opts.budget;
      if (b.usedBytes + need > b.limitBytes) {
        throw new MemoryBudgetError(
          `${n - supply} instance(s) of ${this.name}`,
          need,
          b.usedBytes,
          b.limitBytes,
        );
      }
      const started = Array.from({ length: n - supply }, () => this.#spawn("manual"));
      const results = await Promise.allSettled(started);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw this.#startError((failed as PromiseRejectedResult).reason);
      return;
    }
    let excess = this.instances - n;
    // Oldest idle first, then whichever busy ones remain (after their request).
    while (excess > 0 && this.#idle.length > 0) {
      this.#remove(this.#idle.shift()!);
      excess--;
    }
    for (const slot of this.#slots) {
      if (excess <= 0) break;
      if (slot.busy && !slot.retire) {
        slot.retire = true;
        excess--;
      }
    }
    this.#checkDrained();
  }

  /** What the admin API shows for this function's instances. */
  status(): PoolStatus {
    const now = performance.now();
    const wall = Date.now();
    const d = this.#deployment;
    const t = this.#template.ready;
    return {
      function: this.name,
      digest: d.digest,
      minInstances: d.minInstances,
      maxInstances: d.maxInstances,
      targetConcurrency: d.targetConcurrency,
      idleTimeout: d.idleTimeout,
      coldStart: d.coldStart,
      instances: [...this.#slots].map((s) => ({
        id: s.inst.id,
        state: s.busy ? "busy" : "idle",
        startedAt: new Date(s.startedAt).toISOString(),
        ageMs: wall - s.startedAt,
        idleMs: s.busy ? 0 : Math.round(now - s.lastUsed),
        requests: s.inst.requests,
        startMs: Math.round(s.startMs * 1000) / 1000,
        start: s.start,
      })),
      starting: this.#creating,
      queued: this.#waiters.length,
      peakInstances: this.#peak,
      coldStarts: this.#coldStarts,
      requests: this.#requests,
      template: t ? { residentBytes: t.residentBytes, clones: t.clones } : null,
    };
  }

  /**
   * Stops taking the pool's instances into service: in-flight and queued
   * requests finish, then every instance and the template are destroyed.
   * Resolves when none is left.
   */
  drain(): Promise<void> {
    if (this.#drainPromise) return this.#drainPromise;
    this.#draining = true;
    this.#template.close();
    this.#stopReaper();
    this.#drainPromise = new Promise<void>((resolve) => (this.#drained = resolve));
    if (this.#waiters.length === 0) {
      for (const slot of this.#idle.splice(0)) this.#remove(slot);
    }
    this.#checkDrained();
    return this.#drainPromise;
  }

  #acquire(): Promise<Slot> {
    const slot = this.#idle.pop();
    if (slot) {
      slot.busy = true;
      this.#busy++;
      return Promise.resolve(slot);
    }
    if (this.#draining && this.instances + this.#creating === 0) {
      // Nothing will ever be released here again (the pool was replaced).
      throw new InternalError(`function ${this.name} is being replaced`);
    }
    const d = this.#deployment;
    const supply = this.instances + this.#creating;
    const demand = this.#busy + this.#waiters.length + 1;
    if (d.concurrencyLimit > 0 && demand > d.concurrencyLimit * d.maxInstances) {
      throw new TooManyRequestsError(this.name, "concurrency");
    }
    let spawned = false;
    if (!this.#draining && supply < d.maxInstances && supply * d.targetConcurrency < demand) {
      try {
        this.#spawn("demand").catch(() => {}); // failures reach the waiters
        spawned = true;
      } catch (e) {
        // Over budget: wait for a running instance, if there is any at all.
        if (supply === 0) throw e;
      }
    }
    if (!spawned && this.#waiters.length >= this.opts.maxQueue) {
      throw new OverloadedError(this.name);
    }
    // Whoever frees or creates an instance next hands it to the oldest waiter.
    return new Promise<Slot>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Starts instances in the background until there are n (errors are logged). */
  #fillTo(n: number, why: "initial" | "minimum"): void {
    const max = this.#deployment.maxInstances;
    while (!this.#draining && this.instances + this.#creating < Math.min(n, max)) {
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
  #spawn(why: "demand" | "initial" | "minimum" | "manual" | "replace"): Promise<void> {
    const release = this.opts.budget.reserve(this.instanceBytes, `an instance of ${this.name}`);
    this.#creating++;
    const t0 = performance.now();
    const mode = this.#deployment.coldStart;
    return this.#newInstance(mode).then(
      (inst) => {
        this.#creating--;
        const startMs = performance.now() - t0;
        if (why === "demand") this.#coldStarts++;
        this.opts.logger("debug", "instance started", {
          function: this.name,
          instance: inst.id,
          start: mode,
          startMs: Math.round(startMs * 1000) / 1000,
          why,
        });
        inst.configureSidecar(this.#sidecarLimits());
        const slot: Slot = {
          inst,
          busy: true,
          startedAt: Date.now(),
          lastUsed: performance.now(),
          startMs,
          start: mode,
          release,
          retire: false,
        };
        this.#slots.add(slot);
        this.#peak = Math.max(this.#peak, this.#slots.size);
        this.#busy++;
        this.#release(slot);
      },
      (err) => {
        this.#creating--;
        release();
        this.opts.logger("error", `instance could not start: ${(err as Error).message}`, {
          function: this.name,
        });
        // With nothing left that could ever serve them, queued requests fail now
        // rather than wait forever.
        if (this.instances + this.#creating === 0) {
          const fail = this.#startError(err);
          for (const w of this.#waiters.splice(0)) w.reject(fail);
        }
        this.#checkDrained();
        throw err;
      },
    );
  }

  #startError(err: unknown) {
    if (err instanceof MemoryBudgetError) return err;
    return new FunctionStartError(this.name, (err as Error).message);
  }

  async #newInstance(mode: ColdStart): Promise<Instance> {
    const opts = {
      memMib: this.#deployment.memory,
      ioCap: this.ioCap,
      initTimeoutMs: this.opts.initTimeoutMs,
    };
    if (mode === "boot") return await Instance.create(this.image, opts);
    const template = await this.#template.get();
    return await template.clone(this.opts.initTimeoutMs);
  }

  /** Returns a healthy instance: to the oldest waiter, else to the idle list. */
  #release(slot: Slot): void {
    slot.lastUsed = performance.now();
    if (!slot.retire) {
      const w = this.#waiters.shift();
      if (w) {
        w.resolve(slot);
        return;
      }
    }
    this.#busy--;
    slot.busy = false;
    if (this.#draining || slot.retire) {
      this.#remove(slot);
      // A retired instance's waiters need someone else.
      if (this.#waiters.length > 0 && !this.#draining) this.#replace();
    } else {
      this.#idle.push(slot);
      this.#armReaper();
    }
    this.#checkDrained();
  }

  /** Takes a dead instance out of service; starts a replacement if one is needed. */
  #retire(slot: Slot, err: SureError, requestId: string): Fault {
    const inst = slot.inst;
    let fault: Fault;
    try {
      fault = inst.fault();
    } catch {
      fault = { kind: "unknown", vector: 0, name: err.code, errorCode: 0n, address: 0n, rip: 0n };
    }
    this.#busy--;
    slot.busy = false;
    this.#remove(slot);
    this.opts.logger("warn", `instance died: ${fault.name} (${err.code})`, {
      function: this.name,
      instance: inst.id,
      requestId,
      fault: { kind: fault.kind, vector: fault.vector, rip: "0x" + fault.rip.toString(16) },
    });
    if (this.#waiters.length > 0 && (!this.#draining || this.instances === 0)) this.#replace();
    else if (!this.#draining) this.#fillTo(this.#deployment.minInstances, "minimum");
    this.#checkDrained();
    return fault;
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
  #remove(slot: Slot): void {
    this.#slots.delete(slot);
    const i = this.#idle.indexOf(slot);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#drainLog(slot.inst);
    const st = slot.inst.sidecarStats();
    if (st) this.#retiredSidecar = addSidecarStats(this.#retiredSidecar, st);
    this.#destroying++;
    slot.inst.destroy().then(() => {
      this.#destroying--;
      slot.release();
      this.#checkDrained();
    });
  }

  /** Starts the idle check while instances above minInstances idle. */
  #armReaper(): void {
    if (this.#reaper !== undefined || this.#draining) return;
    if (this.#idle.length === 0 || this.instances <= this.#deployment.minInstances) return;
    const period = Math.min(
      REAP_PERIOD_MAX,
      Math.max(REAP_PERIOD_MIN, Math.floor(this.#deployment.idleTimeout / 4)),
    );
    const id = setInterval(() => this.#reap(), period);
    Deno.unrefTimer(id as unknown as number); // idle checks never keep the process alive
    this.#reaper = id;
  }

  #stopReaper(): void {
    if (this.#reaper !== undefined) clearInterval(this.#reaper);
    this.#reaper = undefined;
  }

  #reap(): void {
    const d = this.#deployment;
    const cutoff = performance.now() - d.idleTimeout;
    let stopped = 0;
    while (
      this.#idle.length > 0 && this.instances > d.minInstances && this.#idle[0].lastUsed <= cutoff
    ) {
      this.#remove(this.#idle.shift()!);
      stopped++;
    }
    if (stopped > 0) {
      this.opts.logger("debug", "idle instances stopped", {
        function: this.name,
        stopped,
        left: this.instances,
      });
    }
    if (this.#idle.length === 0 || this.instances <= d.minInstances) this.#stopReaper();
  }

  #drainLog(inst: Instance): void {
    for (const msg of inst.drainLog()) {
      this.opts.logger("info", msg, { function: this.name, instance: inst.id });
      this.opts.logs?.add(this.name, msg, { instance: inst.id });
    }
  }

  #checkDrained(): void {
    if (!this.#draining || !this.#drained) return;
    if (this.instances + this.#creating + this.#waiters.length + this.#destroying === 0) {
      this.#template.destroy();
      const done = this.#drained;
      this.#drained = undefined;
      done();
    }
  }
}
