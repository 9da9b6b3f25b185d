/**
 * The node's error vocabulary and the ONE place that maps it to HTTP.
 *
 * Routes throw these classes; app.onError answers with `toHttpError(err)`,
 * so every error body has the same shape: JSON { error, message, ...details }.
 * What Hono or zod throw (a malformed body, a failed schema) is turned into
 * these classes here too, so no route maps errors on its own.
 */
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { type Fault, hex } from "../ffi/fault.ts";

export abstract class HttpError extends Error {
  abstract readonly status: number;
  /** Machine-readable error code, the `error` field of the body. */
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
  /** Extra fields for the JSON body. */
  details(): Record<string, unknown> {
    return {};
  }
  /** Extra response headers. */
  headers(): Record<string, string> {
    return {};
  }
  /** The JSON body of the answer. */
  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details() };
  }
}

export class ValidationError extends HttpError {
  readonly status = 400;
  readonly code = "validation_error";
  constructor(readonly field: string | undefined, message: string) {
    super(field ? `${field}: ${message}` : message);
  }
  override details() {
    return this.field ? { field: this.field } : {};
  }
}

export class NotFoundError extends HttpError {
  readonly status = 404;
  readonly code = "not_found";
}

export class PayloadTooLargeError extends HttpError {
  readonly status = 413;
  readonly code = "payload_too_large";
  constructor(readonly limit: number) {
    super(`request body is larger than the limit of ${limit} bytes`);
  }
  override details() {
    return { limit: this.limit };
  }
}

/** Where a fault happened in the function's source (runtime/vmhost/symbolise.ts). */
export interface FaultLocation {
  /** The function (for inlined code: the innermost one, where the instruction came from). */
  function: string;
  /** Source file name (no directory: host paths stay on the host) and line, when known. */
  file?: string;
  line?: number;
  /** Bytes from the function's symbol (only when there was no line information). */
  offset?: number;
  /** The instruction address, 0x-prefixed hex. */
  address: string;
}

/** "parse_header (main.c:42)", "parse_header+0x1c" or the bare name. */
export function locationText(at: FaultLocation): string {
  if (at.file && at.line) return `${at.function} (${at.file}:${at.line})`;
  if (at.offset) return `${at.function}+0x${at.offset.toString(16)}`;
  return at.function;
}

/** What the CPU said, in words: "page fault at 0x0", "invalid instruction". */
export function faultText(f: Fault): string {
  if (f.kind !== "exception") return f.name;
  switch (f.vector) {
    case 0:
      return "divide error";
    case 6:
      return "invalid instruction";
    case 13:
      return "general protection fault";
    case 14:
      // Error code bit 5: the page's protection key forbade it (a gate-only page).
      return (Number(f.errorCode) & 0x20)
        ? `protection-key fault at ${hex(f.address)} (a page only the library OS's gates may touch)`
        : `page fault at ${hex(f.address)}`;
    default:
      return `exception ${f.name}`;
  }
}

function faultBody(f: Fault) {
  return {
    kind: f.kind,
    vector: f.vector,
    name: f.name,
    errorCode: Number(f.errorCode),
    address: hex(f.address),
    rip: hex(f.rip),
  };
}

export class FunctionFaultError extends HttpError {
  readonly status = 502;
  readonly code = "function_fault";
  constructor(
    readonly fn: string,
    readonly fault: Fault,
    readonly requestId: string,
    readonly at: FaultLocation | null = null,
  ) {
    super(
      `function ${fn} faulted (${faultText(fault)}) ` +
        (at ? `in ${locationText(at)}` : `at rip ${hex(fault.rip)}`),
    );
  }
  override details() {
    return {
      function: this.fn,
      fault: faultBody(this.fault),
      ...(this.at ? { at: this.at } : {}),
      requestId: this.requestId,
    };
  }
}

/** The request's method, path, query and headers do not fit what a function can see. */
export class HeadersTooLargeError extends HttpError {
  readonly status = 431;
  readonly code = "request_headers_too_large";
  constructor(detail: string) {
    super(detail);
  }
}

/**
 * The function set a response header the node does not pass on: a
 * hop-by-hop or framing header, a name that is not a token, a control
 * character (CR, LF) in a value. Its answer is dropped; the instance lives on.
 */
