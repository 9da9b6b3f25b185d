/**
 * The function contract's HTTP side on real KVM: a function sees the
 * method, the path below /invoke/<name>, the raw query and every header of
 * the request, and sets its status and response headers; the node refuses
 * the headers only it may set (a 502 naming them), answers 431 for a head
 * the function could not see whole, and defaults the content type. Chains:
 * every step sees the request, any step adds headers, the status is the
 * last one a step set.
 */
import assert from "node:assert/strict";
import {
  buildImage,
  deployFunction,
  hasKvm,
  rawExchange,
  startTestNode,
  type TestNode,
} from "./helpers.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

async function call(node: TestNode, path: string, init: RequestInit = {}) {
  const res = await fetch(`${node.url}${path}`, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function withMirror(fn: (node: TestNode) => Promise<void>) {
  const node = await startTestNode();
  try {
    await deployFunction(
      node,
      "mirror",
      await buildImage("tests/fixtures/functions/http-mirror"),
      undefined,
      { minInstances: 1, maxInstances: 1 },
    );
    await fn(node);
  } finally {
    await node.close();
  }
}

Deno.test({
  name: "http: every standard method, the path below the name, the raw query and headers reach it",
  ignore: !hasKvm,
  async fn() {
    await withMirror(async (node) => {
      for (const method of METHODS) {
        const r = await call(node, "/invoke/mirror/users/7", {
          method,
          body: method === "POST" || method === "PUT" || method === "PATCH" ? "abc" : undefined,
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers.get("x-method"), method);
        if (method === "HEAD") {
          assert.equal(r.text, ""); // HEAD answers carry no body
          continue;
        }
        assert.match(r.text, new RegExp(`^method ${method}\npath /users/7\nquery \n`));
        const len = method === "POST" || method === "PUT" || method === "PATCH" ? 3 : 0;
        assert.match(r.text, new RegExp(`body ${len} bytes\n$`));
      }
      let r = await call(node, "/invoke/mirror");
      assert.match(r.text, /^method GET\npath \/\nquery \n/);
      r = await call(node, "/invoke/mirror/a%20b/c?q=hello%20world+x&z=%zz&&flag", {
        headers: { "X-Case-Test": "Yes", "X-Multi": "one" },
      });
      assert.match(r.text, /\npath \/a%20b\/c\n/);
      assert.match(r.text, /\nquery q=hello%20world\+x&z=%zz&&flag\n/);
      assert.match(r.text, /\nparam q=hello world x\n/);
      assert.match(r.text, /\nheader x-case-test: Yes\n/); // names in lower case
      assert.match(r.text, /\ncase-insensitive Yes\n/); // sure_header("X-CASE-Test")
      // The node's id: a version 4 UUID, as crypto.randomUUID() makes them.
      const uuid4 =
        /\nheader x-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n/;
      assert.match(r.text, uuid4);
    });
  },
});

Deno.test({
  name:
    "http: a method /invoke does not serve is 405 naming those it does, an unmet Expect is 417; no function sees either",
  ignore: !hasKvm,
  async fn() {
    await withMirror(async (node) => {
      const whole = (t: string) => t.includes("}");
      for (const method of ["TRACE", "PROPFIND", "BREW"]) {
        const t = await rawExchange(
          node.port,
          `${method} /invoke/mirror/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`,
          whole,
        );
        assert.match(t, /^HTTP\/1.1 405 /, t);
        assert.match(t, /\r\nallow: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT\r\n/i, t);
        assert.match(t, /"error":"method_not_allowed"/, t);
        assert.doesNotMatch(t, /x-method/i, t); // the function never ran
      }
      // CONNECT takes an authority, never a path: refused before any route.
      const connect = await rawExchange(
        node.port,
        "CONNECT /invoke/mirror HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
        (t) => t.includes("\r\n\r\n"),
      );
      assert.match(connect, /^HTTP\/1.1 4\d\d /, connect);
      for (const expect of ["200-ok", "100-continue, x", ""]) {
        for (const path of ["/invoke/mirror", "/healthz"]) {
          const t = await rawExchange(
            node.port,
            `POST ${path} HTTP/1.1\r\nHost: h\r\nExpect: ${expect}\r\n` +
              "Content-Length: 2\r\nConnection: close\r\n\r\nhi",
            whole,
          );
          assert.match(t, /^HTTP\/1.1 417 /, `${expect} ${path}: ${t}`);
          assert.match(t, /"error":"expectation_failed"/, t);
        }
      }
      // 100-continue is met, in any case.
      const t = await rawExchange(
        node.port,
        "POST /invoke/mirror HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n" +
          "Content-Length: 2\r\nConnection: close\r\n\r\nhi",
        (t) => t.includes("bytes\n"),
      );
      assert.match(t, /HTTP\/1.1 200 /, t);
      assert.match(t, /body 2 bytes\n/, t);
    });
  },
});

Deno.test({
  name: "http: response headers and status come from the function; no Content-Type is bytes",
  ignore: !hasKvm,
  async fn() {
    await withMirror(async (node) => {
      let r = await call(node, "/invoke/mirror");
      assert.equal(r.headers.get("content-type"), "application/octet-stream");
      const res = await fetch(`${node.url}/invoke/mirror`, {
        // Deno sends headers sorted by name: 1 before 2.
        headers: [
          ["x-set-0", "Content-Type=application/json"],
          ["x-set-1", "X-Replaced=first"],
          ["x-set-2", "x-replaced=second"],
          ["x-add-1", "Set-Cookie=a=1; Path=/"],
          ["x-add-2", "Set-Cookie=b=2"],
          ["x-status", "201"],
        ],
      });
      const text = await res.text();
      assert.equal(res.status, 201, text);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(res.headers.get("x-replaced"), "second");
      assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2"]);
      r = await call(node, "/invoke/mirror", { headers: { "x-status": "204" } });
      assert.equal(r.status, 204);
      assert.equal(r.text, "");
    });
  },
});

Deno.test({
  name: "http: hop-by-hop, framing and CR/LF response headers are a 502 naming them; it lives on",
  ignore: !hasKvm,
  async fn() {
    await withMirror(async (node) => {
      const bad: [string, RegExp][] = [
        ["Transfer-Encoding=chunked", /Transfer-Encoding.*hop-by-hop or framing/],
        ["Content-Length=5", /Content-Length.*hop-by-hop or framing/],
        ["connection=close", /connection.*hop-by-hop or framing/],
        ["Upgrade=h2c", /Upgrade/],
        ["Keep-Alive=timeout=5", /Keep-Alive/],
        // The node's own headers: x-sure-hop-next would steer a chain between nodes.
        ["X-Sure-Hop-Next=1 2 200 1", /X-Sure-Hop-Next.*the node's own/],
        ["x-sure-node=elsewhere", /x-sure-node.*the node's own/],
        ["X-Evil=a\\nSet-Cookie: stolen=1", /X-Evil.*control character/],
        ["Bad Name=v", /not an HTTP token/],
      ];
      for (const [spec, message] of bad) {
        const r = await call(node, "/invoke/mirror", { headers: { "x-set": spec } });
        assert.equal(r.status, 502, `${spec}: ${r.text}`);
        const body = JSON.parse(r.text);
        assert.equal(body.error, "bad_response_header");
        assert.equal(body.function, "mirror");
        assert.match(body.message, message);
        assert.equal(r.headers.get("set-cookie"), null);
      }
      // Not a crash: the same (only) instance answers the next request.
      const r = await call(node, "/invoke/mirror");
      assert.equal(r.status, 200);
      const fns = await (await fetch(`${node.url}/admin/functions/mirror/instances`)).json();
      assert.equal(fns.instances.length, 1, JSON.stringify(fns));
      assert.ok(fns.instances[0].requests >= bad.length + 1);
    });
  },
});

Deno.test({
  name: "http: a head larger than a function can see is 431 before the function runs",
  ignore: !hasKvm,
  async fn() {
    await withMirror(async (node) => {
      const headers = new Headers();
      for (let i = 0; i < 12; i++) headers.set(`x-big-${i}`, "v".repeat(1500));
      let r = await call(node, "/invoke/mirror", { method: "POST", headers, body: "x" });
      assert.equal(r.status, 431, r.text);
      assert.equal(JSON.parse(r.text).error, "request_headers_too_large");
      // Just under the limit goes through, every byte of it.
      const fits = new Headers();
      for (let i = 0; i < 9; i++) fits.set(`x-big-${i}`, "v".repeat(1500));
      r = await call(node, "/invoke/mirror", { headers: fits });
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, new RegExp(`header x-big-8: v{1500}\n`));
      // The 431 never reached the function: its one instance served one request.
      const stats = await (await fetch(`${node.url}/admin/functions/mirror/instances`)).json();
      assert.equal(stats.instances[0].requests, 1, JSON.stringify(stats));
    });
  },
});

Deno.test({
  name: "http: in a chain every step sees the request, any step adds headers, the last status wins",
  ignore: !hasKvm,
  async fn() {
    await withMirror(async (node) => {
      await deployFunction(node, "api", await buildImage("functions/api"));
      const res = await fetch(`${node.url}/admin/chains`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "both", steps: ["mirror", "api"] }),
      });
      assert.equal(res.status, 201, await res.text());
      // mirror sets 202 and X-Method; api answers user 3 as JSON without a status.
      let r = await call(node, "/invoke/both/users/3?q=1", {
        headers: { "x-status": "202", "x-request-id": "req-42" },
      });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.headers.get("x-method"), "GET");
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.equal(r.headers.get("x-seen-request-id"), "req-42");
      assert.deepEqual(JSON.parse(r.text), { id: 3, name: "user-3" });
      // A step's error status answers at once: api says 404 for an unknown path.
      r = await call(node, "/invoke/both/nothing");
      assert.equal(r.status, 404);
      assert.deepEqual(JSON.parse(r.text), { error: "no such route" });
      // A bad header from any step is a 502 for the chain.
      r = await call(node, "/invoke/both/users/1", { headers: { "x-set": "TE=trailers" } });
      assert.equal(r.status, 502, r.text);
      assert.equal(JSON.parse(r.text).error, "bad_response_header");
      r = await call(node, "/invoke/both/users/1");
      assert.equal(r.status, 200, r.text);
    });
  },
});

Deno.test({
  name: "http: the api example routes on method and path and answers JSON",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "api", await buildImage("functions/api"));
      let r = await call(node, "/invoke/api/users?limit=2");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.deepEqual(JSON.parse(r.text), [{ id: 1, name: "user-1" }, { id: 2, name: "user-2" }]);
      r = await call(node, "/invoke/api/users", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"name":"ada"}',
      });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get("location"), "/invoke/api/users/101");
      assert.deepEqual(JSON.parse(r.text), { name: "ada" });
      r = await call(node, "/invoke/api/users", { method: "POST", body: "x" });
      assert.equal(r.status, 415);
      r = await call(node, "/invoke/api/users/7", { method: "DELETE" });
      assert.equal(r.status, 204);
      r = await call(node, "/invoke/api/users/7", { method: "PUT", body: "{}" });
      assert.equal(r.status, 405);
      r = await call(node, "/invoke/api/x", { method: "OPTIONS" });
      assert.equal(r.status, 204);
      assert.equal(r.headers.get("allow"), "GET, POST, DELETE, OPTIONS");
    } finally {
      await node.close();
    }
  },
});
