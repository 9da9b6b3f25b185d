/**
 * One chain in service: its pool (ffi/chain.ts), one instance per step, and
 * the completion pump. The gateway copies a request body once into the pool
 * and the response once out; in between, the chain's VMs hand descriptors to
 * each other without the node.
 */
import {
  addSidecarStats,
  Chain,
  type Completion,
  emptySidecarStats,
  type Fault,
  Instance,
  NODE_GW,
  type SidecarLimits,
  type SidecarStats,
  Template,
} from "../../ffi/mod.ts";
import {
  BogusDescriptorError,
  DeadlineExceededError,
  FunctionFaultError,
  FunctionTimeoutError,
  OverloadedError,
  PoolExhaustedError,
  TooManyRequestsError,
} from "../errors.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Logger } from "../log.ts";
import { type MemoryBudget, vmBytes } from "../scheduler/budget.ts";

/** A chain step's request/response areas (CHAIN_IO_CAP in libsure/src/instance.c). */
const CHAIN_IO_CAP = 4096;
import type { ChainSpec } from "./spec.ts";

export interface StepImage {
  image: Uint8Array;
  memory: number;
  /** What the step's library sidecar enforces (runtime/scheduler/limits.ts). */
  limits?: SidecarLimits;
}

export interface ChainResult {
  status: number;
  body: Uint8Array<ArrayBuffer>;
}

interface Pending {
  resolve(r: ChainResult): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
  timedOut: boolean;
  requestId: string;
}

const NO_FAULT: Fault = {
  kind: "none",
  vector: 0,
  name: "none",
  errorCode: 0n,
  address: 0n,
  rip: 0n,
};

const MIB = 1048576;

/** A step's template and the image it was made from. */
type StepTemplate = { template: Template; image: Uint8Array } | undefined;

/**
 * The instance of a chain step: a clone of the step's template, which is
 * made first (booted as that step, stopped after init) when there is none
 * for this image yet. So a restart after a fault or timeout is a clone, and
 * init runs once per step and image.
 */
async function startStep(
  chain: Chain,
  step: number,
  img: StepImage,
  templates: StepTemplate[],
  log: (line: string) => void,
): Promise<Instance> {
  let t = templates[step];
  if (t && t.image !== img.image) {
    t.template.destroy(); // redeployed function: a template of the new image
    t = templates[step] = undefined;
  }
  if (!t) {
    const template = await Template.createInChain(chain.handle, step, img.image, img.memory);
    t = templates[step] = { template, image: img.image };
    for (const line of template.drainLog()) log(line); // what init said, once
  }
  const inst = await t.template.clone(5000);
  if (img.limits) inst.configureSidecar(img.limits);
  return inst;
}

/** Completion batches between two reads of the steps' log rings. */
const LOG_DRAIN_EVERY = 64;

/** SURE_RING_SLOTS: a chain never has more requests in flight than a ring holds. */
const MAX_SLOTS = 1024;

export class ChainRuntime {
  readonly chain: Chain;
  #instances: (Instance | null)[];
  #restarting: (Promise<void> | null)[];
  #pending = new Map<number, Pending>();
  #closed = false;
  #accepting = true;
  #pump: Promise<void>;
  #releaseBudget: () => void = () => {};
  /** Each step's template: restarts are clones of it, not boots. */
  #templates: StepTemplate[];
  #logs: LogHub | undefined;
  /** Sidecar counters of each step's instances already destroyed. */
  #retiredSidecar: SidecarStats[] = [];
  readonly errors = {
    fault: 0,
    timeout: 0,
    bogus: 0,
    loop: 0,
    overloaded: 0,
    rejected: 0,
    deadline: 0,
  };
  requests = 0;

  private constructor(
    readonly spec: ChainSpec,
    readonly images: StepImage[],
    readonly logger: Logger,
    chain: Chain,
    instances: Instance[],
    templates: StepTemplate[],
  ) {
    this.chain = chain;
    this.#instances = instances;
    this.#templates = templates;
    this.#restarting = instances.map(() => null);
    this.#pump = this.#run();
  }

  /**
   * Builds the pool and boots one VM per step. The chain's whole memory (its
   * pool and every step's VM) is reserved in the node's budget first, and
   * given back when the chain closes.
   */
  static async start(
    spec: ChainSpec,
    images: StepImage[],
    logger: Logger,
    budget: MemoryBudget,
    logs?: LogHub,
  ): Promise<ChainRuntime> {
    // Per step: its instance and its template (guest RAM).
    const bytes = spec.pool.buffers * spec.pool.bufferSize +
      images.reduce((sum, img) => sum + vmBytes(img.memory, CHAIN_IO_CAP) + img.memory * MIB, 0);
    const release = budget.reserve(bytes, `chain ${spec.name}`);
    try {
      const rt = await ChainRuntime.#boot(spec, images, logger);
      rt.#releaseBudget = release;
      rt.#logs = logs;
      return rt;
    } catch (e) {
      release();
      throw e;
    }
  }

