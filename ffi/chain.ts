/**
 * A chain's pool as seen from TypeScript: one zero-copy view of its buffers
 * (created once), slot allocation and submission (synchronous, a few ns, no
 * allocation), and completions collected in batches by one nonblocking wait.
 */
import { ERR_CAP, libsure, takeHandle } from "./libsure.ts";
import { Errno, errorFromErrno } from "./errors.ts";
import { type AnswerReason, REASONS } from "./sidecar.ts";

/** SURE_NODE_GW: the node number of the gateway in routes and completions. */
export const NODE_GW = 16;
/** SURE_NODES: nodes per row of the routes matrix (16 steps + the gateway). */
export const NODES = 17;
/** SURE_STEP_NAME: bytes per step name, NUL included. */
export const STEP_NAME = 32;
const COMPLETION_BYTES = 32; // sizeof(struct sure_completion)

export interface ChainLayout {
  /** Function name of each step, in order. */
  steps: string[];
  /** routes[i] = the steps step i may hand to (indices); it may always finish. */
  routes: number[][];
  /** Where step i hands to when its function does not choose (NODE_GW: finish). */
  defaultNext: number[];
  buffers: number;
  bufferSize: number;
  slots: number;
}

export type CompletionError = "ok" | "fault" | "bogus" | "loop";
const ERRORS: CompletionError[] = ["ok", "fault", "bogus", "loop"];

export interface Completion {
  slot: number;
  len: number;
  offset: number;
  status: number;
  error: CompletionError;
  /** The step that answered, or the one blamed. */
  node: number;
  hops: number;
  /** Who answered: a handler, or that step's sidecar refusing the request. */
  reason: AnswerReason;
}

export interface ChainStats {
  slotsInFlight: number;
  freeBuffers: number;
  buffers: number;
  copiedIn: number;
  copiedOut: number;
  handoffs: number;
  handoffBytesCopied: number;
  completed: number;
}

export interface StepStats {
  tscHz: number;
  handled: number;
  handoffs: number;
  handoffTscSum: number;
  stale: number;
  bogus: number;
  /** hist[b]: hand-offs whose latency in TSC ticks was in [2^b, 2^(b+1)). */
  hist: number[];
}

export class Chain {
  readonly handle: Deno.PointerObject;
  /** Every buffer of the pool, shared with the chain's VMs. */
  readonly buffers: Uint8Array<ArrayBuffer>;
  #slotOut = new Uint32Array(1);
  #offOut = new BigUint64Array(1);
  #completions: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #waiting = false;
  #destroyed = false;

