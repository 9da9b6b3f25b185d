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
  FunctionFaultError,
  FunctionTimeoutError,
  type HttpError,
  InternalError,
  PayloadTooLargeError,
  TooManyRequestsError,
} from "../errors.ts";

/** A Fault for when the VM's own record cannot be read (it is gone). */
export function placeholderFault(kind: FaultKind, name: string): Fault {
  return { kind, vector: 0, name, errorCode: 0n, address: 0n, rip: 0n };
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
    return new FunctionFaultError(f.fn, fault, f.requestId);
  }
  if (err instanceof SureTooBigError) return new PayloadTooLargeError(f.ioCap);
  if (err instanceof SureBusyError) return new InternalError(`instance ${f.instance} was busy`);
  return err;
}

/**
 * The answer when a function's sidecar refused a request before the handler
 * ran (null: the handler answered): 429 over the rate or concurrency limit,
 * 504 past the deadline.
 */
export function refusalError(
  fn: string,
  reason: AnswerReason,
  deadlineMs: number,
): HttpError | null {
  switch (reason) {
    case "handler":
      return null;
    case "rate":
      return new TooManyRequestsError(fn, "rate");
    case "deadline":
      return new DeadlineExceededError(fn, deadlineMs);
    case "inflight":
      return new TooManyRequestsError(fn, "concurrency");
    case "failed":
      return new InternalError(`function ${fn}: handle() returned non-zero`);
  }
}
