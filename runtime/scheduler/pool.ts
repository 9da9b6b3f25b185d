/**
 * The instance pool of one deployed function.
 *
 * Instances are created on demand up to `maxInstances`; a request that finds
 * none free waits in a FIFO queue of at most `maxQueue` entries, beyond which
 * it is refused (OverloadedError) instead of piling up memory and latency.
 * An instance that faults, times out or breaks the protocol is dead: its fault
 * is read, it is destroyed, and a replacement is created in the background so
 * the next request finds a warm one.
 */
import {
  type Fault,
  Instance,
  type InvokeResult,
  isFatal,
  SureBusyError,
  SureError,
  SureTimeoutError,
  SureTooBigError,
} from "../../ffi/mod.ts";
import {
  FunctionFaultError,
  FunctionStartError,
  FunctionTimeoutError,
  InternalError,
  OverloadedError,
  PayloadTooLargeError,
} from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";

export interface PoolOptions {
  maxInstances: number;
  maxQueue: number;
  initTimeoutMs: number;
  logger: Logger;
}

export const DEFAULT_POOL_OPTIONS = { maxInstances: 4, maxQueue: 64, initTimeoutMs: 5000 };

/** Smallest request/response area: responses may be larger than requests. */
const MIN_IO_CAP = 1 << 20;

interface Waiter {
  resolve: (inst: Instance) => void;
  reject: (err: unknown) => void;
}

export class Pool {
  readonly ioCap: number;
  #idle: Instance[] = [];
  #busy = 0;
  #creating = 0;
  #waiters: Waiter[] = [];
  #draining = false;
  #drained: (() => void) | undefined;
  #drainPromise: Promise<void> | undefined;

  constructor(
    readonly deployment: Deployment,
    readonly image: Uint8Array,
    readonly opts: PoolOptions,
  ) {
    const want = Math.max(deployment.maxBody, MIN_IO_CAP);
    this.ioCap = Math.ceil(want / 4096) * 4096;
  }

  get name(): string {
    return this.deployment.name;
  }

  /** Live instances (idle + busy). */
  get instances(): number {
    return this.#idle.length + this.#busy;
  }

  get queued(): number {
    return this.#waiters.length;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Pre-creates one instance in the background so the first request is warm. */
  warm(): void {
    if (this.#draining || this.instances + this.#creating > 0) return;
    this.#spawn();
  }

  /** Runs one request on a free instance. Throws HttpError subclasses. */
  async invoke(body: Uint8Array, requestId: string): Promise<InvokeResult> {
    if (body.byteLength > this.ioCap) throw new PayloadTooLargeError(this.ioCap);
    const inst = await this.#acquire();
    let result: InvokeResult;
    try {
      result = await inst.invoke(body, this.deployment.timeout);
    } catch (e) {
      this.#drainLog(inst);
      if (isFatal(e)) {
        const fault = this.#retire(inst, e as SureError, requestId);
        if (e instanceof SureTimeoutError) {
          throw new FunctionTimeoutError(this.name, this.deployment.timeout);
        }
        throw new FunctionFaultError(this.name, fault, requestId);
      }
      this.#release(inst);
      if (e instanceof SureTooBigError) throw new PayloadTooLargeError(this.ioCap);
      if (e instanceof SureBusyError) throw new InternalError(`instance ${inst.id} was busy`);
      throw e;
    }
    this.#drainLog(inst);
    this.#release(inst);
    return result;
  }

  /**
   * Stops taking the pool's instances into service: in-flight and queued
   * requests finish, then every instance is destroyed. Resolves when none is left.
   */
  drain(): Promise<void> {
    if (this.#drainPromise) return this.#drainPromise;
    this.#draining = true;
    this.#drainPromise = new Promise<void>((resolve) => (this.#drained = resolve));
    if (this.#waiters.length === 0) {
      for (const inst of this.#idle.splice(0)) this.#destroy(inst);
    }
    this.#checkDrained();
    return this.#drainPromise;
  }

  #acquire(): Promise<Instance> {
    const inst = this.#idle.pop();
    if (inst) {
      this.#busy++;
      return Promise.resolve(inst);
    }
    if (this.#draining && this.instances + this.#creating === 0) {
      // Nothing will ever be released here again (the pool was replaced).
      throw new InternalError(`function ${this.name} is being replaced`);
    }
    // Start another VM only if the ones already starting are all spoken for:
    // an instance released meanwhile serves the queue just as well.
    const uncovered = this.#creating <= this.#waiters.length;
    const room = this.instances + this.#creating < this.opts.maxInstances;
    if (!this.#draining && room && uncovered) {
      this.#spawn();
    } else if (this.#waiters.length >= this.opts.maxQueue) {
      throw new OverloadedError(this.name);
    }
    // Whoever frees or creates an instance next hands it to the oldest waiter.
    return new Promise<Instance>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Creates one instance in the background and hands it out (or parks it idle). */
  #spawn(): void {
    this.#creating++;
    Instance.create(this.image, {
      memMib: this.deployment.memory,
      ioCap: this.ioCap,
      initTimeoutMs: this.opts.initTimeoutMs,
    }).then(
      (inst) => {
        this.#creating--;
        this.opts.logger("debug", "instance started", { function: this.name, instance: inst.id });
        this.#busy++;
        this.#release(inst);
      },
      (err) => {
        this.#creating--;
        this.opts.logger("error", `instance could not start: ${(err as Error).message}`, {
          function: this.name,
        });
        // With nothing left that could ever serve them, queued requests fail now
        // rather than wait forever.
        if (this.instances + this.#creating === 0) {
          const fail = new FunctionStartError(this.name, (err as Error).message);
          for (const w of this.#waiters.splice(0)) w.reject(fail);
        }
        this.#checkDrained();
      },
    );
  }

  /** Returns a healthy instance: to the oldest waiter, else to the idle list. */
  #release(inst: Instance): void {
    const w = this.#waiters.shift();
    if (w) {
      w.resolve(inst);
      return;
    }
    this.#busy--;
    if (this.#draining) this.#destroy(inst);
    else this.#idle.push(inst);
    this.#checkDrained();
  }

  /** Takes a dead instance out of service and starts its replacement. */
  #retire(inst: Instance, err: SureError, requestId: string): Fault {
    let fault: Fault;
    try {
      fault = inst.fault();
    } catch {
      fault = { kind: "unknown", vector: 0, name: err.code, errorCode: 0n, address: 0n, rip: 0n };
    }
    this.#busy--;
    this.#destroy(inst);
    this.opts.logger("warn", `instance died: ${fault.name} (${err.code})`, {
      function: this.name,
      instance: inst.id,
      requestId,
      fault: { kind: fault.kind, vector: fault.vector, rip: "0x" + fault.rip.toString(16) },
    });
    if (!this.#draining || this.#waiters.length > 0) this.#spawn();
    else this.#checkDrained();
    return fault;
  }

  #destroy(inst: Instance): void {
    this.#drainLog(inst);
    inst.destroy();
  }

  #drainLog(inst: Instance): void {
    for (const msg of inst.drainLog()) {
      this.opts.logger("info", msg, { function: this.name, instance: inst.id });
    }
  }

  #checkDrained(): void {
    if (!this.#draining || !this.#drained) return;
    if (this.instances + this.#creating + this.#waiters.length === 0) {
      const done = this.#drained;
      this.#drained = undefined;
      done();
    }
  }
}
