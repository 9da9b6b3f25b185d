import assert from "node:assert/strict";
import { sendToEntry } from "./chain_entry.ts";
import {
  HopForbiddenError,
  InternalError,
  PayloadTooLargeError,
  PeerUnreachableError,
} from "../errors.ts";

Deno.test("chain entry: the request goes to the first step's node, its answer comes back", async () => {
  let seen: { url: string; headers: Headers } | undefined, body = "";
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    seen = { url: req.url, headers: new Headers(req.headers) };
    body = await req.text();
    return new Response(body.toUpperCase(), { status: 201, headers: { "x-from": "a" } });
  });
  try {
    const entry = { node: "a", addr: `127.0.0.1:${server.addr.port}` };
    const req = new Request("http://b:8080/invoke/c/sub/path?q=1", {
      method: "POST",
      body: "hello",
      headers: { "x-custom": "kept", connection: "keep-alive" },
    });
    const res = await sendToEntry(req, "c", entry, "req-7", 100);
    assert.equal(res.status, 201);
    assert.equal(await res.text(), "HELLO");
    assert.equal(res.headers.get("x-sure-node"), "a");
    assert.equal(res.headers.get("x-from"), "a");
    assert.equal(new URL(seen!.url).pathname + new URL(seen!.url).search, "/invoke/c/sub/path?q=1");
    assert.equal(seen!.headers.get("x-custom"), "kept");
    assert.equal(seen!.headers.get("x-request-id"), "req-7");
    assert.equal(body, "hello");

    // Over the chain's maxBody: 413 here, nothing sent.
    const big = new Request("http://b/invoke/c", { method: "POST", body: "x".repeat(101) });
    await assert.rejects(sendToEntry(big, "c", entry, "r", 100), PayloadTooLargeError);

    // Sent on once already: the two nodes disagree on the manifest, never a loop.
    const again = new Request("http://b/invoke/c", { headers: { "x-sure-chain-entry": "1" } });
    await assert.rejects(sendToEntry(again, "c", entry, "r", 100), InternalError);
    // A hop never comes through the app.
    const hop = new Request("http://b/invoke/c", { headers: { "x-sure-hop": "0 1 0 1" } });
    await assert.rejects(sendToEntry(hop, "c", entry, "r", 100), HopForbiddenError);
  } finally {
    await server.shutdown();
  }
  // Nobody listens there any more: a 502 naming the node.
  const gone = { node: "a", addr: `127.0.0.1:${(server.addr as Deno.NetAddr).port}` };
  const err = await sendToEntry(new Request("http://b/invoke/c"), "c", gone, "r", 100).catch((e) =>
    e
  );
  assert.ok(err instanceof PeerUnreachableError);
  assert.equal(err.status, 502);
  assert.deepEqual(err.details(), { chain: "c", node: "a" });
});
