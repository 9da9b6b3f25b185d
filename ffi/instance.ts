/**
 * One function instance (one KVM micro-VM) as seen from TypeScript.
 *
 * The request and response areas are shared memory mapped by libsure; this
 * class wraps them ONCE in zero-copy views, so a request costs exactly one
 * copy in (the body into the request area) and one copy out (the response
 * bytes into a fresh Uint8Array that outlives the instance).
 */
import { ERR_CAP, libsure, takeHandle } from "./libsure.ts";
import { errorFromErrno, SureBusyError, SureDeadError, SureTooBigError } from "./errors.ts";
import { decodeFault, type Fault } from "./fault.ts";
import { readLogLines } from "./log.ts";
import {
  type AnswerReason,
  decodeRecords,
  decodeSidecarStats,
  REASONS,
  recordBuffer,
  type RequestRecord,
  sidecarCounters,
  type SidecarLimits,
  type SidecarStats,
} from "./sidecar.ts";
import { Errno, STRUCTS } from "./abi.ts";
import { CStructs } from "./struct.ts";
import {
  type HeaderList,
  type RequestHead,
  takeResponseHead,
  writeRequestHead,
} from "./http_head.ts";
import { LIMITS } from "./abi.ts";

export interface InstanceOptions {
  /** Guest RAM in MiB (8..1024). */
  memMib: number;
  /** Bytes in each of the request and response areas. */
  ioCap: number;
  /** How long the guest's init may take before creation fails. */
  initTimeoutMs?: number;
  /** The environment block ("NAME=VALUE\0"...; see ffi/env.ts), absent for none. */
  env?: Uint8Array;
}

export interface InvokeResult {
  status: number;
  body: Uint8Array<ArrayBuffer>;
  /** Who answered: the handler, or the sidecar refusing it (and why). */
  reason: AnswerReason;
  /** The response headers the function set (checked by libsure); none if absent. */
  headers?: HeaderList;
  /** Set when the function's response headers were refused (which, and why). */
  headerError?: string;
  /** What handle() returned, when reason is "failed". */
  rc?: number;
}

/** The head of a request that came without one (tests, benchmarks). */
export const PLAIN_HEAD: RequestHead = { method: "POST", path: "/", query: "", headers: [] };

let nextId = 1;

export class Instance {
  /** Process-unique number, for logs. */
  readonly id: number;
  readonly ioCap: number;
  /** Request slots: how many requests the data plane may post at once. */
  readonly ioSlots: number;
  #handle: Deno.PointerObject | null;
  #req: Uint8Array | null;
  #resp: Uint8Array<ArrayBuffer> | null;
  #reqHead: Uint8Array | null = null;
  #respHead: Uint8Array | null = null;
  #inFlight = false;
  #destroyPending = false;
  #destroyed: Promise<void> | undefined;
  #markDestroyed: (() => void) | undefined;
  #fault: Fault | undefined;