export class BadResponseHeaderError extends HttpError {
  readonly status = 502;
  readonly code = "bad_response_header";
  constructor(readonly fn: string, detail: string) {
    super(`function ${fn}: ${detail}`);
  }
  override details() {
    return { function: this.fn };
  }
}

/**
 * The function gave up: sure_abort(reason), abort() or exit(n). Its reason
 * is the guest's (libsure cleaned it: printable ASCII, at most 255 bytes).
 */
export class FunctionAbortedError extends HttpError {
  readonly status = 502;
  readonly code = "function_aborted";
  constructor(readonly fn: string, readonly fault: Fault, readonly requestId: string) {
    super(abortText(fn, fault));
  }
  override details() {
    return {
      function: this.fn,
      reason: this.fault.reason,
      fault: faultBody(this.fault),
      requestId: this.requestId,
    };
  }
}

function abortText(fn: string, f: Fault): string {
  const libc = /^(abort\(\)|exit\(-?\d+\)) called$/.exec(f.reason);
  if (libc) return `function ${fn} called ${libc[1]}`;
  if (f.reason) return `function ${fn} called sure_abort: ${f.reason}`;
  return `function ${fn} exited (code ${f.errorCode})`;
}

/** handle() returned non-zero: its output was dropped; the instance keeps serving. */
export class FunctionFailedError extends HttpError {
  readonly status = 500;
  readonly code = "function_failed";
  constructor(readonly fn: string, readonly rc: number, readonly requestId?: string) {
    super(`function ${fn}: handle() returned ${rc}`);
  }
  override details() {
    return {
      function: this.fn,
      rc: this.rc,
      ...(this.requestId ? { requestId: this.requestId } : {}),
    };
  }
}

/** The function's instance could not be started (its init crashed or hung). */
export class FunctionStartError extends HttpError {
  readonly status = 502;
  readonly code = "function_start_failed";
  constructor(readonly fn: string, reason: string) {
    super(`function ${fn} could not start: ${reason}`);
  }
  override details() {
    return { function: this.fn };
  }
}

/**
 * A step of a chain could not start (its init crashed or hung, as after a
 * redeploy of its function): the chain answers this at once, not after its
 * timeout, until the step starts (the node tries again, and at each deploy).
 */
export class ChainStepStartError extends HttpError {
  readonly status = 502;
  readonly code = "function_start_failed";
  constructor(
    readonly chain: string,
    readonly step: number,
    readonly fn: string,
    readonly reason: string,
  ) {
    super(
      `chain ${chain} cannot run: its step ${step} (function ${fn}) could not start: ${reason}`,
    );
  }
  override details() {
    return { chain: this.chain, step: this.step, function: this.fn };
  }
}

/**
 * A stored chain this node could not bring back at start (past its memory
 * budget, a function missing): it is there, but does not run until it is
 * applied again.
 */
export class ChainUnavailableError extends HttpError {
  readonly status = 503;
  readonly code = "chain_unavailable";
  constructor(readonly chain: string, reason: string) {
    super(
      `chain ${chain} is stored but does not run on this node: ${reason} ` +
        "(apply it again, POST /admin/chains, once that is fixed)",
    );
  }
  override details() {
    return { chain: this.chain };
  }
}

export class FunctionTimeoutError extends HttpError {
  readonly status = 504;
  readonly code = "function_timeout";
  constructor(readonly fn: string, readonly timeoutMs: number) {
    super(`function ${fn} did not answer within ${timeoutMs} ms`);
  }
  override details() {
    return { function: this.fn, timeoutMs: this.timeoutMs };
  }
}

/** A chain's request was handed on more often than any route allows: its routes loop. */
export class LoopDetectedError extends HttpError {
  readonly status = 508;
  readonly code = "loop_detected";
  constructor(readonly chain: string, readonly maxHops: number) {
    super(`chain ${chain} handed the request on more than ${maxHops} times: its routes loop`);
  }
  override details() {
    return { chain: this.chain, maxHops: this.maxHops };
  }
}

export class KvmUnavailableError extends HttpError {
  readonly status = 503;
  readonly code = "kvm_unavailable";
  constructor(readonly reason: string) {
    super(`this node cannot run functions: KVM is unavailable (${reason})`);
  }
  override details() {
    return { reason: this.reason };
  }
}

