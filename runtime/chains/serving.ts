/**
 * How a chain is served when libsure's data plane runs its /invoke requests
 * (runtime/dataplane/link.ts implements it): the chain attaches once its
 * steps run, and hears back in batches only what needs the control plane:
 * answered requests (its counters) and steps that went down (restart them;
 * explain a death and answer its request).
 */
import type { ChainRouteSettings } from "../../ffi/dataplane.ts";
import type { HttpError } from "../errors.ts";

export interface ChainStepDown {
  step: number;
  /** -EFAULT (died), -ETIMEDOUT (stopped past the timeout), -EPROTO (bogus descriptor),
   *  -ENOENT (a request timed out where no instance runs the step). */
  rc: number;
  /** A request whose answer is the control plane's (a death), else 0n. */
  token: bigint;
  requestId: string;
}

export interface ChainHooks {
  /** count requests were answered so (code: the node's error code, or ""; loop: a 508). */
  done(status: number, code: string, loop: boolean, count: number): void;
  /** A step is down; for a token, the error to answer with (its outcome is reported). */
  stepDown(ev: ChainStepDown): Promise<HttpError | undefined>;
}

export interface ChainAttachment {
  /** No new requests. */
  close(): void;
  /** Lets go of the chain: false while a body still arrives into its pool. */
  release(): boolean;
  /** Requests in the chain now. */
  running(): number;
  /** Answers a parked request (the token of a step-down). */
  answer(token: bigint, err: HttpError): void;
  /** While a step cannot start, new requests get err at once; null: serve again. */
  refuse(err: HttpError | null): void;
}

export interface ChainServing {
  attach(
    chain: Deno.PointerObject,
    settings: ChainRouteSettings,
    hooks: ChainHooks,
  ): ChainAttachment;
}
