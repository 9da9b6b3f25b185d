/**
 * What the app's middleware hands to the routes through the Hono context
 * (c.set / c.get), typed once for every route of the app.
 */
import type { TraceContext } from "../gateway/trace.ts";
import type { Target } from "../metrics/metrics.ts";

/** The function or chain a gateway request ran: what its metrics and log line are about. */
export interface Invocation {
  target: Target;
  name: string;
}

/** How a request reached the app (runtime/middleware/auth.ts). */
export type Transport = "plain" | "tls" | "internal";

export interface AppEnv {
  /** Passed by whoever calls app.fetch; absent: "plain". */
  Bindings: { transport?: Transport } | undefined;
  Variables: {
    /** Every request: the caller's sane X-Request-Id, or a new UUID. */
    requestId: string;
    /** /invoke requests: the W3C trace context continued (or started) by the node. */
    trace: TraceContext;
    /** Set by the gateway once it knows what it runs; unset, a request is not counted. */
    invocation: Invocation | undefined;
    /** Set by the gateway when the answer is the function's own (its status,
     * headers and bytes), not one the node made: no node schema applies. */
    functionAnswer: boolean | undefined;
  };
}
