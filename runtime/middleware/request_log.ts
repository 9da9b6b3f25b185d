/**
 * The request log: one JSON line per gateway request (request id, function
 * or chain, status, duration, trace id, error kind). Installed only when the
 * node logs requests (SURE_REQUEST_LOG=0 / requestLog: false turn it off).
 */
import type { Logger } from "../log.ts";
import type { InvocationObserver } from "./invocations.ts";

export function requestLog(logger: Logger): InvocationObserver {
  return (o) => {
    logger(o.status >= 500 ? "warn" : "info", "request", {
      requestId: o.requestId,
      [o.target]: o.name,
      status: o.status,
      durationMs: Math.round(o.seconds * 1e6) / 1000,
      traceId: o.traceId,
      ...(o.kind ? { error: o.kind } : {}),
    });
  };
}
