import assert from "node:assert/strict";
import { parseTraceparent, traceFor } from "./trace.ts";

Deno.test("traceparent: valid headers are continued, invalid ones start a new trace", () => {
  const t = "0af7651916cd43dd8448eb211c80319c";
  assert.deepEqual(parseTraceparent(`00-${t}-b7ad6b7169203331-01`), {
    traceId: t,
    parentId: "b7ad6b7169203331",
    flags: 1,
  });
  // Future versions may carry more fields; version 00 may not; ff is invalid.
  assert.ok(parseTraceparent(`01-${t}-b7ad6b7169203331-01-extra`));
  for (
    const bad of [
      null,
      "",
      `00-${t}-b7ad6b7169203331-01-extra`,
      `ff-${t}-b7ad6b7169203331-01`,
      `00-${"0".repeat(32)}-b7ad6b7169203331-01`,
      `00-${t}-${"0".repeat(16)}-01`,
      `00-${t.slice(1)}-b7ad6b7169203331-01`,
      "garbage",
    ]
  ) assert.equal(parseTraceparent(bad), null, String(bad));

  const c = traceFor(`00-${t}-b7ad6b7169203331-00`);
  assert.equal(c.traceId, t);
  assert.equal(c.flags, 0);
  assert.match(c.header, new RegExp(`^00-${t}-[0-9a-f]{16}-00$`));
  assert.equal(c.header.split("-")[2], c.spanId);
  assert.notEqual(c.spanId, "b7ad6b7169203331", "the node's own span, not the caller's");
  // The bytes handed to the guests: trace-id, the node's span as parent, flags.
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(hex(c.bytes.subarray(0, 16)), t);
  assert.equal(hex(c.bytes.subarray(16, 24)), c.spanId);
  assert.equal(c.bytes[24], 0);

  const fresh = traceFor("garbage");
  assert.match(fresh.traceId, /^[0-9a-f]{32}$/);
  assert.equal(fresh.flags, 1);
  assert.equal(hex(fresh.bytes.subarray(0, 16)), fresh.traceId);
  const ids = new Set(Array.from({ length: 1000 }, () => traceFor(null).spanId));
  assert.equal(ids.size, 1000, "span ids do not repeat");
});
