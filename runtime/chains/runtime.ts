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
  ChainStepStartError,
  FunctionTimeoutError,
  type HttpError,
  LoopDetectedError,
  OverloadedError,
  PoolExhaustedError,
} from "../errors.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Logger } from "../log.ts";
import { type MemoryBudget, vmBytes } from "../scheduler/budget.ts";
import { deathError, placeholderFault, refusalError } from "../vmhost/failures.ts";
import { symbolise } from "../vmhost/symbolise.ts";
import { type ChainSpec, stepNames } from "./spec.ts";
import { LIMITS } from "../../ffi/abi.ts";
import { ChainStep, type StepImage } from "./step.ts";
import type { ChainAttachment, ChainServing, ChainStepDown } from "./serving.ts";
import { Errno } from "../../ffi/abi.ts";

export type { StepImage } from "./step.ts";

/** Where a step runs when another node runs it: that node's name and data-plane address. */
export interface RemoteStep {
  node: string;
  addr: string;
}

/** A step another node runs has no VM here: its image is this placeholder. */
const NO_IMAGE: StepImage = { image: new Uint8Array(0), memory: 0 };

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

/** Served by the data plane: how often the steps' log rings are read. */
const DATAPLANE_LOG_DRAIN_MS = 250;

/** Served by the data plane: how long close() waits for a body still arriving into the pool. */
const RELEASE_WAIT_MS = 15000;

/** A step that cannot start is tried again after this long, doubled each time up to the most. */
const START_RETRY_FIRST_MS = 1000;
const START_RETRY_MAX_MS = 30000;

/** Requests in flight per chain at most: a ring must hold every one of them. */
const MAX_SLOTS = Math.min(LIMITS.chainMaxSlots, LIMITS.ringSlots);

export class ChainRuntime {
  readonly chain: Chain;
  readonly #steps: ChainStep[];
  #pending = new Map<number, Pending>();
  #closed = false;
  #accepting = true;
  #pump: Promise<void> | undefined;
  /** Served by libsure's data plane: its attachment (no pump here then). */
  #attachment: ChainAttachment | undefined;
  #logTimer: ReturnType<typeof setInterval> | undefined;
  #sinceLogDrain = 0;
  #releaseBudget: () => void = () => {};
  /** While a step cannot start: what every new request is answered (also by the data plane). */
  #cannotStart: ChainStepStartError | undefined;
  #cannotStartSince = "";
  #startRetry: ReturnType<typeof setTimeout> | undefined;
  #startRetryMs = 0;
  readonly errors = {
    fault: 0,
    timeout: 0,
    bogus: 0,
    loop: 0,
    overloaded: 0,
    rejected: 0,
    deadline: 0,
    unavailable: 0,
  };
  requests = 0;

