/**
 * RFC 9110 10.1.1: a request that expects something the node cannot meet
 * (any Expect but 100-continue, which Deno's server answers itself) is
 * refused 417 before any route runs, as Go's and Node's servers do and as
 * libsure's parser does on the data plane (http_parse.c), so both paths
 * answer alike. Several Expect fields arrive joined by ", ": refused too.
 */
import type { MiddlewareHandler } from "hono";
import { ExpectationFailedError } from "../errors.ts";
import type { AppEnv } from "./env.ts";

export const expectation: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expect = c.req.header("expect");
  if (expect !== undefined && expect.trim().toLowerCase() !== "100-continue") {
    throw new ExpectationFailedError();
  }
  await next();
};
