/**
 * Reading a request body under a size limit without ever buffering more than
 * the limit: a Content-Length over the limit is refused before any byte is
 * read, and a body without one (chunked) is cut off as soon as it passes it.
 */
import { HttpError, PayloadTooLargeError, ValidationError } from "../errors.ts";

const CLOSED = "the connection closed before the whole body arrived";

export async function readLimited(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const header = req.headers.get("content-length");
  let declared: number | undefined;
  if (header !== null) {
    declared = Number(header);
    if (!/^\d+$/.test(header.trim()) || !Number.isSafeInteger(declared)) {
      throw new ValidationError("content-length", "is not a valid length");
    }
    if (declared > limit) throw new PayloadTooLargeError(limit);
  }
  if (!req.body) return new Uint8Array(0);
  if (declared !== undefined) {
    // The HTTP layer reads exactly Content-Length bytes, already checked against
    // the limit: Deno's own whole-body read is the fast path (no stream reader).
    try {
      return new Uint8Array(await req.arrayBuffer());
    } catch {
      // The client went away mid-body: its fault, not the node's (no 5xx, no error log).
      throw new ValidationError("body", CLOSED);
    }
  }
  const reader = req.body.getReader();
  let buf = new Uint8Array(Math.min(limit, 64 << 10));
  let len = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (len + value.byteLength > limit) throw new PayloadTooLargeError(limit);
      if (len + value.byteLength > buf.byteLength) {
        const grown = new Uint8Array(
          Math.min(limit, Math.max(buf.byteLength * 2, len + value.byteLength)),
        );
        grown.set(buf.subarray(0, len));
        buf = grown;
      }
      buf.set(value, len);
      len += value.byteLength;
    }
  } catch (e) {
    // Stop the client's upload: nothing more of it will be used.
    await reader.cancel().catch(() => {});
    // A read error means the client went away: not the node's fault.
    throw e instanceof HttpError ? e : new ValidationError("body", CLOSED);
  } finally {
    reader.releaseLock();
  }
  return len === buf.byteLength ? buf : buf.subarray(0, len);
}
