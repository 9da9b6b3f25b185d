/**
 * One timer around each request the gateway claimed (c.var.invocation) and
 * the outcome handed to every observer (metrics, the request log): how long
 * it took, the status answered and, when a handler threw, the error's kind
 * (the `error` code of the JSON body).
 */
import type { MiddlewareHandler } from "hono";
import { toHttpError } from "../errors.ts";
import type { Target } from "../metrics/metrics.ts";
import type { AppEnv } from "./env.ts";

export interface InvocationOutcome {
  target: Target;
  name: string;
  status: number;
  /** The error code when the request failed. */
  kind?: string;
  seconds: number;
  requestId: string;
  traceId: string;
  /**
   * The requests it stands for, where the data plane folded answers of one
   * kind (DataplaneLink.foldAnswers); absent: 1. seconds is then their sum,
   * requestId and traceId are "", and buckets counts them by the bounds the
   * fold was given (the last bucket past every bound).
   */
  count?: number;
  buckets?: readonly number[];
}

export type InvocationObserver = (o: InvocationOutcome) => void;

export function observeInvocations(
  ...observers: InvocationObserver[]
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const inv = c.get("invocation");
    if (!inv) return;
    const o: InvocationOutcome = {
      target: inv.target,
      name: inv.name,
      status: c.res.status,
      // Hono's compose sets c.error when a handler threw and onError answered.
      kind: c.error ? toHttpError(c.error).code : undefined,
      seconds: (performance.now() - t0) / 1000,
      requestId: c.get("requestId"),
      traceId: c.get("trace").traceId,
    };
    for (const observe of observers) observe(o);
  };
}
