/**
 * One chain in service: its pool (ffi/chain.ts), one instance per step
 * (step.ts), and the completion pump. The gateway copies a request body once
 * into the pool and the response once out; in between, the chain's VMs hand
 * descriptors to each other without the node.
 */
import {
  Chain,
  type Completion,
  emptySidecarStats,
  type HeaderList,
  NODE_GW,
  PLAIN_HEAD,
  type RequestHead,
  type SidecarStats,
  Template,
} from "../../ffi/mod.ts";
import {
  BadResponseHeaderError,
  BogusDescriptorError,
  FunctionTimeoutError,
  OverloadedError,
  PoolExhaustedError,
} from "../errors.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Logger } from "../log.ts";
import { type MemoryBudget, vmBytes } from "../scheduler/budget.ts";
import { deathError, placeholderFault, refusalError } from "../vmhost/failures.ts";
import { symbolise } from "../vmhost/symbolise.ts";
import type { ChainSpec } from "./spec.ts";
import { LIMITS } from "../../ffi/abi.ts";
import { ChainStep, type StepImage } from "./step.ts";

export type { StepImage } from "./step.ts";

export interface ChainResult {
  status: number;
  body: Uint8Array<ArrayBuffer>;
  /** Response headers set by any of the steps it passed. */
  headers?: HeaderList;
}

interface Pending {
  resolve(r: ChainResult): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
  timedOut: boolean;
  requestId: string;
}

const MIB = 1048576;

/** The fault named when a failure blames no step (the gateway node). */
const NO_STEP_FAULT = placeholderFault("none", "none");

/** Completion batches between two reads of the steps' log rings. */
const LOG_DRAIN_EVERY = 64;

/** Requests in flight per chain at most: a ring must hold every one of them. */
const MAX_SLOTS = Math.min(LIMITS.chainMaxSlots, LIMITS.ringSlots);

