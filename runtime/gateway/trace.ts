/**
 * W3C Trace Context at the gateway: the incoming `traceparent` (or a new
 * trace when there is none or it is malformed), and the gateway's own span,
 * which the first function sees as its parent. The 25 bytes handed to
 * libsure are trace-id (16), parent-id (8) and trace-flags (1).
 */

export interface TraceContext {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** The gateway's span for this request (16 hex digits). */
  spanId: string;
  flags: number;
  /** trace-id, gateway span as parent-id, flags: what the functions receive. */
  bytes: Uint8Array;
  /** The `traceparent` the node answers with (its own span). */
  header: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(b: Uint8Array, at: number, n: number): string {
  let s = "";
  for (let i = at; i < at + n; i++) s += HEX[b[i]];
  return s;
}

function fromHex(s: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < s.length / 2; i++) out[at + i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
}

/*
 * Span and trace ids must be unique and unpredictable enough to not collide,
 * not secret: a xoshiro128** generator seeded once from the system's CSPRNG
 * makes them without a system call per request (this is the gateway's hot path).
 */
const rng = crypto.getRandomValues(new Uint32Array(4));
if (rng.every((x) => x === 0)) rng[0] = 1;

function next32(): number {
  const s = rng;
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fills b[at, at+n) (n a multiple of 4) with random bytes, not all zero. */
function fillRandom(b: Uint8Array, at: number, n: number): void {
  let any = 0;
  do {
    for (let i = at; i < at + n; i += 4) {
      const r = next32();
      b[i] = r & 0xff;
      b[i + 1] = (r >>> 8) & 0xff;
      b[i + 2] = (r >>> 16) & 0xff;
      b[i + 3] = r >>> 24;
      any |= r;
    }
  } while (any === 0);
}

/**
 * Parses a traceparent header by the W3C rules: version ff is invalid,
 * version 00 has exactly four fields, ids are not all zero. null if invalid.
 */
export function parseTraceparent(
  value: string | null,
): { traceId: string; parentId: string; flags: number } | null {
  if (!value) return null;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m) return null;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return null;
  return { traceId, parentId, flags: parseInt(flags, 16) };
}

/** The context of one request: continues the caller's trace, or starts one. */
export function traceFor(incoming: string | null): TraceContext {
  const parsed = parseTraceparent(incoming);
  const bytes = new Uint8Array(25);
  let traceId: string;
  if (parsed) {
    traceId = parsed.traceId;
    fromHex(traceId, bytes, 0);
  } else {
    fillRandom(bytes, 0, 16);
    traceId = hex(bytes, 0, 16);
  }
  // Sampled unless the caller said otherwise.
  const flags = parsed ? parsed.flags & 0xff : 1;
  fillRandom(bytes, 16, 8);
  bytes[24] = flags;
  const spanId = hex(bytes, 16, 8);
  const f = flags.toString(16).padStart(2, "0");
  return { traceId, spanId, flags, bytes, header: `00-${traceId}-${spanId}-${f}` };
}
