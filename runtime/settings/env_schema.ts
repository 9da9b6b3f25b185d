/** An env object (sure.json's "env", a JSON body) as a zod schema; the rules are env.ts's. */
import { z } from "@hono/zod-openapi";
import { ENV_NAME_MAX, ENV_NAME_RE } from "./env.ts";

/** zod schema of an env object (as in sure.json or a JSON body); the values are public. */
export const EnvVarsSchema = z.record(
  z.string().regex(ENV_NAME_RE, {
    error: "names must match [A-Za-z_][A-Za-z0-9_]*",
  }).max(ENV_NAME_MAX),
  z.string().refine((v) => !v.includes("\0"), { error: "must not contain a NUL character" }),
);
