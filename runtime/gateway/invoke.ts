/**
 * The gateway: GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS on
 * /invoke/{name}[/any/path] run the function or chain with the HTTP request
 * (method, path below the name, query, headers: the head block of
 * sure_http_abi.h; then the body) and answer with the status, headers and
 * bytes it chose. Request id, trace context, metrics and the request log are
 * the app's middleware (runtime/middleware/); this handler tells them what
 * it runs through c.set("invocation").
 */
import { rawTarget } from "./target.ts";
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ContentfulStatusCode, StatusCode } from "hono/utils/http-status";
import {
  ChainUnavailableError,
  HeadersTooLargeError,
  InternalError,
  NotFoundError,
  OverloadedError,
} from "../errors.ts";
import { type HeaderList, type RequestHead, requestHeadSize } from "../../ffi/mod.ts";
import { LIMITS } from "../../ffi/abi.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { readLimited } from "./body.ts";
import { sendToEntry } from "./chain_entry.ts";
import { FORWARDED_BY, hasBody, sendOn } from "./send_on.ts";
import type { ChainManager } from "../chains/manager.ts";
import type { AppEnv } from "../middleware/env.ts";
import { ANY_OTHER_ERROR, error, NameParams } from "../admin/schemas.ts";

/** Statuses that must not carry a body (fetch spec "null body status"). */
const NULL_BODY = new Set([204, 205, 304]);

/** What a function answers when it sets no Content-Type: opaque bytes. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** The methods that reach functions (any other gets 405 from the app). */
export const INVOKE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/**
 * What the function sees of the request besides its body: the method, the
 * path below /invoke/<name> and the raw query as they came on the wire, and
 * every header (names in lower case). 431 when they do not fit its head block.
 */
export function requestHead(
  req: Request,
  requestId: string,
  /** Headers the function never sees (a private function's: the node's token). */
  hide: readonly string[] = [],
): RequestHead {
  const headers: [string, string][] = [];
  // forEach, not the iterator: Deno's Headers iterator is ~20x slower (measured
  // by bench/http_head_bench.ts: 40 us for 23 headers against 2 us).
  req.headers.forEach((value, key) => {
    if (key !== "x-request-id" && !hide.includes(key)) headers.push([key, value]);
  });
  // The id the node answers with and logs (the caller's, if it sent a sane one).
  headers.push(["x-request-id", requestId]);
  const head = { method: req.method, ...rawTarget(req.url), headers };
  const size = requestHeadSize(head);
  if (size > LIMITS.reqHeadCap || head.headers.length > LIMITS.headMaxFields) {
    throw new HeadersTooLargeError(
      `the request's method, path, query and headers take ${size} bytes in ` +
        `${head.headers.length} headers: a function sees at most ${LIMITS.reqHeadCap} bytes ` +
        `and ${LIMITS.headMaxFields} headers`,
    );
  }
  return head;
}

/** The function's headers as Hono takes them (repeated names, e.g. Set-Cookie, kept). */
export function responseHeaders(list: HeaderList | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of list ?? []) {
    const name = k.toLowerCase();
    const had = out[name];
    out[name] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  if (out["content-type"] === undefined) out["content-type"] = DEFAULT_CONTENT_TYPE;
  return out;
}

export interface GatewayDeps {
  scheduler: Scheduler;
  chains?: ChainManager;
  /** libsure's data plane: the functions it serves are run there, even from here. */
  dataplane?: {
    serves(name: string): boolean;
    readonly port: number;
    /** Where it listens (numeric): "0.0.0.0" and "::" are reached on loopback. */
    readonly host: string;
  };
  /** The fleet: functions this node does not run are forwarded to a node that does. */
  fleet?: {
    forwards(name: string): boolean;
    forward(name: string, req: Request, requestId: string): Promise<Response>;
  };
}

/**
 * A request for a function the data plane serves that reached the Hono app
 * anyway (a connection that stayed a tunnel here after a streamed answer, an event
 * delivery, a structured CloudEvent unpacked by the middleware): the
 * instances are the data plane's, so it goes there over loopback, with the
 * node's request id. The data plane reports it (metrics, request log).
 */
/**
 * Forwards never reuse a connection: the data plane hands a whole connection
 * to the Hono app once it carried a request it does not serve, so a reused
 * one could bring a forwarded request straight back here.
 */
let client: Deno.HttpClient | undefined;
function forwardClient(): Deno.HttpClient {
  return client ??= Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
}

/** Marks a request the Hono app forwarded to the data plane. */
const FORWARDED = "x-sure-forwarded";

async function forward(
  req: Request,
  dp: { port: number; host: string },
  requestId: string,
): Promise<Response> {
  const body = hasBody(req) ? new Uint8Array(await req.arrayBuffer()) : undefined;
  const host = dp.host === "0.0.0.0" ? "127.0.0.1" : dp.host === "::" ? "::1" : dp.host;
  const where = host.includes(":") ? `[${host}]` : host;
  const set = { "x-request-id": requestId, [FORWARDED]: "1" };
  return await sendOn(req, `http://${where}:${dp.port}`, set, body, forwardClient());
}