  static async #boot(spec: ChainSpec, images: StepImage[], logger: Logger): Promise<ChainRuntime> {
    const index = new Map(spec.steps.map((s, i) => [s, i]));
    const routes = spec.steps.map((s, i) => {
      const listed = spec.routes?.[s];
      if (listed) return listed.map((t) => index.get(t)!);
      return i + 1 < spec.steps.length ? [i + 1] : [];
    });
    // Without a choice by the function: the first hop it may take, else finish.
    const defaultNext = routes.map((r) => (r.length ? r[0] : NODE_GW));
    const chain = Chain.create({
      steps: spec.steps,
      routes,
      defaultNext,
      buffers: spec.pool.buffers,
      bufferSize: spec.pool.bufferSize,
      slots: Math.min(MAX_SLOTS, Math.floor(spec.pool.buffers / 2)),
    });
    const instances: Instance[] = [];
    const templates: StepTemplate[] = [];
    try {
      for (let i = 0; i < spec.steps.length; i++) {
        instances.push(
          await startStep(
            chain,
            i,
            images[i],
            templates,
            (line) => logger("info", line, { chain: spec.name, function: spec.steps[i] }),
          ),
        );
      }
    } catch (e) {
      await Promise.all(instances.map((inst) => inst.destroy()));
      for (const t of templates) t?.template.destroy();
      chain.destroy();
      throw e;
    }
    return new ChainRuntime(spec, images, logger, chain, instances, templates);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Runs one request through the chain; trace: the W3C context bytes its steps receive. */
  invoke(body: Uint8Array, requestId: string, trace?: Uint8Array): Promise<ChainResult> {
    // Being replaced or removed: new requests go elsewhere (or retry).
    if (!this.#accepting) throw new OverloadedError(this.name);
    const a = this.chain.alloc(Math.max(body.byteLength, this.spec.reserve, 1));
    if (!a) {
      this.errors.overloaded++;
      throw new PoolExhaustedError(this.name);
    }
    this.requests++;
    // The one copy in: the body lands in the chain's pool, where every step reads it.
    this.chain.buffers.set(body, a.offset);
    this.chain.countCopy(body.byteLength, 0);
    return new Promise<ChainResult>((resolve, reject) => {
      const timer = setTimeout(() => this.#timeout(a.slot), this.spec.timeout);
      this.#pending.set(a.slot, { resolve, reject, timer, timedOut: false, requestId });
      try {
        if (trace) this.chain.setTrace(a.slot, trace);
        this.chain.submit(a.slot, body.byteLength);
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(a.slot);
        this.chain.free(a.slot);
        reject(e);
      }
    });
  }

  /** The step holding a late request is stopped; its requests fail, it restarts. */
  #timeout(slot: number): void {
    const p = this.#pending.get(slot);
    if (!p) return;
    p.timedOut = true;
    this.errors.timeout++;
    const step = this.chain.locate(slot);
    const held = step >= 0 && step < this.spec.steps.length;
    if (held && this.#instances[step] && !this.#restarting[step]) {
      this.logger("warn", "chain request timed out: restarting its step", {
        chain: this.name,
        function: this.spec.steps[step],
        requestId: p.requestId,
      });
      this.#restart(step);
      return; // its failure completion answers the request
    }
    // Nobody can answer it now (lost between steps, or its step is down or
    // restarting): answer now and take the slot back. Freeing bumps the slot's
    // generation, so a descriptor still queued for it is dropped as stale.
    this.#pending.delete(slot);
    p.reject(new FunctionTimeoutError(this.name, this.spec.timeout));
    this.chain.free(slot);
    if (held && !this.#instances[step]) this.#restart(step); // a failed restart: try again
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let done: Completion[];
      try {
        done = await this.chain.wait(1000);
      } catch (e) {
        this.logger("error", `chain ${this.name}: wait failed: ${(e as Error).message}`, {});
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const c of done) this.#complete(c);
      // Under load every LOG_DRAIN_EVERY batches; when idle, at every quiet wait.
      if (done.length === 0 || ++this.#sinceLogDrain >= LOG_DRAIN_EVERY) {
        this.#sinceLogDrain = 0;
        this.#drainLogs();
      }
    }
  }

  #complete(c: Completion): void {
    const p = this.#pending.get(c.slot);
    if (!p) return; // libsure reports a slot once and forgets it when freed: not expected

    this.#pending.delete(c.slot);
    clearTimeout(p.timer);
    const fn = this.spec.steps[c.node] ?? this.name;
    if (c.error === "ok" && c.reason !== "handler") {
      // A step's sidecar refused it before the function ran.
      this.chain.free(c.slot);
      if (c.reason === "deadline") {
        this.errors.deadline++;
        p.reject(new DeadlineExceededError(fn, this.images[c.node]?.limits?.deadlineMs ?? 0));
      } else {
        this.errors.rejected++;
        p.reject(new TooManyRequestsError(fn, c.reason === "rate" ? "rate" : "concurrency"));
      }
      return;
    }
    if (c.error === "ok" || c.error === "loop") {
      if (c.error === "loop") this.errors.loop++;
      // The one copy out, before the slot goes back to the pool (zeroed).
      const body = this.chain.buffers.slice(c.offset, c.offset + c.len);
      this.chain.countCopy(0, c.len);
      this.chain.free(c.slot);
      p.resolve({ status: c.error === "loop" ? 508 : c.status, body });
      return;
    }
    this.chain.free(c.slot);
    const fault = this.#faultOf(c.node);
    if (p.timedOut) {
      p.reject(new FunctionTimeoutError(this.name, this.spec.timeout));
    } else if (c.error === "bogus") {
      this.errors.bogus++;
      p.reject(new BogusDescriptorError(this.name, fn));
    } else {
      this.errors.fault++;
      p.reject(new FunctionFaultError(fn, fault, p.requestId));
    }
    if (c.node < this.spec.steps.length) this.#restart(c.node);
  }

