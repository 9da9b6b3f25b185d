/**
 * The rules for function, chain and node names, without their zod schemas
 * (names.ts): the CLI checks names before it loads any schema.
 */

/** a-z first, then a-z, 0-9 and '-', at most 63 characters. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** The rule in words, for error messages: "<field> must start with ...". */
export const NAME_RULE =
  "must start with a-z and contain only a-z, 0-9 and '-' (at most 63 characters)";

/** True for a valid function or chain name. */
export function isName(s: string): boolean {
  return NAME_PATTERN.test(s);
}

/** A node's name (--node-name; peers know it from --peer name=addr:port): as a name, at most 31. */
export const NODE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
