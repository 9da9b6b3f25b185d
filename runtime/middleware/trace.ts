/**
 * W3C trace context for the gateway: the incoming traceparent is continued
 * (or a trace started) and the node's own span is answered in traceparent,
 * errors included. The ids themselves are made in runtime/gateway/trace.ts.
 */
import type { MiddlewareHandler } from "hono";
import { traceFor } from "../gateway/trace.ts";
import type { AppEnv } from "./env.ts";

export const traceContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const trace = traceFor(c.req.header("traceparent") ?? null);
  c.set("trace", trace);
  c.header("traceparent", trace.header);
  await next();
};
