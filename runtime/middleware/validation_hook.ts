/**
 * What a route does when its declared request (path params, query, JSON
 * body) fails its zod schema: the same answer everywhere, through the one
 * zod -> 400 mapping in runtime/errors.ts. A path parameter that is not a
 * valid name cannot name anything, so it is a 404 like any unknown name.
 */
import type { OpenAPIHonoOptions } from "@hono/zod-openapi";
import { NotFoundError, validationError } from "../errors.ts";
import { NAME_RULE } from "../names.ts";
import type { AppEnv } from "./env.ts";

export const validationHook: NonNullable<OpenAPIHonoOptions<AppEnv>["defaultHook"]> = (
  result,
) => {
  if (result.success) return;
  // zod-validator passes what it parsed as `data` on failure too (its type omits it).
  const input = (result as { data?: unknown }).data;
  // Other path parameters (a secret's key) are input like any other: 400.
  if (result.target === "param" && result.error.issues.some((i) => i.path[0] === "name")) {
    const name = (input as { name?: unknown } | undefined)?.name;
    throw new NotFoundError(`nothing is named ${JSON.stringify(name)}: names ${NAME_RULE}`);
  }
  throw validationError(result.error, input);
};