export class OverloadedError extends HttpError {
  readonly status = 503;
  readonly code = "overloaded";
  constructor(readonly fn: string, readonly retryAfterSec = 1) {
    super(`function ${fn} is overloaded: all instances busy and the queue is full`);
  }
  override details() {
    return { function: this.fn };
  }
  override headers() {
    return { "retry-after": String(this.retryAfterSec) };
  }
}

/** A known path asked with a method it does not serve. */
export class MethodNotAllowedError extends HttpError {
  readonly status = 405;
  readonly code = "method_not_allowed";
  constructor(method: string, path: string, readonly allow: string[]) {
    super(`${path} does not serve ${method}; it serves ${allow.join(", ")}`);
  }
  override details() {
    return { allow: this.allow };
  }
  override headers() {
    return { allow: this.allow.join(", ") };
  }
}

/** An Expect the node cannot meet: any but 100-continue (RFC 9110 10.1.1). */
export class ExpectationFailedError extends HttpError {
  readonly status = 417;
  readonly code = "expectation_failed";
  constructor() {
    super("the only expectation served is 100-continue");
  }
}

/** A body in a format the route does not read (e.g. not JSON). */
export class UnsupportedMediaTypeError extends HttpError {
  readonly status = 415;
  readonly code = "unsupported_media_type";
}

/** A chain asks for request-level isolation, which this node cannot give (runtime/isolation.ts). */
export class IsolationUnavailableError extends HttpError {
  readonly status = 409;
  readonly code = "isolation_unavailable";
  constructor(chain: string, level: string, reason: string) {
    super(
      `chain ${chain} asks for request-level isolation; this node gives ${level}-level ` +
        `isolation only: ${reason}`,
    );
  }
}

export class ConflictError extends HttpError {
  readonly status = 409;
  readonly code = "conflict";
}

/** A fleet member cannot reach the fleet, so a change to its desired state cannot be made now. */
export class FleetUnavailableError extends HttpError {
  readonly status = 503;
  readonly code = "fleet_unavailable";
}

/** A request forwarded to another node of the fleet came back without an answer to pass on. */
export class ForwardFailedError extends HttpError {
  readonly status = 502;
  readonly code = "forward_failed";
  /** node: the node it was forwarded to, when known. */
  constructor(message: string, readonly node?: string) {
    super(message);
  }
  override details(): Record<string, unknown> {
    return this.node ? { node: this.node } : {};
  }
}

/** An error of one chain's request: the body names the chain. */
abstract class ChainError extends HttpError {
  constructor(readonly chain: string, message: string) {
    super(message);
  }
  override details(): Record<string, unknown> {
    return { chain: this.chain };
  }
}

/** A chain step's node (a peer) cannot be reached: the request fails at once, naming it. */
export class PeerUnreachableError extends ChainError {
  readonly status = 502;
  readonly code = "peer_unreachable";
  constructor(chain: string, readonly node: string, message: string) {
    super(chain, message);
  }
  override details() {
    return { ...super.details(), node: this.node };
  }
}

/** A chain hop (`x-sure-hop`) from anything but the data plane of one of the chain's nodes. */
export class HopForbiddenError extends ChainError {
  readonly status = 403;
  readonly code = "forbidden";
  constructor(chain: string) {
    super(chain, `chain ${chain} takes x-sure-hop only from the nodes that run its other steps`);
  }
}

/** A chain's pool has no room for one more request right now. */
export class PoolExhaustedError extends ChainError {
  readonly status = 503;
  readonly code = "pool_exhausted";
  constructor(chain: string, readonly retryAfterSec = 1) {
    super(chain, `chain ${chain} has no free buffers for this request; retry shortly`);
  }
  override headers() {
    return { "retry-after": String(this.retryAfterSec) };
  }
}

/** A function of a chain handed on a descriptor that failed the checks. */
export class BogusDescriptorError extends ChainError {
  readonly status = 502;
  readonly code = "bogus_descriptor";
  constructor(chain: string, readonly fn: string) {
    super(
      chain,
      `function ${fn} of chain ${chain} handed on a bogus buffer descriptor and was stopped`,
    );
  }
  override details() {
    return { ...super.details(), function: this.fn };
  }
}

