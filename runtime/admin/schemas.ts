/**
 * Pieces every admin route's OpenAPI description uses: the error body, the
 * {name} path parameter and the response helpers. zod is imported from
 * @hono/zod-openapi, which adds .openapi() (component names) to it.
 */
import { z } from "@hono/zod-openapi";
import { FunctionName } from "../names.ts";

/** Every error answer (runtime/errors.ts): code, message and the error's own details. */
export const ErrorSchema = z.object({
  error: z.string().describe("Machine-readable error code"),
  message: z.string().describe("What went wrong, for people"),
  field: z.string().optional().describe("The request field at fault (validation errors)"),
}).loose().openapi("Error");

/** /{name}: a function or chain. An invalid name is a 404 (nothing can have it). */
export const NameParams = z.object({ name: FunctionName });

/** A JSON answer. */
export function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** An error answer; `default` (any status not listed) is one too. */
export function error(description: string) {
  return json(ErrorSchema, description);
}

export const ANY_OTHER_ERROR = error("Any other error (same shape)");
