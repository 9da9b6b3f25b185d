/**
 * A chain's pool as seen from TypeScript: slot allocation, submission (the
 * body is copied in by libsure, which counts it), completions collected in
 * batches by one nonblocking wait, and answers copied out by libsure.
 */
import { cString, ERR_CAP, libsure, takeHandle } from "./libsure.ts";
import { Errno, errorFromErrno } from "./errors.ts";
import { type AnswerReason, REASONS } from "./sidecar.ts";
import { COMPLETION_ERROR, LIMITS, STRUCTS } from "./abi.ts";
import { CStructs } from "./struct.ts";
import {
  type RequestHead,
  type ResponseHeadResult,
  takeResponseHead,
  writeRequestHead,
} from "./http_head.ts";

/** SURE_SLOT_HEAD_SIZE: a slot's request head block, then its response head block. */
const SLOT_HEAD = LIMITS.reqHeadCap + LIMITS.respHeadCap;

/** SURE_NODE_GW: the node number of the gateway in routes and completions. */
export const NODE_GW = LIMITS.nodeGw;
/** SURE_NODES: nodes per row of the routes matrix (the steps + the gateway). */
const NODES = LIMITS.nodes;
/** SURE_STEP_NAME: bytes per step name, NUL included. */
const STEP_NAME = LIMITS.stepName;

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
  /**
   * Request-level data isolation (sure_chain_isolate): one protection-key
   * colour per request in flight, at most 11 of them, each with its own
   * share of the pool.
   */
  isolateRequests?: boolean;
}

export type CompletionError = keyof typeof COMPLETION_ERROR;
const ERRORS = new Map<number, CompletionError>(
  Object.entries(COMPLETION_ERROR).map(([k, v]) => [v, k as CompletionError]),
);

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
  /** What the step's handle() returned, when reason is "failed". */
  rc: number;
}

export interface ChainStats {
  slotsInFlight: number;
  freeBuffers: number;
  buffers: number;
  /** Bytes the node copied into the pool (bodies) and out of it (answers). */
  copiedIn: number;
  copiedOut: number;
  completed: number;
  /** Hand-offs and the bytes steps' answers put into the other extent, as
   * the steps' libraries report them (kept monotonic and bounded by libsure). */
  handoffs: number;
  handoffBytes: number;
  /** Host-accounted: descriptors the node itself found forged or broken (each
   * stopped the step whose ring it was on), and steps' reports of bogus
   * descriptors it found no evidence for (nobody was stopped). */
  bogus: number;
  unconfirmed: number;
  /** Host-accounted: steps stopped for running with nothing to do. */
  runaways: number;
}

export interface StepStats {
  tscHz: number;
  handled: number;
  handoffs: number;
  handoffTscSum: number;
  stale: number;
  bogus: number;
  /** Bytes this step's answers put into the other extent. */
  copied: number;
  /** hist[b]: hand-offs whose latency in TSC ticks was in [2^b, 2^(b+1)). */
  hist: number[];
}

export class Chain {
  readonly handle: Deno.PointerObject;
  #slotOut = new Uint32Array(1);
  #offOut = new BigUint64Array(1);
  #completions: CStructs<typeof STRUCTS.sure_completion>;
  #counters = new CStructs(STRUCTS.sure_chain_counters);
  #stepCounters = new CStructs(STRUCTS.sure_step_counters);
  #waiting = false;
  #destroyed = false;
  /** Every slot's head blocks, in the pool (sure_chain_heads). */
  #heads: Uint8Array;

  private constructor(handle: Deno.PointerObject, readonly maxBatch: number) {
    this.handle = handle;
    this.#completions = new CStructs(STRUCTS.sure_completion, maxBatch);
    const sym = libsure();
    const p = sym.sure_chain_heads(handle);
    const size = Number(sym.sure_chain_heads_size(handle));
    if (!p || size === 0) throw errorFromErrno("sure_chain_heads", -Errno.EINVAL);
    this.#heads = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, size));
  }

  #slotHead(slot: number, off: number, len: number): Uint8Array {
    const at = slot * SLOT_HEAD + off;
    if (at + len > this.#heads.byteLength) throw new RangeError(`slot ${slot}`);
    return this.#heads.subarray(at, at + len);
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
    const chain = new Chain(takeHandle("sure_chain_create", rc, out, err), maxBatch);
    if (layout.isolateRequests) {
      const irc = libsure().sure_chain_isolate(chain.handle, err, BigInt(ERR_CAP));
      if (irc < 0) {
        chain.destroy();
        throw errorFromErrno("sure_chain_isolate", irc, cString(err) || undefined);
      }
    }
    return chain;
  }

  /** Requests it can have in flight under request-level isolation, else 0. */
  get colours(): number {
    return libsure().sure_chain_colours(this.handle);
  }

