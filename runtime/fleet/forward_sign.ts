/**
 * Private functions across a fleet. The node a caller invokes checks the
 * caller's token (its own), does not send it on, and signs what it forwards
 * with the key the nodes share (the hop key): x-sure-forward-mac, the MAC of
 * who forwards it, the function, the method, path, query and body length
 * (ffi/forward_mac.ts). The node that runs the function takes that instead of
 * its own token. The data plane does both in C (libsure's dp_auth.c); these
 * are the Hono app's: its direct forwarder, and its lock on private functions
 * for a signed request that reached it.
 */
import { forwardMac, type SignedInvoke } from "../../ffi/mod.ts";
import { sameSecret } from "../auth/token.ts";
import { FORWARDED_BY } from "../gateway/send_on.ts";
import { rawTarget } from "../gateway/target.ts";

export const FORWARD_MAC = "x-sure-forward-mac";

/** The signature of req, which node `self` sends on with a body of bodyLength bytes. */
export function signForward(
  key: Uint8Array,
  self: string,
  name: string,
  req: Request,
  bodyLength: number,
): string {
  // What goes on the wire (sendOn sends the URL's path and query as URL writes them).
  const u = new URL(req.url);
  const sent = rawTarget(`${u.origin}${u.pathname}${u.search}`);
  return forwardMac(key, { from: self, name, method: req.method, ...sent, bodyLength });
}

/** req (for function `name`) was forwarded and signed by a node with the key. */
export function forwardSigned(key: Uint8Array, name: string, req: Request): boolean {
  const from = req.headers.get(FORWARDED_BY);
  const got = req.headers.get(FORWARD_MAC);
  const length = req.headers.get("content-length");
  // A body whose length the head does not tell is never signed.
  if (!from || !got || req.headers.has("transfer-encoding")) return false;
  if (length !== null && !/^\d{1,15}$/.test(length)) return false;
  const r: SignedInvoke = {
    from,
    name,
    method: req.method,
    ...rawTarget(req.url),
    bodyLength: length === null ? 0 : Number(length),
  };
  return sameSecret(got, forwardMac(key, r));
}
