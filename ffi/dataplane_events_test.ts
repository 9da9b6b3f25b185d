/** The decode of the data plane's events (no data plane: the bytes are written here, by the ABI's offsets). */
import assert from "node:assert/strict";
import { DP_EVENT, STRUCTS } from "./abi.ts";
import { decodeEvents } from "./dataplane_events.ts";
import { CStructs } from "./struct.ts";

const L = STRUCTS.sure_dp_event;
const enc = new TextEncoder();

Deno.test("data plane events: each kind decodes its fields; 64-bit values above 2^32 stay exact", () => {
  const e = new CStructs(L, 3);
  const v = new DataView(e.bytes.buffer);
  const at = (i: number, f: keyof typeof L) => i * L.size + L[f];
  // 0: an answer with an error code; 1: an answer without; 2: a death with a token.
  for (const i of [0, 1]) {
    v.setUint32(at(i, "kind"), DP_EVENT.done, true);
    v.setUint32(at(i, "route"), 7, true);
    v.setUint32(at(i, "tag"), 9, true);
    v.setUint32(at(i, "status"), i === 0 ? 503 : 200, true);
    v.setBigUint64(at(i, "total_ns"), 5_000_000_123n, true);
    v.setBigUint64(at(i, "bytes_in"), 0x1_2345_6789n, true);
    e.bytes.set(enc.encode(`req-${i}\0`), at(i, "request_id"));
    for (let k = 0; k < 16; k++) e.bytes[at(i, "trace_id") + k] = k * 17;
  }
  e.bytes.set(enc.encode("overloaded\0"), at(0, "code"));
  // 0 stands for 4 folded answers in 3 buckets; 1 for itself.
  v.setUint32(at(0, "count"), 4, true);
  v.setUint32(at(0, "nbuckets"), 3, true);
  for (const [k, n] of [1, 0, 3].entries()) v.setUint32(at(0, "buckets") + 4 * k, n, true);
  v.setUint32(at(1, "count"), 1, true);
  v.setUint32(at(2, "kind"), DP_EVENT.dead, true);
  v.setInt32(at(2, "rc"), -14, true);
  v.setBigUint64(at(2, "token"), 0xffff_ffff_ffff_fff0n, true);
  const [a, b, d] = decodeEvents(e, 3);
  assert.equal(a.kind, "done");
  assert.equal(b.kind, "done");
  assert.equal(d.kind, "dead");
  if (a.kind !== "done" || b.kind !== "done" || d.kind !== "dead") return;
  assert.deepEqual([a.route, a.tag, a.status, a.code], [7, 9, 503, "overloaded"]);
  assert.deepEqual([b.status, b.code, b.requestId], [200, "", "req-1"]);
  assert.deepEqual([a.count, a.buckets, b.count, b.buckets], [4, [1, 0, 3], 1, undefined]);
  assert.equal(a.seconds, 5.000000123);
  assert.equal(a.bytesIn, 0x1_2345_6789);
  assert.equal(a.traceId, "00112233445566778899aabbccddeeff");
  assert.deepEqual([d.rc, d.token, d.requestId], [-14, 0xffff_ffff_ffff_fff0n, ""]);
  // Without ids (libsure writes the request log): answers come without them,
  // everything else the same; a death keeps its (the control plane answers it).
  e.bytes.set(enc.encode("req-d\0"), at(2, "request_id"));
  const [a2, b2, d2] = decodeEvents(e, 3, false);
  assert.deepEqual(a2, { ...a, requestId: "", traceId: "" });
  assert.deepEqual(b2, { ...b, requestId: "", traceId: "" });
  if (d2.kind !== "dead") return;
  assert.equal(d2.requestId, "req-d");
  assert.equal(d2.traceId, "00".repeat(16));
});
