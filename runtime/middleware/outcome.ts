/**
 * How a request ended, as the metrics and the request log both report it:
 * the answered status and, when a handler threw, the error's kind (the
 * `error` code of the JSON body).
 */
import type { Context } from "hono";
import { toHttpError } from "../errors.ts";
import type { AppEnv } from "./env.ts";

export function outcome(c: Context<AppEnv>): { status: number; kind?: string } {
  // Hono's compose sets c.error when a handler threw and onError answered.
  return { status: c.res.status, kind: c.error ? toHttpError(c.error).code : undefined };
}
