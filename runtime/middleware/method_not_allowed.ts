/**
 * 405 instead of 404 for a known path asked with the wrong method (RFC 9110
 * 15.5.6: with an Allow header naming the methods it serves). Used as the
 * app's notFound handler: it asks the app's own router which methods match
 * the path, so it agrees with the routing exactly; a path no route serves
 * stays a 404.
 */
import type { Context, Hono } from "hono";
import { MethodNotAllowedError, NotFoundError } from "../errors.ts";

// deno-lint-ignore no-explicit-any
type AnyHono = Hono<any, any, any>;

/** The methods some route (not middleware: those are "ALL") serves for path. */
export function allowedMethods(app: AnyHono, path: string): string[] {
  const methods = new Set(app.routes.map((r) => r.method).filter((m) => m !== "ALL"));
  const allowed = [...methods].filter((m) =>
    app.router.match(m, path)[0].some(([[, route]]) => route.method !== "ALL")
  );
  // Hono answers HEAD with the GET route, without its body.
  if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
  return allowed.sort();
}

/** The error for a request no route took: 405 when the path exists for other methods. */
export function noRoute(app: AnyHono, c: Context): Error {
  const { method, path } = c.req;
  const allowed = allowedMethods(app, path);
  // A method that matches but still fell through (e.g. a trailing slash) is no 405.
  if (allowed.length && !allowed.includes(method)) {
    return new MethodNotAllowedError(method, path, allowed);
  }
  return new NotFoundError(`no route for ${method} ${path}`);
}