  #lastFault: Fault[] = [];
  #sinceLogDrain = 0;

  /** What stopped a step's instance (read before it is replaced). */
  #faultOf(step: number): Fault {
    const inst = this.#instances[step];
    if (inst) {
      try {
        const f = inst.fault();
        if (f.kind !== "none") this.#lastFault[step] = f;
      } catch {
        // destroyed meanwhile: the last recorded fault stands
      }
    }
    return this.#lastFault[step] ?? NO_FAULT;
  }

  #drainLog(step: number, inst: Instance): void {
    const fn = this.spec.steps[step];
    for (const line of inst.drainLog()) {
      this.logger("info", line, { chain: this.name, function: fn });
      this.#logs?.add(fn, line, { chain: this.name, instance: inst.id });
    }
  }

  /** Keeps a step instance's sidecar counters before it goes away. */
  #fold(step: number, inst: Instance): void {
    const st = inst.sidecarStats();
    if (st) {
      this.#retiredSidecar[step] = addSidecarStats(
        this.#retiredSidecar[step] ?? emptySidecarStats(),
        st,
      );
    }
  }

  /** The sidecar counters of a step over all its instances. */
  stepSidecarStats(step: number): SidecarStats {
    let sum = this.#retiredSidecar[step] ?? emptySidecarStats();
    const live = this.#instances[step]?.sidecarStats();
    if (live) sum = addSidecarStats(sum, live);
    return sum;
  }

  /** Drains the steps' log lines (the pump calls this as completions arrive). */
  #drainLogs(): void {
    this.#instances.forEach((inst, i) => inst && this.#drainLog(i, inst));
  }

  /** Stops step `step` (if it still runs) and boots a fresh instance of it. */
  #restart(step: number): void {
    if (this.#restarting[step] || this.#closed) return;
    this.#restarting[step] = (async () => {
      const old = this.#instances[step];
      if (old) {
        this.#faultOf(step);
        this.#drainLog(step, old);
        this.#fold(step, old);
        this.#instances[step] = null;
        await old.destroy(); // fails whatever the step still held
      }
      try {
        this.#instances[step] = await startStep(
          this.chain,
          step,
          this.images[step],
          this.#templates,
          (line) => {
            const fn = this.spec.steps[step];
            this.logger("info", line, { chain: this.name, function: fn });
            this.#logs?.add(fn, line, { chain: this.name, instance: "template" });
          },
        );
      } catch (e) {
        this.logger("error", `chain ${this.name}: cannot restart step: ${(e as Error).message}`, {
          function: this.spec.steps[step],
        });
      } finally {
        this.#restarting[step] = null;
      }
    })();
  }

  /** Replaces step `fn`'s instance with one of a new image (function redeployed). */
  async replaceImage(fn: string, img: StepImage): Promise<void> {
    const step = this.spec.steps.indexOf(fn);
    if (step < 0) return;
    this.images[step] = img;
    await this.#restarting[step];
    this.#restart(step);
    await this.#restarting[step];
  }

  get instances(): number {
    return this.#instances.filter((i) => i !== null).length;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Takes no new requests, lets those in flight finish (up to the chain's
   * timeout), then stops the pump, fails what is left, destroys the VMs and
   * the pool.
   */
  async close(): Promise<void> {
    if (!this.#accepting) return;
    this.#accepting = false;
    const deadline = Date.now() + this.spec.timeout;
    while (this.#pending.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // Whatever is still here ran out of time: answer 504, not a made-up fault.
    for (const p of this.#pending.values()) p.timedOut = true;
    this.#closed = true;
    await Promise.all(this.#restarting);
    this.#instances.forEach((inst, i) => {
      if (!inst) return;
      this.#drainLog(i, inst);
      this.#fold(i, inst);
    });
    await Promise.all(this.#instances.map((inst) => inst?.destroy()));
    this.#instances = this.#instances.map(() => null);
    this.chain.wake();
    await this.#pump;
    // The pump is gone: collect the failures of the destroyed steps by hand.
    for (const c of await this.chain.wait(0)) this.#complete(c);
    for (const [slot, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new FunctionTimeoutError(this.name, this.spec.timeout));
      this.chain.free(slot);
    }
    this.#pending.clear();
    // Templates point at the chain: they go first.
    for (const t of this.#templates) t?.template.destroy();
    this.chain.destroy();
    this.#releaseBudget();
  }
}
