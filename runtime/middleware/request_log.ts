/**
 * The request log: one JSON line per gateway request (request id, function
 * or chain, status, duration, trace id, error kind). Installed only when the
 * node logs requests (SURE_REQUEST_LOG=0 / requestLog: false turn it off).
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import type { AppEnv } from "./env.ts";
import { outcome } from "./outcome.ts";

export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const inv = c.get("invocation");
    if (!inv) return;
    const { status, kind } = outcome(c);
    logger(status >= 500 ? "warn" : "info", "request", {
      requestId: c.get("requestId"),
      [inv.target]: inv.name,
      status,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
      traceId: c.get("trace").traceId,
      ...(kind ? { error: kind } : {}),
    });
  };
}
