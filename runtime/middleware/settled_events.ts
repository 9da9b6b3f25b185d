/**
 * Reads of what the data plane answered (/metrics, function logs, chain and
 * function counters) first wait until the events it held have been handled:
 * they reach the control plane in batches (runtime/dataplane/link.ts), so a
 * read right after an answer would otherwise miss it.
 */
import type { MiddlewareHandler } from "hono";

export interface Settles {
  settled(): Promise<void>;
}

export function settledEvents(events: Settles | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (events && (c.req.method === "GET" || c.req.method === "HEAD")) await events.settled();
    await next();
  };
}
