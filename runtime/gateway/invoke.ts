/**
 * The gateway: POST (or GET, empty body) /invoke/:name runs the function with
 * the request body and answers with the status and bytes the function chose.
 */
import { Hono } from "hono";
import { HttpError, InternalError, NotFoundError } from "../errors.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { readLimited } from "./body.ts";
import type { ChainManager } from "../chains/manager.ts";
import type { Logger } from "../log.ts";
import type { NodeMetrics, Target } from "../metrics/metrics.ts";
import { traceFor } from "./trace.ts";

/** Statuses that must not carry a body (fetch spec "null body status"). */
const NULL_BODY = new Set([204, 205, 304]);

/**
 * Text when the client asked for it (Accept names a text/ type); otherwise
 * the function's bytes are opaque. The request's own content type does not
 * count: clients label string bodies text/plain without asking for anything.
 */
function contentType(req: Request): string {
  const accept = req.headers.get("accept") ?? "";
  if (/(^|[\s,])text\//i.test(accept)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

export interface GatewayDeps {
  scheduler: Scheduler;
  chains?: ChainManager;
  metrics?: NodeMetrics;
  logger?: Logger;
  /** One structured log line per request (default true). */
  requestLog?: boolean;
}

export function gatewayRoutes(deps: GatewayDeps): Hono {
  const r = new Hono();
  r.on(["GET", "POST"], "/invoke/:name", async (c) => {
    const t0 = performance.now();
    const name = c.req.param("name");
    const requestId = crypto.randomUUID();
    const trace = traceFor(c.req.header("traceparent") ?? null);
    let target: Target = "function";
    let status = 500;
    let kind: string | undefined;
    try {
      const chain = deps.chains?.get(name);
      if (chain) target = "chain";
      // 404 before reading anything, then the function's (or chain's) own body limit.
      const limit = chain ? chain.spec.maxBody : deps.scheduler.pool(name).deployment.maxBody;
      const body = c.req.method === "GET" ? new Uint8Array(0) : await readLimited(c.req.raw, limit);
      // Look again: the chain may have been replaced while the body arrived.
      const current = chain ? deps.chains?.get(name) : undefined;
      if (chain && !current) throw new NotFoundError(`chain ${name} does not exist`);
      const res = current
        ? await current.invoke(body, requestId, trace.bytes)
        : await deps.scheduler.invoke(name, body, requestId, trace.bytes);
      if (!Number.isInteger(res.status) || res.status < 200 || res.status > 599) {
        throw new InternalError(`function ${name} answered with invalid HTTP status ${res.status}`);
      }
      status = res.status;
      return new Response(NULL_BODY.has(res.status) ? null : res.body, {
        status: res.status,
        headers: {
          "content-type": contentType(c.req.raw),
          "x-request-id": requestId,
          traceparent: trace.header,
        },
      });
    } catch (e) {
      status = e instanceof HttpError ? e.status : 500;
      kind = e instanceof HttpError ? e.code : "internal_error";
      if (e instanceof HttpError) {
        e.extraHeaders = { "x-request-id": requestId, traceparent: trace.header };
      }
      throw e;
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      // An unknown name is not a series: a scanner must not grow the metrics without bound.
      if (kind !== "not_found") deps.metrics?.record(target, name, status, seconds, kind);
      if (deps.requestLog !== false) {
        deps.logger?.(status >= 500 ? "warn" : "info", "request", {
          requestId,
          [target]: name,
          status,
          durationMs: Math.round(seconds * 1e6) / 1000,
          traceId: trace.traceId,
          ...(kind ? { error: kind } : {}),
        });
      }
    }
  });
  return r;
}
