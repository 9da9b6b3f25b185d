/**
 * A check for tests: every JSON answer of a documented route must match the
 * zod schema its OpenAPI description gives for that status (or `default`),
 * so the document cannot drift from what the node answers. A mismatch
 * throws ResponseSchemaError: the request fails with a 500 naming the route,
 * the status and the first difference. Enabled by SURE_VALIDATE_RESPONSES=1
 * or AppDeps.validateResponses (tests/helpers.ts turns it on); off, it is
 * not installed at all.
 */
import type { RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { z } from "zod";

export class ResponseSchemaError extends Error {}

/** What is wrong with answering `body` with `status` on `route`, or null. */
export function responseMismatch(route: RouteConfig, status: number, body: unknown): string | null {
  const doc = route.responses[String(status)] ?? route.responses.default;
  if (!doc || "$ref" in doc) return `status ${status} is not documented`;
  const media = doc.content?.["application/json"];
  const schema = media && "schema" in media ? media.schema : undefined;
  if (!schema || !("safeParse" in schema)) return `status ${status} is documented without JSON`;
  const parsed = (schema as z.ZodType).safeParse(body);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  return `${issue.path.join(".") || "(body)"}: ${issue.message}`;
}

/** Hono's route path ("/a/:name") for an OpenAPI one ("/a/{name}"). */
const honoPath = (p: string) => p.replace(/\{(\w+)\}/g, ":$1");

export function responseCheck(routes: () => RouteConfig[]): MiddlewareHandler {
  let byRoute: Map<string, RouteConfig> | undefined;
  return async (c, next) => {
    await next();
    if (!(c.res.headers.get("content-type") ?? "").startsWith("application/json")) return;
    if (c.get("functionAnswer")) return; // a function's own JSON: its schema is its own
    // The route that answered: the last matched one that is not middleware.
    const answered = matchedRoutes(c).findLast((r) => r.method !== "ALL");
    if (!answered) return; // no route: the app's own 404/405
    byRoute ??= new Map(
      routes().map((r) => [`${r.method.toUpperCase()} ${honoPath(r.path)}`, r]),
    );
    const where = `${answered.method} ${answered.path}`;
    // "/invoke/:name/*" is documented as "/invoke/{name}": the same function, any path below.
    const route = byRoute.get(where) ?? byRoute.get(where.replace(/\/\*$/, ""));
    const problem = route
      ? responseMismatch(route, c.res.status, await c.res.clone().json())
      : "the route is not in the OpenAPI document";
    if (problem) {
      throw new ResponseSchemaError(
        `${where} answered ${c.res.status}, which does not match its documented schema: ${problem}`,
      );
    }
  };
}
