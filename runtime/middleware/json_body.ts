/**
 * JSON bodies of the admin API are refused whole (400) when they are not
 * UTF-8: decoded leniently, every bad byte would become U+FFFD and be stored
 * so (an env value, a trigger's type) without a word.
 *
 * And when they have a "__proto__" key anywhere.
 * JSON.parse makes it an ordinary key, but zod parses records and objects
 * into fresh objects where that key is skipped: the entry would vanish
 * without a word (a chain's route, an env variable to set). No name the API
 * takes can be "__proto__", so the request is refused whole, naming the key.
 * A body that is not JSON is left to the route's own check.
 */
import type { MiddlewareHandler } from "hono";
import { ValidationError } from "../errors.ts";
import type { AppEnv } from "./env.ts";

const FORBIDDEN = "__proto__";

/** "__proto__" if text is JSON with that key anywhere, else null (also for text that is not JSON). */
export function forbiddenKeyPath(text: string): string | null {
  if (!text.includes(FORBIDDEN)) return null; // the common case: no second parse
  let found: string | null = null;
  try {
    JSON.parse(text, (key: string, value: unknown) => {
      if (key === FORBIDDEN) found = FORBIDDEN;
      return value;
    });
  } catch {
    return null;
  }
  return found;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export const checkJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  const type = c.req.header("content-type") ?? "";
  if ((method === "POST" || method === "PUT" || method === "PATCH") && type.includes("json")) {
    // Read once: the route reads the same bytes again from Hono's cache.
    let text: string;
    try {
      text = utf8.decode(await c.req.arrayBuffer());
    } catch {
      throw new ValidationError(undefined, "the body is not valid UTF-8");
    }
    const key = forbiddenKeyPath(text);
    if (key !== null) throw new ValidationError(key, "is not a name anything here can have");
  }
  await next();
};
