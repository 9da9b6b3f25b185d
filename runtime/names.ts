/**
 * Function and chain names, defined once. Names are URLs (/invoke/{name})
 * and keys in the store, so every layer checks them the same way. This
 * module imports nothing of the node: the chain spec, the admin API and the
 * CLI can all use it without importing each other.
 */
import { z } from "@hono/zod-openapi";

import { NAME_PATTERN, NAME_RULE, NODE_NAME_PATTERN } from "./name_rules.ts";

export { isName, NAME_PATTERN, NAME_RULE, NODE_NAME_PATTERN } from "./name_rules.ts";

/** A function (or chain) name as the zod schemas and the OpenAPI document see it. */
export const FunctionName = z.string({ error: "must be a string" })
  .regex(NAME_PATTERN, { error: NAME_RULE })
  .describe("Function name, also its URL: /invoke/{name}");

export const NodeName = z.string({ error: "must be a string" })
  .regex(NODE_NAME_PATTERN, {
    error: "must start with a-z and contain only a-z, 0-9 and '-' (at most 31 characters)",
  })
  .describe("A node's name");
