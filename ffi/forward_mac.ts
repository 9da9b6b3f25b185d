/**
 * x-sure-forward-mac (libsure.h's sure_forward_mac): how a node signs an
 * invoke of a private function that it forwards to another node of its fleet
 * (it checked its caller's token, its own, which it does not send on), and
 * how that node checks it. The data plane does both in C; the Hono app's
 * forwarders and its private-function lock use this, the same code.
 */
import { FORWARD_MAC_HEX } from "./abi.ts";
import { errorFromErrno } from "./errors.ts";
import { libsure } from "./libsure.ts";

/** What the MAC covers: who forwarded what, as a function sees the request. */
export interface SignedInvoke {
  /** The forwarding node (its x-sure-forwarded-by). */
  from: string;
  name: string;
  method: string;
  /** Below /invoke/<name>, raw ("/" at least), and the raw query without "?". */
  path: string;
  query: string;
  bodyLength: number;
}

const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0") as Uint8Array<ArrayBuffer>;

/** The MAC, 64 hex digits, under key (the nodes' hop key). */
export function forwardMac(key: Uint8Array, r: SignedInvoke): string {
  const k = new Uint8Array(key);
  const out = new Uint8Array(FORWARD_MAC_HEX + 1);
  const rc = libsure().sure_forward_mac(
    k,
    k.byteLength,
    cstr(r.from),
    cstr(r.name),
    cstr(r.method),
    cstr(r.path),
    cstr(r.query),
    BigInt(r.bodyLength),
    out,
  );
  if (rc < 0) throw errorFromErrno("sure_forward_mac", rc);
  return new TextDecoder().decode(out.subarray(0, FORWARD_MAC_HEX));
}
