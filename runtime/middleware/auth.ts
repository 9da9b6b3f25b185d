/**
 * The locks on the node's HTTP surface: the admin API (and /metrics and the
 * event sink) needs the node's token, and over plain HTTP only where the
 * node listens on loopback (or was started --insecure); a private function
 * needs the token too (or, forwarded by another node of the fleet, that
 * node's signature). How a request arrived is the app's binding
 * `transport`, set by whoever calls app.fetch (runtime/node.ts): "tls" for
 * the TLS admin listener, "plain" for the public port, "internal" for the
 * node's own requests (event deliveries, unpacked CloudEvents), which were
 * checked when they came in.
 */
import type { MiddlewareHandler } from "hono";
import { bearerMatches } from "../auth/token.ts";
import { TlsRequiredError, UnauthorizedError } from "../errors.ts";
import type { AppEnv } from "./env.ts";

export interface AdminAuth {
  /** The node's admin token; null: no lock at all (in-process app tests only). */
  token: string | null;
  /** Admin calls may come over plain HTTP: the node listens on loopback, or --insecure. */
  plainAdmin: boolean;
  /** The TLS listener of the admin API, if there is one (named in 403 answers). */
  adminUrl?: string;
  /**
   * Whether an invoke of a private function was forwarded by another node of
   * the fleet, which checked its caller's token, and signed with the key the
   * nodes share (runtime/fleet/forward_sign.ts); absent: none is.
   */
  forwardSigned?: (req: Request, name: string) => boolean;
}

const HOW = "send the node's admin token as `Authorization: Bearer <token>` (the CLI reads " +
  "it from <data dir>/admin.token, SURE_TOKEN or --token)";

function checkToken(auth: AdminAuth, header: string | undefined, what: string): void {
  if (auth.token === null) return;
  if (!header) throw new UnauthorizedError(`${what} needs the node's admin token: ${HOW}`);
  if (!bearerMatches(header, auth.token)) {
    throw new UnauthorizedError(`${what}: the token sent is not this node's admin token`);
  }
}

export function adminGuard(auth: AdminAuth): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const transport = c.env?.transport ?? "plain";
    if (transport !== "internal" && auth.token !== null) {
      if (transport === "plain" && !auth.plainAdmin) throw new TlsRequiredError(auth.adminUrl);
      checkToken(auth, c.req.header("authorization"), "the admin API");
    }
    await next();
  };
}

/** /invoke/:name of a private function (or chain) needs the token as well. */
export function privateGuard(
  auth: AdminAuth,
  isPrivate: (name: string) => boolean,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const name = c.req.param("name");
    if (name && (c.env?.transport ?? "plain") !== "internal" && isPrivate(name)) {
      const header = c.req.header("authorization");
      // Another node checked its caller's token and signed what it forwarded.
      if (header !== undefined || !auth.forwardSigned?.(c.req.raw, name)) {
        checkToken(auth, header, `function ${name} is private: invoking it`);
      }
    }
    await next();
  };
}