export class ChainRuntime {
  readonly chain: Chain;
  readonly #steps: ChainStep[];
  #pending = new Map<number, Pending>();
  #closed = false;
  #accepting = true;
  #pump: Promise<void>;
  #sinceLogDrain = 0;
  #releaseBudget: () => void = () => {};
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
    readonly logger: Logger,
    chain: Chain,
    steps: ChainStep[],
  ) {
    this.chain = chain;
    this.#steps = steps;
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
      images.reduce(
        (sum, img) => sum + vmBytes(img.memory, LIMITS.chainIoCap) + img.memory * MIB,
        0,
      );
    const release = budget.reserve(bytes, `chain ${spec.name}`);
    try {
      const rt = await ChainRuntime.#boot(spec, images, logger, logs);
      rt.#releaseBudget = release;
      return rt;
    } catch (e) {
      release();
      throw e;
    }
  }

  static async #boot(
    spec: ChainSpec,
    images: StepImage[],
    logger: Logger,
    logs?: LogHub,
  ): Promise<ChainRuntime> {
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
    const steps = spec.steps.map((fn, i) =>
      new ChainStep(
        fn,
        images[i],
        logger,
        (img) => Template.createInChain(chain.handle, i, img.image, img.memory, 5000, img.env),
        spec.name,
        logs,
      )
    );
    try {
      for (const step of steps) await step.start();
    } catch (e) {
      await Promise.all(steps.map((s) => s.vm?.destroy()));
      for (const s of steps) s.destroyTemplate();
      chain.destroy();
      throw e;
    }
    return new ChainRuntime(spec, logger, chain, steps);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Runs one request through the chain; trace: the W3C context bytes its steps receive. */
  invoke(
    body: Uint8Array,
    requestId: string,
    trace?: Uint8Array,
    head: RequestHead = PLAIN_HEAD,
  ): Promise<ChainResult> {
    // Being replaced or removed: new requests go elsewhere (or retry).
    if (!this.#accepting) throw new OverloadedError(this.name);
    const a = this.chain.alloc(Math.max(body.byteLength, this.spec.reserve, 1));
    if (!a) {
      this.errors.overloaded++;
      throw new PoolExhaustedError(this.name);
    }
    this.requests++;
    return new Promise<ChainResult>((resolve, reject) => {
      const timer = setTimeout(() => this.#timeout(a.slot), this.spec.timeout);
      this.#pending.set(a.slot, { resolve, reject, timer, timedOut: false, requestId });
      try {
        // The one copy in (libsure copies and counts it): the body lands in
        // the chain's pool, where every step reads it.
        this.chain.submit(a.slot, body, trace ?? null, head);
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
    const index = this.chain.locate(slot);
    const step = index >= 0 && index < this.#steps.length ? this.#steps[index] : undefined;
    if (step?.vm && !step.restarting) {
      this.logger("warn", "chain request timed out: restarting its step", {
        chain: this.name,
        function: step.fn,
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
    if (step && !step.vm) this.#restart(step); // a failed restart: try again
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
        for (const step of this.#steps) step.drainLog();
      }
    }
  }

  #complete(c: Completion): void {
    const p = this.#pending.get(c.slot);
    if (!p) return; // libsure reports a slot once and forgets it when freed: not expected

    this.#pending.delete(c.slot);
    clearTimeout(p.timer);
    const step = this.#steps[c.node];
    const fn = step?.fn ?? this.name;
    if (c.error === "ok" && c.reason === "failed") {
      // The step's handle() returned non-zero: its output was dropped, the
      // step keeps serving.
      this.chain.free(c.slot);
      p.reject(refusalError(fn, c.reason, 0, c.rc, p.requestId)!);
      return;
    }
    if (c.error === "ok" && c.reason !== "handler") {
      // A step's sidecar refused it before the function ran.
      this.chain.free(c.slot);
      if (c.reason === "deadline") this.errors.deadline++;
      else this.errors.rejected++;
      p.reject(refusalError(fn, c.reason, step?.image.limits?.deadlineMs ?? 0)!);
      return;
    }
    if (c.error === "ok" || c.error === "loop") {
      if (c.error === "loop") this.errors.loop++;
      const head = this.chain.responseHead(c.slot);
      // The one copy out (libsure copies, counts and frees the slot, zeroed).
      const body = this.chain.take(c);
      if (head.error) p.reject(new BadResponseHeaderError(this.name, head.error));
      else p.resolve({ status: c.error === "loop" ? 508 : c.status, body, headers: head.headers });
      return;
    }
    this.chain.free(c.slot);
    // Read before the restart replaces the instance (the step keeps the last fault).
    const fault = step ? step.fault() : NO_STEP_FAULT;
    const image = step?.image.image;
    const instance = step?.vm?.id;
    if (p.timedOut) {
      p.reject(new FunctionTimeoutError(this.name, this.spec.timeout));
    } else if (c.error === "bogus") {
      this.errors.bogus++;
      p.reject(new BogusDescriptorError(this.name, fn));
    } else {
      this.errors.fault++;
      // A step's fault is symbolised against that step's image (async: the
      // request is already out of #pending, nothing else answers it).
      const where = image && fault.kind === "exception"
        ? symbolise(image, fault.rip)
        : Promise.resolve(null);
      void where.then((at) => {
        const err = deathError(fn, fault, p.requestId, at);
        this.logger("warn", `chain ${this.name}: step died: ${err.message}`, {
          chain: this.name,
          function: fn,
          requestId: p.requestId,
          ...(at ? { at } : {}),
          ...(fault.reason ? { reason: fault.reason } : {}),
        });
        if (step && instance !== undefined) step.note(err.message, instance);
        p.reject(err);
      });
    }
    if (step) this.#restart(step);
  }

  /** The sidecar counters of a step over all its instances. */
  stepSidecarStats(step: number): SidecarStats {
    return this.#steps[step]?.sidecarStats() ?? emptySidecarStats();
  }

  /** Stops a step's instance (if it still runs) and starts a fresh one. */
  #restart(step: ChainStep): void {
    if (step.restarting || this.#closed) return;
    step.restarting = (async () => {
      await step.stop();
      try {
        await step.start();
      } catch (e) {
        this.logger("error", `chain ${this.name}: cannot restart step: ${(e as Error).message}`, {
          function: step.fn,
        });
      } finally {
        step.restarting = null;
      }
    })();
  }

  /** Replaces step `fn`'s instance with one of a new image (function redeployed). */
  async replaceImage(fn: string, img: StepImage): Promise<void> {
    const step = this.#steps.find((s) => s.fn === fn);
    if (!step) return;
    step.image = img;
    await step.restarting;
    this.#restart(step);
    await step.restarting;
  }

  get instances(): number {
    return this.#steps.filter((s) => s.vm !== null).length;
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
    await Promise.all(this.#steps.map((s) => s.restarting));
    await Promise.all(this.#steps.map((s) => s.stop()));
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
    for (const s of this.#steps) s.destroyTemplate();
    this.chain.destroy();
    this.#releaseBudget();
  }
}
