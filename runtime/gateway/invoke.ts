/**
 * The gateway: POST (or GET, empty body) /invoke/{name} runs the function or
 * chain with the request body and answers with the status and bytes it
 * chose. Request id, trace context, metrics and the request log are the
 * app's middleware (runtime/middleware/); this handler tells them what it
 * runs through c.set("invocation").
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ContentfulStatusCode, StatusCode } from "hono/utils/http-status";
import { InternalError, NotFoundError } from "../errors.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { readLimited } from "./body.ts";
import type { ChainManager } from "../chains/manager.ts";
import type { AppEnv } from "../middleware/env.ts";
import { ANY_OTHER_ERROR, error, NameParams } from "../admin/schemas.ts";

/** Statuses that must not carry a body (fetch spec "null body status"). */
const NULL_BODY = new Set([204, 205, 304]);

/**
 * Text when the client asked for it (Accept names a text/ type); otherwise
 * the function's bytes are opaque. The request's own content type does not
 * count: clients label string bodies text/plain without asking for anything.
 */
function contentType(accept: string | undefined): string {
  if (/(^|[\s,])text\//i.test(accept ?? "")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

export interface GatewayDeps {
  scheduler: Scheduler;
  chains?: ChainManager;
}

export function gatewayRoutes(deps: GatewayDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  // A plain route (no zod validation on the hot path); only its description is registered.
  r.on(["GET", "POST"], "/invoke/:name", async (c) => {
    const name = c.req.param("name");
    const chain = deps.chains?.get(name);
    c.set("invocation", { target: chain ? "chain" : "function", name });
    // 404 before reading anything, then the function's (or chain's) own body limit.
    const limit = chain ? chain.spec.maxBody : deps.scheduler.group(name).deployment.maxBody;
    const body = c.req.method === "GET" ? new Uint8Array(0) : await readLimited(c.req.raw, limit);
    // Look again: the chain may have been replaced while the body arrived.
    const current = chain ? deps.chains?.get(name) : undefined;
    if (chain && !current) throw new NotFoundError(`chain ${name} does not exist`);
    const requestId = c.get("requestId"), trace = c.get("trace");
    const res = current
      ? await current.invoke(body, requestId, trace.bytes)
      : await deps.scheduler.invoke(name, body, requestId, trace.bytes);
    if (!Number.isInteger(res.status) || res.status < 200 || res.status > 599) {
      throw new InternalError(`function ${name} answered with invalid HTTP status ${res.status}`);
    }
    const headers = { "content-type": contentType(c.req.header("accept")) };
    if (NULL_BODY.has(res.status)) return c.body(null, res.status as StatusCode, headers);
    return c.body(res.body, res.status as ContentfulStatusCode, headers);
  });
  for (const method of ["post", "get"] as const) {
    r.openAPIRegistry.registerPath({
      method,
      path: "/invoke/{name}",
      operationId: method === "post" ? "invoke" : "invokeGet",
      summary: method === "post"
        ? "Run the function (or chain) with the request body"
        : "Run the function (or chain) with an empty body",
      tags: ["gateway"],
      request: {
        params: NameParams,
        ...(method === "post"
          ? { body: { content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } } }
          : {}),
      },
      responses: {
        200: {
          description: "The function's answer: its status (200-599) and bytes; text/plain " +
            "when Accept names a text type, else application/octet-stream",
        },
        404: error("No such function or chain"),
        413: error("Body larger than the function's maxBody"),
        429: error("Over the function's rate or concurrency limit"),
        502: error("The function faulted, or could not start"),
        503: error("KVM unavailable, function overloaded, pool or memory budget full"),
        504: error("The function timed out, or waited past its deadline"),
        default: ANY_OTHER_ERROR,
      },
    });
  }
  return r;
}
