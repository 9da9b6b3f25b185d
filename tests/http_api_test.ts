/**
 * The node's HTTP API as Hono routes, without KVM (app.request on the real
 * store, scheduler and image checker): 405 with Allow for a wrong method,
 * one validation answer for every body and query, invalid names as 404, and
 * every JSON answer checked against the OpenAPI document (tests/helpers.ts
 * turns the check on).
 */
import assert from "node:assert/strict";
import { deployForm, echoImage, hasLibsure, openTestApp, withoutGuestKeys } from "./helpers.ts";

type TestApp = Awaited<ReturnType<typeof openTestApp>>;

async function call(t: TestApp, method: string, path: string, body?: unknown, type?: string) {
  const headers: Record<string, string> = {};
  let payload: BodyInit | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    headers["content-type"] = type ?? "application/json";
  }
  const res = await t.app.request(path, { method, body: payload, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function withApp(fn: (t: TestApp) => Promise<void>) {
  const t = await openTestApp();
  try {
    const res = await t.app.request("/admin/functions", {
      method: "POST",
      body: deployForm({ name: "echo", image: await echoImage() }),
    });
    assert.equal(res.status, 201, await res.text());
    await fn(t);
  } finally {
    await t.close();
  }
}

Deno.test({
  name: "http: a known path with the wrong method is 405 naming the methods it serves",
  ignore: !hasLibsure,
  fn: () =>
    withApp(async (t) => {
      const cases: [string, string, string][] = [
        ["DELETE", "/admin/openapi.json", "GET, HEAD"],
        ["PROPFIND", "/invoke/echo", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"],
        ["GET", "/admin/functions/echo/scale", "POST"],
        ["POST", "/admin/functions/echo", "DELETE, GET, HEAD, PATCH"],
        ["PATCH", "/admin/chains", "GET, HEAD, POST"],
        ["POST", "/healthz", "GET, HEAD"],
      ];
      for (const [method, path, allow] of cases) {
        const r = await call(t, method, path);
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
        assert.equal(r.body.error, "method_not_allowed");
        assert.deepEqual(r.body.allow, allow.split(", "));
      }
      // (Any path below /invoke/<name> is the function's: /invoke/echo/x is echo.)
      for (const path of ["/nope", "/admin/functions/echo/nope", "/admin", "/invoke"]) {
        const r = await call(t, "GET", path);
        assert.equal(r.status, 404, path);
        assert.equal(r.body.error, "not_found");
      }
    }),
});

Deno.test({
  name: "http: bodies and queries are validated the same way everywhere",
  ignore: !hasLibsure,
  fn: () =>
    withApp(async (t) => {
      const bad: [string, string, unknown, string | undefined, RegExp][] = [
        ["PATCH", "/admin/functions/echo", { memory: 32 }, "memory", /unknown field/],
        ["PATCH", "/admin/functions/echo", {}, undefined, /give at least one of/],
        ["PATCH", "/admin/functions/echo", { maxInstances: 0 }, "maxInstances", /at least 1/],
        ["PATCH", "/admin/functions/echo", "{nope", undefined, /Malformed JSON/],
        ["POST", "/admin/functions/echo/scale", {}, "instances", /is required/],
        ["POST", "/admin/functions/echo/scale", { instances: "2" }, "instances", /number/],
        ["POST", "/admin/chains", { name: "c1", steps: ["echo"], extra: 1 }, "extra", /unknown/],
        ["POST", "/admin/chains", { name: "c1", steps: ["echo", "echo"] }, "steps.1", /repeats/],
        ["POST", "/admin/chains", { steps: ["echo"] }, "name", /is required/],
        ["GET", "/admin/functions/echo/logs?tail=x", undefined, "tail", /number/],
        ["GET", "/admin/functions/echo/logs?follow=2", undefined, "follow", /0 or 1/],
      ];
      for (const [method, path, body, field, msg] of bad) {
        const r = await call(t, method, path, body);
        const what = `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`;
        assert.equal(r.status, 400, what);
        assert.equal(r.body.error, "validation_error", what);
        assert.equal(r.body.field, field, what);
        assert.match(r.body.message, msg, what);
      }
      const text = await call(t, "PATCH", "/admin/functions/echo", "minInstances=1", "text/plain");
      assert.equal(text.status, 415);
      assert.equal(text.body.error, "unsupported_media_type");
      // Nothing was changed by any of them.
      assert.equal((await call(t, "GET", "/admin/functions/echo")).body.maxInstances, 10);
    }),
});

Deno.test({
  name: "http: unknown and invalid names are 404 before the body is looked at",
  ignore: !hasLibsure,
  fn: () =>
    withApp(async (t) => {
      const cases: [string, string, unknown?][] = [
        ["GET", "/admin/functions/nope"],
        ["GET", "/admin/functions/Bad_Name"],
        ["DELETE", "/admin/functions/Bad_Name"],
        ["PATCH", "/admin/functions/nope", { bogus: 1 }],
        ["POST", "/admin/functions/nope/scale", { instances: -1 }],
        ["GET", "/admin/functions/nope/logs?tail=x"],
        ["GET", "/admin/functions/nope/instances"],
        ["GET", "/admin/functions/nope/requests"],
        ["GET", "/admin/chains/nope"],
        ["GET", "/admin/chains/Bad_Name/stats"],
        ["DELETE", "/admin/chains/nope"],
        ["POST", "/invoke/nope", "x"],
      ];
      for (const [method, path, body] of cases) {
        const r = await call(t, method, path, body);
        assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, "not_found");
      }
    }),
});

Deno.test({
  name: "http: admin answers match the document (checked), carry a request id; no KVM is a 503",
  ignore: !hasLibsure,
  fn: () =>
    withApp(async (t) => {
      const paths = [
        "/healthz",
        "/admin/functions",
        "/admin/functions/echo",
        "/admin/functions/echo/instances",
        "/admin/functions/echo/requests",
        "/admin/chains",
        "/admin/openapi.json",
      ];
      for (const path of paths) {
        const r = await call(t, "GET", path);
        assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
        assert.match(r.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
      }
      const h = (await call(t, "GET", "/healthz")).body;
      assert.deepEqual(Object.keys(h.machine).sort(), ["afxdp", "kvm", "protectionKeys"]);
      if (t.scheduler.kvmAvailable) return;
      // Without KVM: documented error answers (the check would turn a drift into a 500).
      const scale = await call(t, "POST", "/admin/functions/echo/scale", { instances: 1 });
      assert.equal(scale.status, 503);
      assert.equal(scale.body.error, "kvm_unavailable");
      const chain = await call(t, "POST", "/admin/chains", { name: "c1", steps: ["echo"] });
      assert.equal(chain.status, 503, JSON.stringify(chain.body));
      const inv = await call(t, "POST", "/invoke/echo", "hi", "text/plain");
      assert.equal(inv.status, 503);
      assert.match(inv.headers.get("traceparent")!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      const line = t.records.find((r) => r.msg === "request" && r.function === "echo")!;
      assert.equal(line.error, "kvm_unavailable");
      assert.equal(line.requestId, inv.headers.get("x-request-id"));
      assert.equal(line.traceId, inv.headers.get("traceparent")!.split("-")[1]);
    }),
});

Deno.test({
  name:
    "http: a chain asking for request-level isolation is refused (409) where it cannot be given",
  ignore: !hasLibsure,
  // VMs without protection keys, as on a host without PKU.
  fn: () =>
    withoutGuestKeys(() =>
      withApp(async (t) => {
        const health = await call(t, "GET", "/healthz");
        assert.equal(health.body.isolation.level, "chain");
        assert.equal(health.body.isolation.requestLevel, false);
        const r = await call(t, "POST", "/admin/chains", {
          name: "iso",
          steps: ["echo"],
          isolation: "request",
          maxBody: 65536, // fits 1/11 of the default pool: a valid manifest
        });
        assert.equal(r.status, 409);
        assert.equal(r.body.error, "isolation_unavailable");
        assert.match(r.body.message, /chain iso asks for request-level isolation; this node gives/);
        assert.equal((await call(t, "GET", "/admin/chains/iso")).status, 404); // nothing stored
        const bad = await call(t, "POST", "/admin/chains", {
          name: "iso",
          steps: ["echo"],
          isolation: "x",
        });
        assert.equal(bad.status, 400);
      })
    ),
});
