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
import { forwardMac, forwardMacMatches, type SignedInvoke } from "../../ffi/mod.ts";
import { FORWARDED_BY } from "../gateway/send_on.ts";

export const FORWARD_MAC = "x-sure-forward-mac";

/** What a function sees of a URL's path and query (as the data plane's head block has them). */
function target(url: string): { path: string; query: string } {
  const u = new URL(url);
  // "/invoke/<name>" and what is below it.
  const below = u.pathname.indexOf("/", "/invoke/".length);
  return { path: below < 0 ? "/" : u.pathname.slice(below), query: u.search.slice(1) };
}

/** The signature of req, which node `self` sends on with a body of bodyLength bytes. */
export function signForward(
  key: Uint8Array,
  self: string,
  name: string,
  req: Request,
  bodyLength: number,
): string {
  return forwardMac(key, { from: self, name, method: req.method, ...target(req.url), bodyLength });
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
    ...target(req.url),
    bodyLength: length === null ? 0 : Number(length),
  };
  return forwardMacMatches(key, r, got);
}
