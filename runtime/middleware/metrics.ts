/**
 * Gateway request metrics: count and latency by target (function or chain),
 * name and status, and errors by kind. Only requests the gateway claimed
 * (c.var.invocation) are counted.
 */
import type { MiddlewareHandler } from "hono";
import type { NodeMetrics } from "../metrics/metrics.ts";
import type { AppEnv } from "./env.ts";
import { outcome } from "./outcome.ts";

export function requestMetrics(metrics: NodeMetrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const inv = c.get("invocation");
    if (!inv) return;
    const { status, kind } = outcome(c);
    // An unknown name is not a series: a scanner must not grow the metrics without bound.
    if (kind === "not_found") return;
    metrics.record(inv.target, inv.name, status, (performance.now() - t0) / 1000, kind);
  };
}
