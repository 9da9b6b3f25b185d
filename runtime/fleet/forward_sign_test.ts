import assert from "node:assert/strict";
import { Hono } from "hono";
import { forwardMac } from "../../ffi/mod.ts";
import { DirectForwarder } from "./forward_direct.ts";
import { FORWARD_MAC, forwardSigned, signForward } from "./forward_sign.ts";
import { FORWARDED_BY } from "../gateway/send_on.ts";
import { privateGuard } from "../middleware/auth.ts";
import { toHttpError } from "../errors.ts";
import { hasLibsure } from "../../tests/helpers.ts";

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);

Deno.test({
  name: "forward MAC: HMAC-SHA256 of its parts, each ended by a NUL, as libsure.h says",
  ignore: !hasLibsure,
  async fn() {
    const parts = ["sure-forward-1", "a", "sec", "POST", "/x/y", "q=1&r", "5"];
    const k = await crypto.subtle.importKey("raw", KEY, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    const msg = new TextEncoder().encode(parts.map((p) => p + "\0").join(""));
    const want = [...new Uint8Array(await crypto.subtle.sign("HMAC", k, msg))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const r = {
      from: "a",
      name: "sec",
      method: "POST",
      path: "/x/y",
      query: "q=1&r",
      bodyLength: 5,
    };
    assert.equal(forwardMac(KEY, r), want);
    // Each part counts, and where one ends (no two requests share a MAC by shifting a byte).
    assert.notEqual(forwardMac(KEY, { ...r, path: "/x/yq", query: "=1&r" }), want);
    assert.notEqual(forwardMac(KEY, { ...r, from: "b" }), want);
    assert.notEqual(forwardMac(KEY, { ...r, bodyLength: 6 }), want);
    assert.notEqual(forwardMac(KEY.map((b) => b ^ 1), r), want);
    assert.throws(() => forwardMac(new Uint8Array(8), r), /EINVAL|invalid/i);
  },
});

Deno.test({
  name:
    "forward MAC: a private invoke goes signed, without the caller's token; the lock takes only a good one",
  ignore: !hasLibsure,
  async fn() {
    const seen: Request[] = [];
    const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      seen.push(new Request(req.url, { method: req.method, headers: req.headers }));
      return new Response(`got ${await req.text()}`);
    });
    const f = new DirectForwarder("a", KEY);
    try {
      const req = new Request("http://x/invoke/sec/p?q=1", {
        method: "POST",
        body: "hi",
        headers: { authorization: "Bearer a-token", "x-keep": "1" },
      });
      const targets = [{ node: "b", addr: `127.0.0.1:${srv.addr.port}` }];
      const body = new TextEncoder().encode("hi");
      const res = await f.send("sec", req.clone(), body, "r-1", targets, 5000, true);
      assert.equal(await res!.text(), "got hi");
      const got = seen[0];
      assert.equal(got.headers.get("authorization"), null, "the caller's token went on");
      assert.equal(got.headers.get("x-keep"), "1");
      assert.equal(got.headers.get(FORWARDED_BY), "a");
      assert.match(got.headers.get(FORWARD_MAC) ?? "", /^[0-9a-f]{64}$/);
      assert.equal(got.headers.get("content-length"), "2");
      assert.ok(forwardSigned(KEY, "sec", got));
      // Not for another function, path, query, length, sender or key.
      const moved = (url: string, h: Record<string, string> = {}) => {
        const headers = new Headers(got.headers);
        for (const [k, v] of Object.entries(h)) headers.set(k, v);
        return new Request(url, { method: "POST", headers });
      };
      const base = new URL(got.url);
      const at = (p: string) => `${base.origin}${p}`;
      assert.ok(!forwardSigned(KEY, "other", moved(at("/invoke/other/p?q=1"))));
      assert.ok(!forwardSigned(KEY, "sec", moved(at("/invoke/sec/p2?q=1"))));
      assert.ok(!forwardSigned(KEY, "sec", moved(at("/invoke/sec/p?q=2"))));
      assert.ok(
        !forwardSigned(KEY, "sec", moved(at("/invoke/sec/p?q=1"), { "content-length": "3" })),
      );
      assert.ok(
        !forwardSigned(KEY, "sec", moved(at("/invoke/sec/p?q=1"), { [FORWARDED_BY]: "c" })),
      );
      assert.ok(!forwardSigned(KEY.map((b) => b ^ 1), "sec", got));
      // Without the key, nothing goes this way (the caller falls back to NATS).
      const keyless = new DirectForwarder("a");
      assert.equal(await keyless.send("sec", req.clone(), body, "r", targets, 5000, true), null);
      keyless.close();
      assert.equal(seen.length, 1);

      // The lock on private functions: the token, or a good signature, else 401.
      const app = new Hono();
      app.onError((err) => {
        const e = toHttpError(err);
        return Response.json(e.body(), { status: e.status });
      });
      app.use(
        "/invoke/:name/*",
        privateGuard({
          token: "b-token",
          plainAdmin: true,
          forwardSigned: (r, name) => forwardSigned(KEY, name, r),
        }, () => true),
      );
      app.all("/invoke/:name/*", (c) => c.text("ran"));
      const mac = signForward(KEY, "a", "sec", new Request("http://b/invoke/sec/p?q=1"), 0);
      const call = (h: Record<string, string>, path = "/invoke/sec/p?q=1") =>
        app.request(path, { headers: h });
      assert.equal((await call({ [FORWARDED_BY]: "a", [FORWARD_MAC]: mac })).status, 200);
      assert.equal((await call({ authorization: "Bearer b-token" })).status, 200);
      const refused: Record<string, string>[] = [
        {},
        { [FORWARDED_BY]: "a", [FORWARD_MAC]: "0".repeat(64) },
        { [FORWARDED_BY]: "c", [FORWARD_MAC]: mac },
        { [FORWARD_MAC]: mac },
        // A token sent is the token checked, whatever else comes with it.
        { authorization: "Bearer wrong", [FORWARDED_BY]: "a", [FORWARD_MAC]: mac },
        { [FORWARDED_BY]: "a", [FORWARD_MAC]: mac, "transfer-encoding": "chunked" },
      ];
      for (const h of refused) {
        const r = await call(h);
        assert.equal(r.status, 401, JSON.stringify(h));
        assert.equal((await r.json()).error, "unauthorized");
      }
      assert.equal(
        (await call({ [FORWARDED_BY]: "a", [FORWARD_MAC]: mac }, "/invoke/sec/p?q=2")).status,
        401,
      );
    } finally {
      f.close();
      await srv.shutdown();
    }
  },
});
