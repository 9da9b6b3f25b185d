/**
 * The request id: the caller's X-Request-Id when it is sane (so ids can be
 * followed across systems), otherwise a new UUID. It is answered in the
 * x-request-id header, also on errors (onError answers through c.json, which
 * keeps headers set here).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";

/** Short and plain: it ends up in log lines and headers verbatim. */
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(header: string | undefined): string {
  return header !== undefined && SANE_ID.test(header) ? header : crypto.randomUUID();
}

export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = requestIdOf(c.req.header("x-request-id"));
  c.set("requestId", id);
  c.header("x-request-id", id);
  await next();
};
