/**
 * The head blocks of sure_http_abi.h from TypeScript: the writer of a
 * request head (the same bytes as libsure's C writer, sure_http_head_init
 * and sure_http_head_add, which libsure's own HTTP ingress uses; a test
 * holds the two equal) and the reader of a response head that libsure has
 * copied out of guest memory and checked (sure_http_resp_head_take).
 *
 * Strings are HTTP byte strings: one char code (0..255) per byte, as
 * Deno's Headers and URL hand them out, so the guest sees the wire bytes.
 */
import { LIMITS, METHOD, STRUCTS } from "./abi.ts";
import { ERR_CAP, libsure } from "./libsure.ts";

const H = STRUCTS.sure_head;
const F = STRUCTS.sure_head_field;

/** What a function sees of its HTTP request besides the body. */
export interface RequestHead {
  method: string;
  /** Below /invoke/<name>: "/users/7"; "" is taken as "/". */
  path: string;
  /** The raw query without "?". */
  query: string;
  /** Names in lower case (Deno's Headers gives them so). */
  headers: Iterable<[string, string]>;
}

/** Response headers as the function set them, in order. */
export type HeaderList = [string, string][];

/** The head did not fit its block, or had too many headers: answer 431. */
export class HeadTooLargeError extends Error {}

const METHODS: Record<string, number> = METHOD;

/**
 * Bytes a request head takes in its block (the table and every string with
 * its NUL), and its number of headers: over LIMITS.reqHeadCap bytes or
 * LIMITS.headMaxFields headers, the node answers 431.
 */
export function requestHeadSize(
  head: { method: string; path: string; query: string; headers: [string, string][] },
): number {
  let n = H.size + head.method.length + Math.max(head.path.length, 1) + head.query.length + 3;
  for (const [k, v] of head.headers) n += F.size + k.length + v.length + 2;
  return n;
}

/** Writes a request head into blk (its first `cap` bytes); returns the bytes used. */
export function writeRequestHead(blk: Uint8Array, cap: number, head: RequestHead): number {
  if (cap > blk.byteLength || cap < H.size) throw new RangeError(`head block of ${cap} bytes`);
  const v = new DataView(blk.buffer, blk.byteOffset, cap);
  let lo = cap;
  let n = 0;
  // Strings go down from the end (as the C writer puts them), each with a NUL.
  const put = (s: string, at: number, fields: number): void => {
    const len = s.length;
    if (len + 1 > lo - (H.size + fields * F.size)) {
      throw new HeadTooLargeError(`request headers are larger than ${cap} bytes`);
    }
    lo -= len + 1;
    for (let i = 0; i < len; i++) blk[lo + i] = s.charCodeAt(i);
    blk[lo + len] = 0;
    v.setUint32(at, lo, true);
    v.setUint32(at + 4, len, true);
  };
  blk.fill(0, 0, H.size);
  v.setUint32(H.cap, cap, true);
  v.setUint32(H.method, METHODS[head.method] ?? METHOD.OTHER, true);
  put(head.method, H.method_name, 0);
  put(head.path || "/", H.path, 0);
  put(head.query, H.query, 0);
  for (const [name, value] of head.headers) {
    if (n >= LIMITS.headMaxFields) {
      throw new HeadTooLargeError(`more than ${LIMITS.headMaxFields} request headers`);
    }
    const at = H.field + n * F.size;
    put(name.toLowerCase(), at + F.name, n + 1);
    put(value, at + F.value, n + 1);
    n++;
  }
  v.setUint32(H.nfields, n, true);
  v.setUint32(H.str_lo, lo, true);
  v.setUint32(H.magic, LIMITS.headMagic, true);
  return cap;
}

/** The number of headers a response block says it has: a hint, never trusted. */
export function responseHeadCount(blk: Uint8Array): number {
  return blk[H.nfields] | blk[H.nfields + 1] << 8 | blk[H.nfields + 2] << 16 |
    blk[H.nfields + 3] << 24;
}

/** What reading a response head gave: its headers, or why they are refused. */
export type ResponseHeadResult = { headers: HeaderList; error?: undefined } | {
  headers: HeaderList;
  error: string;
};

const NONE: HeaderList = [];

/**
 * Copies a response head block out of guest memory (src, SURE_RESP_HEAD_CAP
 * bytes), checks the copy in libsure and reads it. A block that is bad
 * (malformed, a header only the node may set, a control character) gives
 * `error` naming the header; the function's answer then becomes a 502.
 */
export function takeResponseHead(src: Uint8Array): ResponseHeadResult {
  if (responseHeadCount(src) === 0) return { headers: NONE };
  const copy = new Uint8Array(LIMITS.respHeadCap);
  const err = new Uint8Array(ERR_CAP);
  const rc = libsure().sure_http_resp_head_take(src, copy, err, BigInt(ERR_CAP));
  if (rc < 0) {
    const msg = new TextDecoder().decode(err.subarray(0, err.indexOf(0)));
    return { headers: NONE, error: msg || `response headers refused (errno ${-rc})` };
  }
  return { headers: readHeaders(copy, rc) };
}

/** The n headers of a checked block (latin1: the bytes go back to the wire as they are). */
function readHeaders(blk: Uint8Array, n: number): HeaderList {
  const v = new DataView(blk.buffer, blk.byteOffset, blk.byteLength);
  const out: HeaderList = [];
  const str = (at: number): string => {
    const off = v.getUint32(at, true), len = v.getUint32(at + 4, true);
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode(blk[off + i]);
    return s;
  };
  for (let i = 0; i < n; i++) {
    const at = H.field + i * F.size;
    out.push([str(at + F.name), str(at + F.value)]);
  }
  return out;
}