  /** A slot whose extents hold `bytes`; null when the pool is exhausted. */
  alloc(bytes: number): { slot: number; offset: number } | null {
    const rc = libsure().sure_chain_alloc(this.handle, bytes, this.#slotOut, this.#offOut);
    if (rc === -Errno.ENOSPC) return null;
    if (rc < 0) throw errorFromErrno("sure_chain_alloc", rc);
    return { slot: this.#slotOut[0], offset: Number(this.#offOut[0]) };
  }

  /** The steps libsure stopped now for running with nothing to do (bit i: step i). */
  runaways(): number {
    return libsure().sure_chain_runaways(this.handle);
  }

  /**
   * Admits the request whose slot alloc gave, against every step's own
   * limits as the host holds them: null, or the step over its rate limit
   * ("rate") or its concurrency limit ("inflight").
   */
  admit(): { step: number; reason: "rate" | "inflight" } | null {
    const rc = libsure().sure_chain_admit(this.handle, this.#slotOut);
    if (rc === 0) return null;
    if (rc === -Errno.EDQUOT) return { step: this.#slotOut[0], reason: "rate" };
    if (rc === -Errno.EBUSY) return { step: this.#slotOut[0], reason: "inflight" };
    throw errorFromErrno("sure_chain_admit", rc);
  }

  /**
   * Copies body into the slot (libsure does the copy and counts it), with
   * the request's W3C trace context (25 bytes) if any, and hands it to step 0.
   */
  submit(slot: number, body: Uint8Array, trace: Uint8Array | null, head: RequestHead): void {
    // The request head first: submit hands the slot to step 0.
    writeRequestHead(this.#slotHead(slot, 0, LIMITS.reqHeadCap), LIMITS.reqHeadCap, head);
    const rc = libsure().sure_chain_submit(this.handle, slot, body, body.byteLength, trace);
    if (rc < 0) throw errorFromErrno("sure_chain_submit", rc);
  }

  /** The response headers the steps set for a completed request (before take frees it). */
  responseHead(slot: number): ResponseHeadResult {
    return takeResponseHead(this.#slotHead(slot, LIMITS.reqHeadCap, LIMITS.respHeadCap));
  }

  /** Copies a completed request's answer out (counted by libsure) and frees its slot. */
  take(c: Completion): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(c.len);
    const rc = libsure().sure_chain_take(this.handle, c.slot, out, c.len);
    if (rc < 0) throw errorFromErrno("sure_chain_take", rc);
    return rc === c.len ? out : out.subarray(0, rc);
  }

  /** Completions of finished (or failed) requests; [] after timeoutMs. */
  async wait(timeoutMs: number): Promise<Completion[]> {
    if (this.#waiting) throw new Error("one sure_chain_wait at a time");
    this.#waiting = true;
    let n: number;
    try {
      const c = this.#completions;
      n = await libsure().sure_chain_wait(this.handle, c.bytes, this.maxBatch, timeoutMs);
    } finally {
      this.#waiting = false;
    }
    if (n < 0) throw errorFromErrno("sure_chain_wait", n);
    const c = this.#completions;
    const out: Completion[] = [];
    for (let i = 0; i < n; i++) {
      out.push({
        slot: c.u32("slot", i),
        len: c.u32("len", i),
        offset: c.u64("offset", i),
        status: c.u16("status", i),
        error: ERRORS.get(c.u16("error", i)) ?? "bogus",
        node: c.u16("node", i),
        hops: c.u16("hops", i),
        reason: REASONS[c.u16("reason", i)] ?? "handler",
        rc: c.i32("rc", i),
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

  /**
   * A timeout's look at a request: still queued for its step, it is taken
   * back (no gate gives it to a handler from now on: answer it, then free
   * the slot); else the step that holds it (NODE_GW: none).
   */
  takeBack(slot: number): { takenBack: boolean; at: number } {
    const where = new Uint32Array(1);
    const rc = libsure().sure_chain_take_back(this.handle, slot, where);
    if (rc < 0) throw errorFromErrno("sure_chain_take_back", rc);
    return { takenBack: rc === 1, at: where[0] };
  }

  stats(): ChainStats {
    const c = this.#counters;
    const rc = libsure().sure_chain_stats(this.handle, c.bytes, c.size);
    if (rc < 0) throw errorFromErrno("sure_chain_stats", rc);
    return {
      slotsInFlight: c.u64("slots_in_flight"),
      freeBuffers: c.u64("free_buffers"),
      buffers: c.u64("buffers"),
      copiedIn: c.u64("copied_in"),
      copiedOut: c.u64("copied_out"),
      completed: c.u64("completed"),
      handoffs: c.u64("handoffs"),
      handoffBytes: c.u64("handoff_bytes"),
      bogus: c.u64("bogus"),
      unconfirmed: c.u64("unconfirmed"),
      runaways: c.u64("runaways"),
    };
  }

  /** Statistics the step's guest keeps; null if the step has no instance now. */
  stepStats(step: number): StepStats | null {
    const c = this.#stepCounters;
    const rc = libsure().sure_chain_step_stats(this.handle, step, c.bytes, c.size);
    if (rc === -Errno.ENOENT) return null;
    if (rc < 0) throw errorFromErrno("sure_chain_step_stats", rc);
    return {
      tscHz: c.u64("tsc_hz"),
      handled: c.u64("handled"),
      handoffs: c.u64("handoffs"),
      handoffTscSum: c.u64("handoff_tsc_sum"),
      stale: c.u64("stale"),
      bogus: c.u64("bogus"),
      copied: c.u64("copied"),
      hist: c.u64s("handoff_hist", 32),
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
