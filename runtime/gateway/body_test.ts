import assert from "node:assert/strict";
import { readLimited } from "./body.ts";
import { PayloadTooLargeError, ValidationError } from "../errors.ts";

function streamOf(chunks: Uint8Array[], onPull?: () => void): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(ctrl) {
      onPull?.();
      if (i < chunks.length) ctrl.enqueue(chunks[i++]);
      else ctrl.close();
    },
  }, { highWaterMark: 0 }); // pull only when the reader asks
}

Deno.test("readLimited returns the whole body under the limit", async () => {
  const req = new Request("http://x/", { method: "POST", body: "hello" });
  assert.deepEqual(new TextDecoder().decode(await readLimited(req, 5)), "hello");
});

Deno.test("readLimited refuses a Content-Length over the limit without reading", async () => {
  let pulls = 0;
  const req = new Request("http://x/", {
    method: "POST",
    body: streamOf([new Uint8Array(10)], () => pulls++),
    headers: { "content-length": "10" },
  });
  await assert.rejects(readLimited(req, 9), PayloadTooLargeError);
  assert.equal(pulls, 0);
});

Deno.test("readLimited stops a streamed body as soon as it passes the limit", async () => {
  let pulls = 0;
  const chunks = Array.from({ length: 100 }, () => new Uint8Array(1000));
  const req = new Request("http://x/", { method: "POST", body: streamOf(chunks, () => pulls++) });
  await assert.rejects(readLimited(req, 2500), PayloadTooLargeError);
  assert.ok(pulls <= 5, `read ${pulls} chunks`);
});

Deno.test("readLimited joins many chunks of an unannounced body", async () => {
  const chunks = Array.from({ length: 70 }, (_, i) => new Uint8Array(1000).fill(i));
  const req = new Request("http://x/", { method: "POST", body: streamOf(chunks) });
  const got = await readLimited(req, 70_000);
  assert.equal(got.byteLength, 70_000);
  assert.equal(got[69_999], 69);
  assert.equal(got[0], 0);
});

Deno.test("readLimited rejects a malformed Content-Length and accepts an empty body", async () => {
  const bad = new Request("http://x/", {
    method: "POST",
    body: "x",
    headers: { "content-length": "abc" },
  });
  await assert.rejects(readLimited(bad, 10), ValidationError);
  const empty = new Request("http://x/", { method: "POST" });
  assert.equal((await readLimited(empty, 10)).byteLength, 0);
});