/** Admission refused: a function's rate or concurrency limit (the library sidecar's 429). */
export class TooManyRequestsError extends HttpError {
  readonly status = 429;
  readonly code: string;
  constructor(
    readonly fn: string,
    readonly limit: "rate" | "concurrency",
    readonly retryAfterSec = 1,
  ) {
    super(
      limit === "rate"
        ? `function ${fn} is over its rate limit; retry shortly`
        : `function ${fn} is over its concurrency limit; retry shortly`,
    );
    this.code = limit === "rate" ? "rate_limited" : "concurrency_limited";
  }
  override details() {
    return { function: this.fn };
  }
  override headers() {
    return { "retry-after": String(this.retryAfterSec) };
  }
}

/** A request waited longer than its function's deadline and was not run. */
export class DeadlineExceededError extends HttpError {
  readonly status = 504;
  readonly code = "deadline_exceeded";
  constructor(readonly fn: string, readonly deadlineMs: number) {
    super(`function ${fn} did not start the request within its deadline of ${deadlineMs} ms`);
  }
  override details() {
    return { function: this.fn, deadline: this.deadlineMs };
  }
}

/** A new instance would take the node past its memory budget. */
export class MemoryBudgetError extends HttpError {
  readonly status = 503;
  readonly code = "memory_budget_exhausted";
  constructor(
    readonly what: string,
    readonly wantBytes: number,
    readonly usedBytes: number,
    readonly limitBytes: number,
    readonly retryAfterSec = 1,
  ) {
    super(
      `cannot start ${what}: it needs ${mib(wantBytes)} MiB and the node's memory budget has ` +
        `${mib(limitBytes - usedBytes)} of ${mib(limitBytes)} MiB left`,
    );
  }
  override details() {
    return { needBytes: this.wantBytes, usedBytes: this.usedBytes, limitBytes: this.limitBytes };
  }
  override headers() {
    return { "retry-after": String(this.retryAfterSec) };
  }
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(bytes % 1048576 === 0 ? 0 : 1);
}

/** A function instance failed in a way the function cannot be blamed for. */
export class InternalError extends HttpError {
  readonly status = 500;
  readonly code = "internal_error";
}

/**
 * The one mapping of a failed zod parse to a 400: its first issue, named by
 * its path ("steps.1", "pool.bufferSize"). `input` is what was parsed: a
 * field absent from it is reported as "is required" rather than as zod's
 * "expected number, received undefined".
 */
export function validationError(error: z.ZodError, input: unknown): ValidationError {
  const issue = error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    return new ValidationError([...path, issue.keys[0]].join("."), "unknown field");
  }
  if (!path.length) return new ValidationError(undefined, issue.message);
  const missing = issue.code === "invalid_type" && valueAt(input, path) === undefined;
  return new ValidationError(path.join("."), missing ? "is required" : issue.message);
}

function valueAt(input: unknown, path: string[]): unknown {
  let v = input;
  for (const k of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Any thrown value as one of the classes above. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  // Hono's body readers: a body that does not parse, or one of another media type.
  if (err instanceof HTTPException && err.status === 400) {
    return new ValidationError(undefined, err.message);
  }
  if (err instanceof HTTPException && err.status === 415) {
    return new UnsupportedMediaTypeError(`${err.message}: send content-type application/json`);
  }
  return new InternalError(err instanceof Error ? err.message : String(err));
}

/** The JSON error response for any thrown value (outside a Hono context). */
export function errorResponse(err: unknown): Response {
  const e = toHttpError(err);
  return new Response(JSON.stringify(e.body()), {
    status: e.status,
    headers: { "content-type": "application/json", ...e.headers() },
  });
}

/** An admin call (or a private function's invocation) without the node's token. */
export class UnauthorizedError extends HttpError {
  readonly status = 401;
  readonly code = "unauthorized";
  constructor(message: string) {
    super(message);
  }
  override headers(): Record<string, string> {
    return { "www-authenticate": 'Bearer realm="sure"' };
  }
}

/** The admin API over plain HTTP on a node that listens beyond loopback. */
export class TlsRequiredError extends HttpError {
  readonly status = 403;
  readonly code = "tls_required";
  constructor(readonly adminUrl: string | undefined) {
    super(
      adminUrl
        ? `this node serves its admin API only over TLS: use ${adminUrl}`
        : "this node listens beyond loopback and serves its admin API only over TLS: start it " +
          "with --tls-cert and --tls-key (or --insecure)",
    );
  }
  override details(): Record<string, unknown> {
    return this.adminUrl ? { adminUrl: this.adminUrl } : {};
  }
}