  private constructor(handle: Deno.PointerObject) {
    const sym = libsure();
    this.id = nextId++;
    this.#handle = handle;
    this.ioCap = sym.sure_instance_io_cap(handle);
    this.ioSlots = sym.sure_instance_io_slots(handle);
    const req = sym.sure_instance_req_buf(handle);
    const resp = sym.sure_instance_resp_buf(handle);
    if (!req || !resp || this.ioCap === 0) {
      sym.sure_instance_destroy(handle);
      throw new SureDeadError("sure_instance_create", 32, "instance has no request/response area");
    }
    this.#req = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(req, this.ioCap));
    this.#resp = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(resp, this.ioCap));
    const reqHead = sym.sure_instance_req_head(handle);
    const respHead = sym.sure_instance_resp_head(handle);
    if (reqHead && respHead) {
      this.#reqHead = new Uint8Array(
        Deno.UnsafePointerView.getArrayBuffer(reqHead, LIMITS.reqHeadCap),
      );
      this.#respHead = new Uint8Array(
        Deno.UnsafePointerView.getArrayBuffer(respHead, LIMITS.respHeadCap),
      );
    }
  }

  /** Boots a VM from a (checked) image and waits until its init is done. */
  static async create(image: Uint8Array, opts: InstanceOptions): Promise<Instance> {
    const sym = libsure();
    const out = new BigUint64Array(1);
    const err = new Uint8Array(ERR_CAP);
    const rc = await sym.sure_instance_create(
      image,
      BigInt(image.byteLength),
      opts.memMib,
      opts.ioCap,
      opts.initTimeoutMs ?? 5000,
      opts.env ?? null,
      opts.env?.byteLength ?? 0,
      out,
      err,
      BigInt(ERR_CAP),
    );
    return Instance.#wrap("sure_instance_create", rc, out, err);
  }

  /**
   * Starts a copy-on-write clone of a template (see ffi/template.ts, which
   * owns the handle and keeps it alive during the call).
   */
  static async cloneOf(template: Deno.PointerObject, startTimeoutMs: number): Promise<Instance> {
    const out = new BigUint64Array(1);
    const err = new Uint8Array(ERR_CAP);
    const rc = await libsure().sure_instance_clone(
      template,
      startTimeoutMs,
      out,
      err,
      BigInt(ERR_CAP),
    );
    return Instance.#wrap("sure_instance_clone", rc, out, err);
  }

  static #wrap(op: string, rc: number, out: BigUint64Array, err: Uint8Array): Instance {
    return new Instance(takeHandle(op, rc, out, err));
  }

  get alive(): boolean {
    return this.#handle !== null && !this.#destroyPending;
  }

  /**
   * Runs one request. Rejects with a SureError; after SureTimeoutError,
   * SureFaultError, SureProtocolError or SureDeadError the instance is dead
   * (see isFatal) and should be destroyed.
   */
  async invoke(
    body: Uint8Array,
    timeoutMs: number,
    head: RequestHead = PLAIN_HEAD,
  ): Promise<InvokeResult> {
    const handle = this.#handle;
    if (!handle || !this.#req || !this.#resp || !this.#reqHead || this.#destroyPending) {
      throw new SureDeadError("invoke", 32, "instance destroyed");
    }
    // Checked here as well as in C: the copy below must not run past the area.
    if (body.byteLength > this.ioCap) {
      throw new SureTooBigError("invoke", 7, `body ${body.byteLength} > area ${this.ioCap}`);
    }
    // A second request would overwrite the first one's bytes in shared memory.
    if (this.#inFlight) throw new SureBusyError("invoke", 16, "request in flight");
    this.#inFlight = true;
    try {
      // Throws HeadTooLargeError (431) before anything is posted.
      writeRequestHead(this.#reqHead, LIMITS.reqHeadCap, head);
      this.#req.set(body);
      const sym = libsure();
      const rc = await sym.sure_instance_invoke(handle, body.byteLength, Math.max(1, timeoutMs));
      // Over the rate limit the node set (libsure's own check, before the
      // guest sees anything): the same refusal the guest's sidecar gives.
      if (rc === -Errno.EDQUOT) {
        return { status: 429, body: new Uint8Array(0), reason: "rate", headers: [] };
      }
      if (rc < 0) throw errorFromErrno("invoke", rc);
      if (rc > this.ioCap) throw errorFromErrno("invoke", -Errno.EPROTO, `response length ${rc}`);
      const h = takeResponseHead(this.#respHead!);
      const reason = REASONS[sym.sure_instance_resp_reason(handle)] ?? "handler";
      return {
        status: sym.sure_instance_status(handle),
        body: this.#resp.slice(0, rc),
        reason,
        ...(reason === "failed" ? { rc: sym.sure_instance_resp_rc(handle) } : {}),
        headers: h.headers,
        headerError: h.error,
      };
    } finally {
      this.#inFlight = false;
      // destroy() during a request is deferred: libsure must not free memory
      // that the blocked invoke thread is still using.
      if (this.#destroyPending) this.#free();
    }
  }

  /** True while its vCPU sleeps waiting for a request, false while it runs, null once dead. */
  sleeping(): boolean | null {
    if (!this.#handle || this.#destroyPending) return null;
    const rc = libsure().sure_instance_sleeping(this.#handle);
    return rc < 0 ? null : rc === 1;
  }

  /** Stops the guest for good (its vCPU thread ends); destroy() frees it. */
  stop(): void {
    if (this.#handle && !this.#destroyPending) libsure().sure_instance_stop(this.#handle);
  }

  /** libsure's handle, for lending the instance to the data plane (null once destroyed). */
  get pointer(): Deno.PointerObject | null {
    return this.#destroyPending ? null : this.#handle;
  }

  /** Sets what the instance's library sidecar enforces. */
  configureSidecar(l: SidecarLimits): void {
    const handle = this.#handle;
    if (!handle) return;
    const rc = libsure().sure_instance_set_sidecar(
      handle,
      l.enabled ? 1 : 0,
      l.maxInFlight,
      l.ratePerSec,
      l.rateBurst,
      l.deadlineMs,
    );
    if (rc < 0) throw errorFromErrno("sure_instance_set_sidecar", rc);
  }

  /** The sidecar's counters, read from guest memory (no exit). */
  sidecarStats(): SidecarStats | null {
    const handle = this.#handle;
    if (!handle) return null;
    const out = sidecarCounters();
    const rc = libsure().sure_instance_sidecar_stats(handle, out.bytes, out.size);
    return rc < 0 ? null : decodeSidecarStats(out);
  }

  /** The latest requests this instance's sidecar recorded, newest first. */
  requestRecords(): RequestRecord[] {
    const handle = this.#handle;
    if (!handle) return [];
    const buf = recordBuffer();
    const n = libsure().sure_instance_sidecar_records(handle, buf.bytes, buf.count);
    return n > 0 ? decodeRecords(buf, n) : [];
  }

  /** The W3C trace context of the next request (25 bytes: trace-id, parent-id, flags). */
  setTrace(trace: Uint8Array): void {
    const handle = this.#handle;
    if (handle) libsure().sure_instance_set_trace(handle, trace);
  }

  /** Why the instance died (kind "none" while it is healthy). */
  fault(): Fault {
    if (this.#fault) return this.#fault;
    const handle = this.#handle;
    if (!handle) throw new SureDeadError("fault", Errno.EPIPE, "instance destroyed");
    const out = new CStructs(STRUCTS.sure_fault_info);
    const rc = libsure().sure_instance_fault(handle, out.bytes, out.size);
    if (rc < 0) throw errorFromErrno("sure_instance_fault", rc);
    const f = decodeFault(out);
    // A fault is final; keep it so that it can still be read after destroy().
    if (f.kind !== "none") this.#fault = f;
    return f;
  }

  /** Takes the log lines the guest wrote since the last call. */
  drainLog(): string[] {
    const handle = this.#handle;
    if (!handle) return [];
    const sym = libsure();
    return readLogLines((buf, cap) => sym.sure_instance_read_log(handle, buf, cap));
  }

  /** Requests this instance has served. */
  get requests(): number {
    const handle = this.#handle;
    if (!handle) return 0;
    return Number(libsure().sure_instance_requests(handle));
  }

  /**
   * Stops the VM and frees it, on Deno's blocking thread pool (a VM's teardown is
   * not free, and the event loop must not wait for it). Idempotent; deferred
   * while a request runs. Resolves once the VM and its memory are gone.
   */
  destroy(): Promise<void> {
    if (this.#destroyed) return this.#destroyed;
    this.#destroyed = new Promise<void>((resolve) => (this.#markDestroyed = resolve));
    if (this.#inFlight) this.#destroyPending = true;
    else this.#free();
    return this.#destroyed;
  }

  #free(): void {
    const handle = this.#handle;
    if (!handle) return;
    try {
      this.fault();
    } catch {
      // Reading the fault is best effort; freeing must happen regardless.
    }
    this.#handle = null;
    this.#req = null;
    this.#resp = null;
    this.#reqHead = null;
    this.#respHead = null;
    const done = this.#markDestroyed!;
    libsure().sure_instance_destroy(handle).then(done, done);
  }
}
