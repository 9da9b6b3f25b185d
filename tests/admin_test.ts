/**
 * The node over a real socket: deploy / list / invoke / delete through the
 * admin API and the gateway, body limits, content types, and restart.
 */
import assert from "node:assert/strict";
import { deployForm, echoImage, hasKvm, hasLibsure, startTestNode } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test({
  name: "node: deploy, invoke, list, delete over HTTP",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      const image = await echoImage();
      let res = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "echo", image, maxBody: 64 }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();

      res = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "hello, sure" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(await res.text(), "hello, sure");

      // Binary bytes go through untouched, every value.
      const bin = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 255);
      res = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: bin });
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bin);

      // A function that sets no Content-Type answers bytes, whatever the client
      // accepts; GET is an empty body.
      res = await fetch(`${node.url}/invoke/echo`, {
        method: "POST",
        body: "t",
        headers: { accept: "text/plain" },
      });
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      assert.equal(await res.text(), "t");
      res = await fetch(`${node.url}/invoke/echo`);
      assert.equal(res.status, 200);
      assert.equal((await res.arrayBuffer()).byteLength, 0);

      res = await fetch(`${node.url}/admin/functions`);
      assert.deepEqual((await res.json()).functions.map((f: { name: string }) => f.name), ["echo"]);

      res = await fetch(`${node.url}/healthz`);
      const h = await res.json();
      assert.equal(h.status, "ok");
      assert.equal(h.functions, 1);
      assert.ok(h.instances >= 1);

      res = await fetch(`${node.url}/admin/functions/echo`, { method: "DELETE" });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      res = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "x" });
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error, "not_found");
      res = await fetch(`${node.url}/healthz`);
      assert.equal((await res.json()).instances, 0);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "node: 404 for unknown functions and routes",
  ignore: !hasLibsure,
  async fn() {
    const node = await startTestNode();
    try {
      for (
        const [method, path] of [
          ["POST", "/invoke/nope"],
          ["GET", "/admin/functions/nope"],
          ["DELETE", "/admin/functions/nope"],
          ["GET", "/nope"],
        ]
      ) {
        const res = await fetch(node.url + path, { method });
        assert.equal(res.status, 404, `${method} ${path}`);
        const body = await res.json();
        assert.equal(body.error, "not_found");
        assert.equal(typeof body.message, "string");
      }
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "node: 413 for bodies over the function's maxBody, declared or streamed",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      const res0 = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "small", image: await echoImage(), maxBody: 16 }),
      });
      assert.equal(res0.status, 201);
      await res0.body?.cancel();

      let res = await fetch(`${node.url}/invoke/small`, { method: "POST", body: "x".repeat(16) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "x".repeat(16));

      res = await fetch(`${node.url}/invoke/small`, { method: "POST", body: "x".repeat(17) });
      assert.equal(res.status, 413);
      const body = await res.json();
      assert.equal(body.error, "payload_too_large");
      assert.equal(body.limit, 16);

      // No Content-Length: the gateway counts while it reads.
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 8; i++) c.enqueue(enc.encode("yyyy"));
          c.close();
        },
      });
      res = await fetch(`${node.url}/invoke/small`, { method: "POST", body: stream });
      assert.equal(res.status, 413);
      await res.body?.cancel();

      // The function still serves after refusals.
      res = await fetch(`${node.url}/invoke/small`, { method: "POST", body: "ok" });
      assert.equal(dec.decode(await res.arrayBuffer()), "ok");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "node: a restart brings every deployed function back",
  ignore: !hasKvm,
  async fn() {
    let node = await startTestNode();
    const dataDir = node.dataDir;
    try {
      const image = await echoImage();
      for (const name of ["one", "two"]) {
        const res = await fetch(`${node.url}/admin/functions`, {
          method: "POST",
          body: deployForm({ name, image, memory: 24, timeout: 1234 }),
        });
        assert.equal(res.status, 201);
        await res.body?.cancel();
      }
      await node.close();

      node = await startTestNode({ dataDir });
      const res = await fetch(`${node.url}/admin/functions`);
      const list = (await res.json()).functions;
      assert.deepEqual(list.map((f: { name: string }) => f.name), ["one", "two"]);
      assert.equal(list[0].memory, 24);
      assert.equal(list[0].timeout, 1234);
      for (const name of ["one", "two"]) {
        const r = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body: name });
        assert.equal(r.status, 200);
        assert.equal(await r.text(), name);
      }
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "node: GET /admin/openapi.json serves the document",
  ignore: !hasLibsure,
  async fn() {
    const node = await startTestNode();
    try {
      const res = await fetch(`${node.url}/admin/openapi.json`);
      assert.equal(res.status, 200);
      const doc = await res.json();
      assert.equal(doc.openapi, "3.1.0");
      assert.ok(doc.paths["/admin/functions"].post);
      assert.ok(doc.paths["/admin/functions/{name}"].get);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "node: a deploy upload over the image limit is 413, chunked or not, and nothing is stored",
  ignore: !hasLibsure,
  async fn() {
    const node = await startTestNode();
    try {
      const boundary = "sure-test-boundary";
      const head = enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      );
      // No Content-Length: 80 MiB streamed in 1 MiB chunks; the node stops reading at its limit.
      const chunk = new Uint8Array(1 << 20);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(head);
        },
        pull(c) {
          if (sent++ < 80) c.enqueue(chunk);
          else c.close();
        },
      });
      const res = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
        body: stream,
      });
      assert.equal(res.status, 413);
      assert.equal((await res.json()).error, "payload_too_large");
      assert.ok(sent < 80, `the node read the whole upload (${sent} MiB)`);
      const get = await fetch(`${node.url}/admin/functions/big`);
      assert.equal(get.status, 404);
      await get.body?.cancel();
    } finally {
      await node.close();
    }
  },
});