  private constructor(handle: Deno.PointerObject, readonly maxBatch: number) {
    const sym = libsure();
    this.handle = handle;
    const size = Number(sym.sure_chain_buffers_size(handle));
    const base = sym.sure_chain_buffers(handle);
    if (!base) throw errorFromErrno("sure_chain_buffers", -Errno.EINVAL, "no pool");
    this.buffers = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(base, size));
    this.#completions = new Uint8Array(maxBatch * COMPLETION_BYTES);
    this.#view = new DataView(this.#completions.buffer);
  }

  static create(layout: ChainLayout, maxBatch = 64): Chain {
    const n = layout.steps.length;
    const names = new Uint8Array(n * STEP_NAME);
    const enc = new TextEncoder();
    layout.steps.forEach((s, i) =>
      names.set(enc.encode(s).subarray(0, STEP_NAME - 1), i * STEP_NAME)
    );
    const routes = new Uint8Array(n * NODES);
    layout.routes.forEach((next, i) => next.forEach((j) => (routes[i * NODES + j] = 1)));
    const defaults = new Uint16Array(layout.defaultNext);
    const out = new BigUint64Array(1);
    const err = new Uint8Array(ERR_CAP);
    const rc = libsure().sure_chain_create(
      n,
      names,
      routes,
      new Uint8Array(defaults.buffer),
      layout.buffers,
      layout.bufferSize,
      layout.slots,
      out,
      err,
      BigInt(ERR_CAP),
    );
    return new Chain(takeHandle("sure_chain_create", rc, out, err), maxBatch);
  }

  /** A slot whose extents hold `bytes`; null when the pool is exhausted. */
  alloc(bytes: number): { slot: number; offset: number } | null {
    const rc = libsure().sure_chain_alloc(this.handle, bytes, this.#slotOut, this.#offOut);
    if (rc === -Errno.ENOSPC) return null;
    if (rc < 0) throw errorFromErrno("sure_chain_alloc", rc);
    return { slot: this.#slotOut[0], offset: Number(this.#offOut[0]) };
  }

  /** The W3C trace context (25 bytes) the slot's request carries; before submit. */
  setTrace(slot: number, trace: Uint8Array): void {
    const rc = libsure().sure_chain_set_trace(this.handle, slot, trace);
    if (rc < 0) throw errorFromErrno("sure_chain_set_trace", rc);
  }

  submit(slot: number, len: number): void {
    const rc = libsure().sure_chain_submit(this.handle, slot, len);
    if (rc < 0) throw errorFromErrno("sure_chain_submit", rc);
  }

  /** Completions of finished (or failed) requests; [] after timeoutMs. */
  async wait(timeoutMs: number): Promise<Completion[]> {
    if (this.#waiting) throw new Error("one sure_chain_wait at a time");
    this.#waiting = true;
    let n: number;
    try {
      n = await libsure().sure_chain_wait(this.handle, this.#completions, this.maxBatch, timeoutMs);
    } finally {
      this.#waiting = false;
    }
    if (n < 0) throw errorFromErrno("sure_chain_wait", n);
    const v = this.#view;
    const out: Completion[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * COMPLETION_BYTES;
      out.push({
        slot: v.getUint32(o, true),
        len: v.getUint32(o + 4, true),
        offset: Number(v.getBigUint64(o + 8, true)),
        status: v.getUint16(o + 16, true),
        error: ERRORS[v.getUint16(o + 18, true)] ?? "bogus",
        node: v.getUint16(o + 20, true),
        hops: v.getUint16(o + 22, true),
        reason: REASONS[v.getUint16(o + 24, true)] ?? "handler",
      });
    }
    return out;
  }

  /** Makes a wait in progress return now. */
  wake(): void {
    libsure().sure_chain_wake(this.handle);
  }

  free(slot: number): void {
    const rc = libsure().sure_chain_free(this.handle, slot);
    if (rc < 0) throw errorFromErrno("sure_chain_free", rc);
  }

  /** The step holding a slot now, or NODE_GW. */
  locate(slot: number): number {
    return libsure().sure_chain_locate(this.handle, slot);
  }

  countCopy(inBytes: number, outBytes: number): void {
    libsure().sure_chain_count_copy(this.handle, BigInt(inBytes), BigInt(outBytes));
  }

  stats(): ChainStats {
    const o = new BigUint64Array(8);
    libsure().sure_chain_stats(this.handle, o);
    const n = Array.from(o, Number);
    return {
      slotsInFlight: n[0],
      freeBuffers: n[1],
      buffers: n[2],
      copiedIn: n[3],
      copiedOut: n[4],
      handoffs: n[5],
      handoffBytesCopied: n[6],
      completed: n[7],
    };
  }

  /** Statistics the step's guest keeps; null if the step has no instance now. */
  stepStats(step: number): StepStats | null {
    const o = new BigUint64Array(38);
    const rc = libsure().sure_chain_step_stats(this.handle, step, o, 38n);
    if (rc < 0) return null;
    const n = Array.from(o, Number);
    return {
      tscHz: n[0],
      handled: n[1],
      handoffs: n[2],
      handoffTscSum: n[3],
      stale: n[4],
      bogus: n[5],
      hist: n.slice(6, 38),
    };
  }

  /** Frees the pool; every instance of the chain must be destroyed first. */
  destroy(): void {
    if (this.#destroyed) return;
    const rc = libsure().sure_chain_destroy(this.handle);
    if (rc < 0) throw errorFromErrno("sure_chain_destroy", rc);
    this.#destroyed = true;
  }
}