  private constructor(
    readonly spec: ChainSpec,
    readonly logger: Logger,
    chain: Chain,
    steps: ChainStep[],
    serving?: ChainServing,
    remote: (RemoteStep | undefined)[] = [],
  ) {
    this.chain = chain;
    this.#steps = steps;
    if (!serving) {
      this.#pump = this.#run();
      return;
    }
    // The data plane runs every request; this side restarts steps and
    // explains deaths when it is told to, and reads the steps' logs.
    this.#attachment = serving.attach(chain.handle, {
      name: spec.name,
      maxBody: spec.maxBody,
      timeoutMs: spec.timeout,
      reserve: spec.reserve,
      stepDeadlineMs: steps.map((s) => s.image.limits?.deadlineMs ?? 0),
      stepNodes: remote,
    }, {
      done: (status, code, loop, count) => this.#served(status, code, loop, count),
      stepDown: (ev) => this.#stepDown(ev),
    });
    this.#logTimer = setInterval(() => {
      for (const step of this.#steps) step.drainLog();
    }, DATAPLANE_LOG_DRAIN_MS);
  }

  /**
   * Builds the pool and boots one VM per step. The chain's whole memory (its
   * pool and every step's VM) is reserved in the node's budget first, and
   * given back when the chain closes. A step that cannot start fails the
   * whole start, unless startFailures is "refuse" (a node bringing back its
   * stored chains): then the chain runs without that step, answering 502
   * naming it and trying it again, as after a redeploy that broke it.
   */
  static async start(
    spec: ChainSpec,
    images: (StepImage | null)[],
    logger: Logger,
    budget: MemoryBudget,
    logs?: LogHub,
    serving?: ChainServing,
    remote: (RemoteStep | undefined)[] = [],
    startFailures: "throw" | "refuse" = "throw",
  ): Promise<ChainRuntime> {
    // Per step run here: its instance and its template (guest RAM).
    const bytes = spec.pool.buffers * spec.pool.bufferSize +
      images.reduce(
        (sum, img) =>
          img ? sum + vmBytes(img.memory, LIMITS.chainIoCap, 1) + img.memory * MIB : sum,
        0,
      );
    const release = budget.reserve(bytes, `chain ${spec.name}`);
    try {
      const rt = await ChainRuntime.#boot(
        spec,
        images,
        logger,
        logs,
        serving,
        remote,
        startFailures,
      );
      rt.#releaseBudget = release;
      return rt;
    } catch (e) {
      release();
      throw e;
    }
  }

  static async #boot(
    spec: ChainSpec,
    images: (StepImage | null)[],
    logger: Logger,
    logs: LogHub | undefined,
    serving: ChainServing | undefined,
    remote: (RemoteStep | undefined)[],
    startFailures: "throw" | "refuse",
  ): Promise<ChainRuntime> {
    const names = stepNames(spec);
    const index = new Map(names.map((s, i) => [s, i]));
    const routes = names.map((s, i) => {
      const listed = spec.routes?.[s];
      if (listed) return listed.map((t) => index.get(t)!);
      return i + 1 < names.length ? [i + 1] : [];
    });
    // Without a choice by the function: the first hop it may take, else finish.
    const defaultNext = routes.map((r) => (r.length ? r[0] : NODE_GW));
    const chain = Chain.create({
      steps: names,
      routes,
      defaultNext,
      buffers: spec.pool.buffers,
      bufferSize: spec.pool.bufferSize,
      slots: Math.min(MAX_SLOTS, Math.floor(spec.pool.buffers / 2)),
      isolateRequests: spec.isolation === "request",
    });
    const steps = names.map((fn, i) => {
      const step = new ChainStep(
        fn,
        images[i] ?? NO_IMAGE,
        logger,
        (img) => Template.createInChain(chain.handle, i, img.image, img.memory, 5000, img.env),
        spec.name,
        logs,
      );
      step.remote = remote[i];
      return step;
    });
    const failed: [ChainStep, string][] = [];
    try {
      for (const step of steps) {
        if (step.remote) continue;
        try {
          await step.start();
        } catch (e) {
          const reason = (e as Error).message;
          if (startFailures === "throw") {
            throw new ChainStepStartError(spec.name, steps.indexOf(step), step.fn, reason);
          }
          failed.push([step, reason]);
        }
      }
    } catch (e) {
      await Promise.all(steps.map((s) => s.vm?.destroy()));
      for (const s of steps) s.destroyTemplate();
      chain.destroy();
      throw e;
    }
    try {
      const rt = new ChainRuntime(spec, logger, chain, steps, serving, remote);
      for (const [step, reason] of failed) rt.#cannotStartStep(step, reason);
      return rt;
    } catch (e) {
      await Promise.all(steps.map((s) => s.vm?.destroy()));
      for (const s of steps) s.destroyTemplate();
      chain.destroy();
      throw e;
    }
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
    // Served by the data plane: its requests never come here.
    if (!this.#accepting || this.#attachment) throw new OverloadedError(this.name);
    if (this.#cannotStart) {
      this.requests++;
      this.errors.unavailable++;
      throw this.#cannotStart;
    }
    const a = this.chain.alloc(Math.max(body.byteLength, this.spec.reserve, 1));
    if (!a) {
      this.errors.overloaded++;
      throw new PoolExhaustedError(this.name);
    }
    // Every step's own limits, held by libsure (chain_admit.c), not by the
    // steps' sidecar pages.
    const over = this.chain.admit();
    if (over) {
      this.chain.free(a.slot);
      this.errors.rejected++;
      throw refusalError(this.#steps[over.step]?.fn ?? this.name, over.reason, 0)!;
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

  /**
   * The step running a late request is stopped; the requests it had taken
   * fail, it restarts. A late request still queued for its step is answered
   * here: the step is busy with others, which stopping it would fail too.
   */
  #timeout(slot: number): void {
    const p = this.#pending.get(slot);
    if (!p) return;
    if (!p.timedOut) this.errors.timeout++;
    p.timedOut = true;
    // Still queued for its step: taken back, so no gate gives it to a
    // handler from now on (the slot is freed below).
    const { takenBack: queued, at: index } = this.chain.takeBack(slot);
    const step = index >= 0 && index < this.#steps.length ? this.#steps[index] : undefined;
    if (step?.restarting && !queued) {
      // Taken by its step while that restarts: the new instance runs, and
      // takes what waited in its ring, before start() returns, so it may be
      // the one running this request. Freeing the slot would not stop it (a
      // handler that loops would then hold the step for good): decide again
      // once the restart is done.
      void step.restarting.then(() => this.#timeout(slot));
      return;
    }
    if (step?.vm && !queued) {
      this.logger("warn", "chain request timed out: restarting its step", {
        chain: this.name,
        function: step.fn,
        requestId: p.requestId,
      });
      this.#restart(step);
      return; // its failure completion answers the request
    }
    // Nobody can answer it now (lost between steps, or its step is down, or
    // it is still queued): answer now and take the slot back. Freeing bumps the slot's
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
      this.#stopRunaways(this.chain.runaways());
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
    if (c.error === "loop") {
      // Nothing a step made is the answer: the node says why (as libsure's data plane does).
      this.errors.loop++;
      this.chain.free(c.slot);
      p.reject(new LoopDetectedError(this.name, LIMITS.maxHops));
      return;
    }
    if (c.error === "ok") {
      const head = this.chain.responseHead(c.slot);
      // The one copy out (libsure copies, counts and frees the slot, zeroed).
      const body = this.chain.take(c);
      if (head.error) p.reject(new BadResponseHeaderError(this.name, head.error));
      else p.resolve({ status: c.status, body, headers: head.headers });
      return;
    }
    this.chain.free(c.slot);
    if (p.timedOut) {
      p.reject(new FunctionTimeoutError(this.name, this.spec.timeout));
    } else if (c.error === "bogus") {
      this.errors.bogus++;
      p.reject(new BogusDescriptorError(this.name, fn));
    } else {
      this.errors.fault++;
      // The request is already out of #pending: nothing else answers it.
      void this.#explainDeath(step, fn, p);
      return;
    }
    if (step) this.#restart(step);
  }

  /**
   * Answers a request whose step died with the death explained: its fault,
   * symbolised against the step's image. A death while the step restarts may
   * be the new instance's (it runs, and takes a request that waited in its
   * ring, before start() has returned), so, as in #stepDown, its fault is
   * read, and a restart decided, once that restart is done: read at once it
   * was the old instance's (a request that aborted the new one was answered
   * as the fault before it).
   */
  async #explainDeath(step: ChainStep | undefined, fn: string, p: Pending): Promise<void> {
    const wasRestarting = step?.restarting;
    if (wasRestarting) await wasRestarting;
    // Read before the restart replaces the instance (the step keeps the last fault).
    const fault = step ? step.fault() : NO_STEP_FAULT;
    const image = step?.image.image;
    const instance = step?.vm?.id;
    if (step && (!wasRestarting || step.isDown())) this.#restart(step);
    const at = image && fault.kind === "exception" ? await symbolise(image, fault.rip) : null;
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
  }

  /** Data plane: a request was answered in C; its counters, as #complete counts them. */
  #served(status: number, code: string, loop: boolean, n: number): void {
    if (code === "pool_exhausted" || code === "overloaded") {
      this.errors.overloaded += n;
      return;
    }
    this.requests += n;
    if (loop && status === 508) this.errors.loop += n;
    else if (code === "function_timeout") this.errors.timeout += n;
    else if (code === "bogus_descriptor") this.errors.bogus += n;
    else if (code === "deadline_exceeded") this.errors.deadline += n;
    else if (code === "rate_limited" || code === "concurrency_limited") this.errors.rejected += n;
    else if (code === "start_failed") this.errors.unavailable += n;
  }

  /**
   * Data plane: a step went down (died, stopped past the timeout, or sent a
   * bogus descriptor). A death's request waits for its explained answer,
   * read from the step's fault before the restart replaces the instance.
   */
  /** Steps libsure stopped for running with nothing to do (bit i: step i): restarted. */
  #stopRunaways(mask: number): void {
    this.#steps.forEach((step, i) => {
      if (!(mask & (1 << i))) return;
      this.logger("warn", `chain ${this.name}: step ran away: stopped and restarted`, {
        chain: this.name,
        function: step.fn,
        reason: "awake with nothing to do for 2 s after its last hand-off",
      });
      this.#restart(step);
    });
  }

  async #stepDown(ev: ChainStepDown): Promise<HttpError | undefined> {
    const step = this.#steps[ev.step];
    if (!step) return undefined;
    if (!ev.token && ev.rc === -Errno.EBUSY) {
      this.#stopRunaways(1 << ev.step);
      return undefined;
    }
    // A death during a restart may be the new instance's: it runs, and can
    // take a request that waited in its ring, before start() has returned.
    // Its fault is read, and a restart decided, once that restart is done.
    const wasRestarting = step.restarting;
    if (wasRestarting) await wasRestarting;
    let err: HttpError | undefined;
    if (ev.token) {
      this.requests++;
      this.errors.fault++;
      const fault = step.fault();
      const instance = step.vm?.id;
      const at = fault.kind === "exception" ? await symbolise(step.image.image, fault.rip) : null;
      err = deathError(step.fn, fault, ev.requestId, at);
      this.logger("warn", `chain ${this.name}: step died: ${err.message}`, {
        chain: this.name,
        function: step.fn,
        requestId: ev.requestId,
        ...(at ? { at } : {}),
        ...(fault.reason ? { reason: fault.reason } : {}),
      });
      if (instance !== undefined) step.note(err.message, instance);
      this.#attachment?.answer(ev.token, err);
    }
    // A request timed out where no instance runs: restart only a step that is
    // down. After a restart, only if the new instance is down too (the
    // event may be the old one's).
    if (wasRestarting ? step.isDown() : ev.rc !== -Errno.ENOENT || !step.vm) this.#restart(step);
    return err;
  }

  /** The sidecar counters of a step over all its instances. */
  stepSidecarStats(step: number): SidecarStats {
    return this.#steps[step]?.sidecarStats() ?? emptySidecarStats();
  }

  /** Stops a step's instance (if it still runs) and starts a fresh one. */
  #restart(step: ChainStep): void {
    if (step.restarting || this.#closed || step.remote) return;
    step.restarting = (async () => {
      await step.stop();
      try {
        await step.start();
        this.#started(step);
      } catch (e) {
        this.#cannotStartStep(step, (e as Error).message);
      } finally {
        step.restarting = null;
      }
    })();
  }

  /**
   * A step could not start: until one of its tries does, the chain answers
   * every new request at once with why (where it would wait out its timeout
   * in a ring nobody reads), and tries again, less and less often.
   */
  #cannotStartStep(step: ChainStep, reason: string): void {
    step.startError = reason;
    const i = this.#steps.indexOf(step);
    const err = new ChainStepStartError(this.name, i, step.fn, reason);
    if (!this.#cannotStart) this.#cannotStartSince = new Date().toISOString();
    this.#cannotStart = err;
    this.#attachment?.refuse(err);
    this.#startRetryMs = Math.min(
      START_RETRY_MAX_MS,
      Math.max(START_RETRY_FIRST_MS, this.#startRetryMs * 2),
    );
    this.logger("error", `chain ${this.name}: cannot start step ${i}: ${reason}`, {
      chain: this.name,
      function: step.fn,
      retryMs: this.#startRetryMs,
    });
    clearTimeout(this.#startRetry);
    if (!this.#accepting || this.#closed) return; // closing: nothing to try again for
    this.#startRetry = setTimeout(() => {
      this.#startRetry = undefined;
      for (const s of this.#steps) if (s.startError !== undefined) this.#restart(s);
    }, this.#startRetryMs);
  }

  /** A step started: once every step has, the chain serves again. */
  #started(step: ChainStep): void {
    if (step.startError === undefined) return;
    step.startError = undefined;
    if (this.#steps.some((s) => s.startError !== undefined)) return;
    this.logger("info", `chain ${this.name}: every step runs again`, { chain: this.name });
    this.#cannotStart = undefined;
    this.#startRetryMs = 0;
    clearTimeout(this.#startRetry);
    this.#startRetry = undefined;
    this.#attachment?.refuse(null);
  }

  /** The step that cannot start, why, and since when (ISO 8601); undefined while all run. */
  get unavailable(): { step: number; function: string; reason: string; since: string } | undefined {
    const e = this.#cannotStart;
    return e && { step: e.step, function: e.fn, reason: e.reason, since: this.#cannotStartSince };
  }

  /** Replaces step `fn`'s instance with one of a new image (function redeployed). */
  async replaceImage(fn: string, img: StepImage): Promise<void> {
    const step = this.#steps.find((s) => s.fn === fn && !s.remote);
    if (!step) return;
    step.image = img;
    await step.restarting;
    this.#restart(step);
    await step.restarting;
  }

  /** True when this node runs a step that is function fn. */
  runsHere(fn: string): boolean {
    return this.#steps.some((s) => s.fn === fn && !s.remote);
  }

  /** Where the chain's first step runs, when another node runs it (requests start there). */
  get entry(): RemoteStep | undefined {
    return this.#steps[0]?.remote;
  }

  /** The node that runs step i, when it is another one. */
  stepNode(i: number): string | undefined {
    return this.#steps[i]?.remote?.node;
  }

  get instances(): number {
    return this.#steps.filter((s) => s.vm !== null).length;
  }

  get inFlight(): number {
    return this.#attachment ? this.#attachment.running() : this.#pending.size;
  }

  /**
   * Takes no new requests, lets those in flight finish (up to the chain's
   * timeout), then stops the pump, fails what is left, destroys the VMs and
   * the pool.
   */
  async close(): Promise<void> {
    if (!this.#accepting) return;
    this.#accepting = false;
    clearTimeout(this.#startRetry);
    if (this.#attachment) return await this.#closeServed(this.#attachment);
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
    this.#destroy();
  }

  /** close() of a chain the data plane serves: it answers what is left (504) when released. */
  async #closeServed(a: ChainAttachment): Promise<void> {
    a.close();
    const deadline = Date.now() + this.spec.timeout;
    while (a.running() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const released = await releaseWithin(a, RELEASE_WAIT_MS);
    clearInterval(this.#logTimer);
    this.#closed = true;
    await Promise.all(this.#steps.map((s) => s.restarting));
    await Promise.all(this.#steps.map((s) => s.stop()));
    for (const step of this.#steps) step.drainLog();
    if (released) return this.#destroy();
    // A client still sends a body into the pool: the pool stays until it is done.
    this.logger("warn", `chain ${this.name}: a request body still arrives; its pool is kept`, {
      chain: this.name,
    });
    void releaseWithin(a, Infinity).then(() => this.#destroy());
  }

  #destroy(): void {
    // Templates point at the chain: they go first.
    for (const s of this.#steps) s.destroyTemplate();
    this.chain.destroy();
    this.#releaseBudget();
  }
}

/** Tries to release a chain from the data plane until it lets go or ms pass. */
async function releaseWithin(a: ChainAttachment, ms: number): Promise<boolean> {
  const stop = Date.now() + ms;
  for (;;) {
    if (a.release()) return true;
    if (Date.now() >= stop) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
