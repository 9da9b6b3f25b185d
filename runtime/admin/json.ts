/** Reading a JSON request body against a zod schema, for the admin routes. */
import type { z } from "zod";
import { ValidationError } from "../errors.ts";

/** The parsed body, or ValidationError naming the first field at fault. */
export async function readJson<S extends z.ZodType>(
  req: Request,
  schema: S,
  what: string,
): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await req.json();
  } catch {
    throw new ValidationError(undefined, `body must be JSON: ${what}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === "unrecognized_keys") {
      throw new ValidationError([...issue.path, issue.keys[0]].join("."), "unknown field");
    }
    const field = issue.path.length ? issue.path.join(".") : undefined;
    throw new ValidationError(field, issue.message);
  }
  return parsed.data;
}
