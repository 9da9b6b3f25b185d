/**
 * Gateway request metrics: count and latency by target (function or chain),
 * name and status, and errors by kind.
 */
import type { NodeMetrics } from "../metrics/metrics.ts";
import type { InvocationObserver } from "./invocations.ts";

export function requestMetrics(metrics: NodeMetrics): InvocationObserver {
  return (o) => {
    // An unknown name is not a series: a scanner must not grow the metrics without bound.
    if (o.kind === "not_found") return;
    metrics.record(o.target, o.name, o.status, o.seconds, o.kind, o.count, o.buckets);
  };
}
