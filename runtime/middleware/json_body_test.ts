import assert from "node:assert/strict";
import { Hono } from "hono";
import { HttpError } from "../errors.ts";
import type { AppEnv } from "./env.ts";
import { checkJsonBody, forbiddenKeyPath } from "./json_body.ts";

Deno.test("json body: a __proto__ key anywhere is found, in a string it is not", () => {
  assert.equal(forbiddenKeyPath('{"routes": {"__proto__": ["upper"]}}'), "__proto__");
  assert.equal(forbiddenKeyPath('{"set": {"A": "1", "__proto__": "x"}}'), "__proto__");
  assert.equal(forbiddenKeyPath('[{"a": [{"__proto__": 1}]}]'), "__proto__");
  assert.equal(forbiddenKeyPath('{"set": {"A": "\\"__proto__\\": 1"}}'), null);
  assert.equal(forbiddenKeyPath('{"__proto__"'), null, "not JSON: the route's own check says so");
  assert.equal(forbiddenKeyPath('{"a": 1}'), null);
});

Deno.test("json body: refused whole with a 400 (the key named, or not UTF-8); others pass", async () => {
  const app = new Hono<AppEnv>();
  app.onError((e, c) =>
    e instanceof HttpError ? c.json({ error: e.code, message: e.message }, 400) : c.text("?", 500)
  );
  app.use("/admin/*", checkJsonBody);
  let reached = 0;
  app.post("/admin/chains", async (c) => {
    reached++;
    return c.json(await c.req.json()); // the body is still there to read
  });
  const post = (body: string) =>
    app.request("/admin/chains", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
  const bad = await post('{"name": "c", "routes": {"__proto__": ["upper"]}}');
  assert.equal(bad.status, 400);
  const err = await bad.json();
  assert.equal(err.error, "validation_error");
  assert.match(err.message, /^__proto__: /);
  assert.equal(reached, 0);
  // Not UTF-8: refused, not stored with U+FFFD in place of the bytes.
  const latin1 = await app.request("/admin/chains", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]), // {"a":"\xe9"}
  });
  assert.equal(latin1.status, 400);
  assert.match((await latin1.json()).message, /not valid UTF-8/);
  assert.equal(reached, 0);
  const ok = await post('{"name": "c", "routes": {"echo": ["upper"]}}');
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { name: "c", routes: { echo: ["upper"] } });
});
