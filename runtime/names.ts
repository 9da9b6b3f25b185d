/**
 * Function and chain names, defined once. Names are URLs (/invoke/{name})
 * and keys in the store, so every layer checks them the same way. This
 * module imports nothing of the node: the chain spec, the admin API and the
 * CLI can all use it without importing each other.
 */
import { z } from "@hono/zod-openapi";

/** a-z first, then a-z, 0-9 and '-', at most 63 characters. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** The rule in words, for error messages: "<field> must start with ...". */
export const NAME_RULE =
  "must start with a-z and contain only a-z, 0-9 and '-' (at most 63 characters)";

/** True for a valid function or chain name. */
export function isName(s: string): boolean {
  return NAME_PATTERN.test(s);
}

/** A function (or chain) name as the zod schemas and the OpenAPI document see it. */
export const FunctionName = z.string({ error: "must be a string" })
  .regex(NAME_PATTERN, { error: NAME_RULE })
  .describe("Function name, also its URL: /invoke/{name}");

/** A node's name (--node-name; peers know it from --peer name=addr:port): as a name, at most 31. */
export const NODE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
export const NodeName = z.string({ error: "must be a string" })
  .regex(NODE_NAME_PATTERN, {
    error: "must start with a-z and contain only a-z, 0-9 and '-' (at most 31 characters)",
  })
  .describe("A node's name");