export function gatewayRoutes(deps: GatewayDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  // A plain route (no zod validation on the hot path); only its description is registered.
  r.on(INVOKE_METHODS, ["/invoke/:name", "/invoke/:name/*"], async (c) => {
    const name = c.req.param("name");
    const chain = deps.chains?.get(name);
    if (chain?.entry) {
      c.set("functionAnswer", true);
      return await sendToEntry(
        c.req.raw,
        name,
        chain.entry,
        c.get("requestId"),
        chain.spec.maxBody,
      );
    }
    if (deps.dataplane?.serves(name)) {
      // Forwarded once already and handed back: the data plane no longer
      // serves it (a route withdrawn meanwhile). Never forward in a loop.
      if (c.req.header(FORWARDED)) throw new OverloadedError(name);
      c.set("functionAnswer", true); // the function's bytes: no admin schema applies
      return forward(c.req.raw, deps.dataplane, c.get("requestId"));
    }
    if (!chain && deps.fleet?.forwards(name)) {
      // Another node sent it here as one that runs it, and this one does not
      // (any more): never forward it on.
      if (c.req.header(FORWARDED_BY)) throw new OverloadedError(name);
      c.set("functionAnswer", true);
      return await deps.fleet.forward(name, c.req.raw, c.get("requestId"));
    }
    const down = chain ? undefined : deps.chains?.notRunning(name);
    if (down !== undefined) throw new ChainUnavailableError(name, down);
    c.set("invocation", { target: chain ? "chain" : "function", name });
    // 404 before reading anything, then the function's (or chain's) own limits.
    const limit = chain ? chain.spec.maxBody : deps.scheduler.group(name).deployment.maxBody;
    // Never the node's token, its admin API's one credential, which a private
    // function's callers send.
    const hide = !chain && deps.scheduler.isPrivate(name) ? ["authorization"] : [];
    const head = requestHead(c.req.raw, c.get("requestId"), hide);
    const body = await readLimited(c.req.raw, limit);
    // Look again: the chain may have been replaced while the body arrived.
    const current = chain ? deps.chains?.get(name) : undefined;
    if (chain && !current) throw new NotFoundError(`chain ${name} does not exist`);
    const requestId = c.get("requestId"), trace = c.get("trace");
    const res = current
      ? await current.invoke(body, requestId, trace.bytes, head)
      : await deps.scheduler.invoke(name, body, requestId, trace.bytes, head);
    if (!Number.isInteger(res.status) || res.status < 200 || res.status > 599) {
      throw new InternalError(`function ${name} answered with invalid HTTP status ${res.status}`);
    }
    const headers = responseHeaders(res.headers);
    c.set("functionAnswer", true);
    if (NULL_BODY.has(res.status)) return c.body(null, res.status as StatusCode, headers);
    return c.body(res.body, res.status as ContentfulStatusCode, headers);
  });
  for (const method of INVOKE_METHODS) {
    const m = method.toLowerCase() as Lowercase<typeof method>;
    const withBody = m === "post" || m === "put" || m === "patch";
    r.openAPIRegistry.registerPath({
      method: m as "get",
      path: "/invoke/{name}",
      operationId: m === "post" ? "invoke" : `invoke${method[0]}${m.slice(1)}`,
      summary: `Run the function (or chain) with a ${method} request`,
      description: "The function sees the method, the path below /invoke/{name} " +
        "(/invoke/{name}/users/7 gives /users/7; any path below it reaches the same " +
        "function), the raw query, every header and the body; it answers with its " +
        "status, headers and bytes.",
      tags: ["gateway"],
      request: {
        params: NameParams,
        ...(withBody
          ? { body: { content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } } }
          : {}),
      },
      responses: {
        200: {
          description: "The function's answer: its status (200-599), headers and bytes; " +
            `${DEFAULT_CONTENT_TYPE} unless it set a Content-Type`,
        },
        404: error("No such function or chain"),
        405: error("A method no function sees (TRACE, any other token): Allow names those it does"),
        413: error("Body larger than the function's maxBody"),
        417: error("An Expect other than 100-continue"),
        429: error("Over the function's rate or concurrency limit"),
        431: error("Method, path, query and headers larger than a function can see"),
        500: error("The function's handle() returned non-zero (function_failed, naming it)"),
        502: error(
          "The function faulted (function_fault, naming function, file and line), gave up " +
            "(function_aborted, with its reason), could not start, or set a response header " +
            "the node does not pass on (bad_response_header: hop-by-hop, framing, CR/LF); for " +
            "a chain whose step cannot start, function_start_failed naming the step",
        ),
        503: error(
          "KVM unavailable, function overloaded, pool or memory budget full, or a stored chain " +
            "this node could not bring back at start (chain_unavailable, saying why)",
        ),
        504: error("The function timed out, or waited past its deadline"),
        default: ANY_OTHER_ERROR,
      },
    });
  }
  return r;
}
