/**
 * The gateway's middleware (request id, trace context, metrics, request log)
 * on a real app whose scheduler is a stub: no KVM needed to see a function's
 * answer, a thrown error and an unknown name pass through them.
 */
import assert from "node:assert/strict";
import { type AppDeps, createApp } from "../app.ts";
import { FunctionTimeoutError, NotFoundError } from "../errors.ts";
import { memoryLogger } from "../log.ts";
import { NodeMetrics } from "../metrics/metrics.ts";

const TRACE = "0af7651916cd43dd8448eb211c80319c";

function app(opts: { requestLog?: boolean } = {}) {
  const { logger, records } = memoryLogger();
  const metrics = new NodeMetrics();
  const seen: { requestId: string; trace: Uint8Array }[] = [];
  const scheduler = {
    group(name: string) {
      if (name !== "echo" && name !== "slow") {
        throw new NotFoundError(`function ${name} is not deployed`);
      }
      return { deployment: { maxBody: 1024 } };
    },
    isPrivate: () => false,
    invoke(name: string, body: Uint8Array, requestId: string, trace: Uint8Array) {
      seen.push({ requestId, trace });
      if (name === "slow") throw new FunctionTimeoutError(name, 300);
      return Promise.resolve({ status: 200, body, reason: "handler" });
    },
  };
  const deps = {
    version: "0",
    logger,
    metrics,
    scheduler,
    chains: { get: () => undefined, notRunning: () => undefined },
    requestLog: opts.requestLog,
    auth: { token: null, plainAdmin: true },
  } as unknown as AppDeps;
  return { app: createApp(deps), records, metrics, seen };
}

const counts = (m: NodeMetrics) =>
  Object.fromEntries(
    m.requests.family().samples.map((s) => [`${s.labels.name} ${s.labels.code}`, s.value]),
  );

Deno.test("gateway middleware: ids, trace, one log line and the counts of an answer", async () => {
  const t = app();
  const res = await t.app.request("/invoke/echo", {
    method: "POST",
    body: "hi",
    headers: { "x-request-id": "client-42.a:b", traceparent: `00-${TRACE}-b7ad6b7169203331-01` },
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "hi");
  assert.equal(res.headers.get("x-request-id"), "client-42.a:b", "a sane id is kept");
  const [, trace, span] = res.headers.get("traceparent")!.split("-");
  assert.equal(trace, TRACE);
  assert.equal(t.seen[0].requestId, "client-42.a:b", "the function sees the same id");
  assert.equal(t.seen[0].trace[24], 1, "flags reach the function");
  assert.deepEqual(counts(t.metrics), { "echo 200": 1 });
  const lines = t.records.filter((r) => r.msg === "request");
  assert.equal(lines.length, 1);
  assert.equal(lines[0].requestId, "client-42.a:b");
  assert.equal(lines[0].function, "echo");
  assert.equal(lines[0].status, 200);
  assert.equal(lines[0].traceId, TRACE);
  assert.equal(typeof lines[0].durationMs, "number");
  assert.notEqual(span, "b7ad6b7169203331", "the node answers with its own span");
});

Deno.test("gateway middleware: a thrown error is counted, logged and carries the ids", async () => {
  const t = app();
  const res = await t.app.request("/invoke/slow", { method: "POST", body: "x" });
  assert.equal(res.status, 504);
  assert.equal((await res.json()).error, "function_timeout");
  assert.match(res.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
  assert.match(res.headers.get("traceparent")!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.deepEqual(counts(t.metrics), { "slow 504": 1 });
  const errs = t.metrics.errors.family().samples;
  assert.deepEqual(errs.map((s) => s.labels.kind), ["function_timeout"]);
  const line = t.records.find((r) => r.msg === "request")!;
  assert.equal(line.status, 504);
  assert.equal(line.error, "function_timeout");
  assert.equal(line.level, "warn");
  assert.equal(line.requestId, res.headers.get("x-request-id"));
});

Deno.test("gateway middleware: an unknown name is logged, never a series", async () => {
  const t = app();
  const res = await t.app.request("/invoke/nobody", { method: "POST", body: "x" });
  assert.equal(res.status, 404);
  await res.body?.cancel();
  assert.deepEqual(counts(t.metrics), {});
  assert.equal(t.records.filter((r) => r.msg === "request" && r.error === "not_found").length, 1);
  // A wrong method is no invocation at all: 405, not counted, not logged.
  const put = await t.app.request("/invoke/echo", { method: "PROPFIND" });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
  await put.body?.cancel();
  assert.deepEqual(counts(t.metrics), {});
  assert.equal(t.records.filter((r) => r.msg === "request").length, 1);
});

Deno.test("gateway middleware: insane request ids are replaced; requestLog false logs nothing", async () => {
  const t = app({ requestLog: false });
  for (const bad of ["", "a".repeat(129), "has space", "new\u00e9", "x;y"]) {
    const res = await t.app.request("/invoke/echo", {
      method: "POST",
      body: "x",
      headers: bad === "" ? {} : { "x-request-id": bad },
    });
    assert.match(res.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/, JSON.stringify(bad));
    await res.body?.cancel();
  }
  const ok = await t.app.request("/invoke/echo", {
    method: "POST",
    headers: { "x-request-id": "a".repeat(128) },
  });
  assert.equal(ok.headers.get("x-request-id"), "a".repeat(128));
  await ok.body?.cancel();
  assert.equal(t.records.filter((r) => r.msg === "request").length, 0);
  assert.deepEqual(counts(t.metrics), { "echo 200": 6 });
});
