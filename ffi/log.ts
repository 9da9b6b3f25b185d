/**
 * Reading a guest's log ring: whole lines, drained in a bounded number of
 * calls so that a guest that keeps writing cannot hold the caller.
 */

/** The guest ring is 16 KiB (SURE_LOG_SIZE), so one call usually drains it. */
const LOG_CHUNK = 0x4000;
const logBuf = new Uint8Array(LOG_CHUNK);
const decoder = new TextDecoder();

/** `read` is a libsure log reader bound to one handle: (buf, cap) -> bytes or -errno. */
export function readLogLines(read: (buf: Uint8Array, cap: bigint) => number): string[] {
  const lines: string[] = [];
  for (let round = 0; round < 4; round++) {
    const n = read(logBuf, BigInt(LOG_CHUNK));
    if (n <= 0) break;
    const text = decoder.decode(logBuf.subarray(0, Math.min(n, LOG_CHUNK)));
    for (const line of text.split("\n")) if (line.length > 0) lines.push(line);
    if (n < LOG_CHUNK) break;
  }
  return lines;
}
