/**
 * The key the nodes of a chain share for its hops: libsure signs every hop it
 * sends and every answer to one with it (x-sure-hop-mac, HMAC-SHA256), and
 * refuses a hop or an answer without the right MAC, whatever address it comes
 * from. It is 64 hex digits given to
 * every node (`--peer-key-file`, SURE_PEER_KEY), or, in a fleet with a fleet
 * key, derived from that key, so that the fleet's nodes need nothing more and
 * the key that seals secrets is never the one on the hops' wire.
 */

export const HOP_KEY_BYTES = 32;

/** The 32 bytes of a key written as 64 hex digits (surrounding space ignored). */
export function keyFromHex(hex: string, what: string): Uint8Array<ArrayBuffer> {
  const h = hex.trim();
  if (!/^[0-9a-f]{64}$/i.test(h)) {
    throw new Error(`the ${what} must be 64 hex digits (e.g. \`openssl rand -hex 32\`)`);
  }
  const raw = new Uint8Array(HOP_KEY_BYTES);
  for (let i = 0; i < HOP_KEY_BYTES; i++) raw[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return raw;
}

/** The hop key of a fleet: HMAC-SHA256(fleet key, "sure-hop-key-1"). */
export async function hopKeyOfFleet(fleetKeyHex: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    keyFromHex(fleetKeyHex, "fleet key"),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", k, new TextEncoder().encode("sure-hop-key-1")),
  );
}
