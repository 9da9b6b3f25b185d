/**
 * Route middleware for /admin/functions/{name}/...: 404 for a function that
 * is not deployed, before the route reads and validates its body or query
 * (an unknown function is the first thing to hear about).
 */
import type { MiddlewareHandler } from "hono";
import type { Scheduler } from "../scheduler/scheduler.ts";

export function deployedFunction(scheduler: Scheduler): MiddlewareHandler {
  return async (c, next) => {
    scheduler.group(c.req.param("name") ?? ""); // throws NotFoundError
    await next();
  };
}
