/**
 * libsure's failures and the sidecar's refusals as the HTTP errors the node
 * answers with (runtime/errors.ts), the same for plain functions and chain
 * steps. The status codes and error codes are public: see README "Errors".
 */
import {
  type AnswerReason,
  type Fault,
  type FaultKind,
  isFatal,
  SureBusyError,
  SureError,
  SureTimeoutError,
  SureTooBigError,
} from "../../ffi/mod.ts";
import {
  DeadlineExceededError,
  type FaultLocation,
  FunctionAbortedError,
  FunctionFailedError,
  FunctionFaultError,
  FunctionTimeoutError,
  type HttpError,
  InternalError,
  PayloadTooLargeError,
  TooManyRequestsError,
} from "../errors.ts";

/** A Fault for when the VM's own record cannot be read (it is gone). */
export function placeholderFault(kind: FaultKind, name: string): Fault {
  return { kind, vector: 0, name, errorCode: 0n, address: 0n, rip: 0n, reason: "" };
}

/** What stopped a VM, or null if it can no longer be read (destroyed meanwhile). */
export function readFault(vm: { fault(): Fault }): Fault | null {
  try {
    return vm.fault();
  } catch {
    return null;
  }
}

/** What the node knew when an invoke failed. */
export interface InvokeFailure {
  fn: string;
  requestId: string;
  /** The function's timeout (ms) and its instances' request area (bytes). */
  timeoutMs: number;
  ioCap: number;
  instance: number;
  /** What killed the instance; read (before it was destroyed) only when the error is fatal. */
  fault?: Fault;
  /** Where in the source the fault happened (symbolise.ts), when known. */
  at?: FaultLocation | null;
}

/**
 * The 502 for an instance that died: the function gave up (sure_abort,
 * abort, exit: its reason) or it faulted (where, when known).
 */
export function deathError(
  fn: string,
  fault: Fault,
  requestId: string,
  at: FaultLocation | null = null,
): FunctionAbortedError | FunctionFaultError {
  if (fault.kind === "guest_exit") return new FunctionAbortedError(fn, fault, requestId);
  return new FunctionFaultError(fn, fault, requestId, at);
}

/**
 * The answer to an invoke that threw: 504 when the function ran out of time,
 * 502 naming the fault when its instance died, 413 when the body did not
 * fit, 500 otherwise (an error that is not libsure's is returned as is).
 */
export function invokeError(err: unknown, f: InvokeFailure): unknown {
  if (err instanceof SureTimeoutError) return new FunctionTimeoutError(f.fn, f.timeoutMs);
  if (isFatal(err)) {
    const fault = f.fault ?? placeholderFault("unknown", (err as SureError).code);
    return deathError(f.fn, fault, f.requestId, f.at ?? null);
  }
  if (err instanceof SureTooBigError) return new PayloadTooLargeError(f.ioCap);
  if (err instanceof SureBusyError) return new InternalError(`instance ${f.instance} was busy`);
  return err;
}

/**
 * The answer when the handler did not answer (null: it did): 429 when the
 * function's sidecar refused the request over the rate or concurrency
 * limit, 504 past the deadline, 500 when handle() returned rc != 0.
 */
export function refusalError(
  fn: string,
  reason: AnswerReason,
  deadlineMs: number,
  rc = 0,
  requestId?: string,
): HttpError | null {
  switch (reason) {
    case "handler":
      return null;
    case "failed":
      return new FunctionFailedError(fn, rc, requestId);
    case "rate":
      return new TooManyRequestsError(fn, "rate");
    case "deadline":
      return new DeadlineExceededError(fn, deadlineMs);
    case "inflight":
      return new TooManyRequestsError(fn, "concurrency");
  }
}
