/**
 * Structured and batch modes on /invoke without VMs: a stand-in gateway
 * route that answers in binary mode (or not) shows what the middleware posts
 * to it and how it turns the answers back into structured events and batches.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { CloudEvent as SdkEvent, HTTP } from "cloudevents";
import type { AppEnv } from "./env.ts";
import { cloudEventModes, RESULT_TYPE } from "./cloudevents.ts";
import { BATCH, STRUCTURED } from "../events/cloudevents.ts";
import { errorResponse } from "../errors.ts";

interface Got {
  headers: Record<string, string>;
  body: string;
}

/** An app with the middleware and a gateway stand-in that answers as `answer` says. */
function testApp(answer: (got: Got) => Response) {
  const got: Got[] = [];
  const app = new Hono<AppEnv>();
  app.onError((e) => errorResponse(e));
  app.use("*", async (c, next) => {
    c.set("requestId", c.req.header("x-request-id") ?? "req-1");
    await next();
  });
  app.use("/invoke/*", cloudEventModes(async (req) => await app.fetch(req)));
  app.post("/invoke/:name", async (c) => {
    const g = { headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() };
    got.push(g);
    return answer(g);
  });
  return { app, got };
}

/** Answers with a "done" event in binary mode carrying the request's data upper-cased. */
function replyEvent(g: Got): Response {
  return new Response(g.body.toUpperCase(), {
    status: 201,
    headers: {
      "ce-specversion": "1.0",
      "ce-id": `re-${g.headers["ce-id"]}`,
      "ce-source": "/fn/up",
      "ce-type": "com.example.done",
      "content-type": "text/plain",
      "x-extra": "kept",
    },
  });
}

const event = (id: string, data: unknown) =>
  new SdkEvent({ id, source: "/test", type: "com.example.t", data });

Deno.test("invoke middleware: binary mode passes through untouched", async () => {
  const { app, got } = testApp(() => new Response("plain"));
  const msg = HTTP.binary(event("b1", "hi"));
  const res = await app.request("/invoke/up", {
    method: "POST",
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  assert.equal(await res.text(), "plain");
  assert.equal(got[0].headers["ce-id"], "b1");
  assert.equal(got[0].body, "hi");
});

Deno.test("invoke middleware: structured in, binary to the function, structured back", async () => {
  const { app, got } = testApp(replyEvent);
  const msg = HTTP.structured(
    new SdkEvent({
      id: "s1",
      source: "/test",
      type: "com.example.t",
      datacontenttype: "text/plain",
      data: "hello",
      region: "eu1",
    }),
  );
  const res = await app.request("/invoke/up", {
    method: "POST",
    headers: { ...msg.headers as Record<string, string>, "x-request-id": "abc" },
    body: msg.body as string,
  });
  // What the function got: binary mode.
  assert.equal(got[0].headers["ce-id"], "s1");
  assert.equal(got[0].headers["ce-region"], "eu1");
  assert.equal(got[0].headers["content-type"], "text/plain");
  assert.equal(got[0].headers["x-request-id"], "abc");
  assert.equal(got[0].body, "hello");
  // What the client got: the answer event in structured mode, with the status and other headers.
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("content-type"), STRUCTURED);
  assert.equal(res.headers.get("x-extra"), "kept");
  assert.equal(res.headers.get("ce-id"), null);
  const back = HTTP.toEvent({ headers: Object.fromEntries(res.headers), body: await res.text() });
  const ev = Array.isArray(back) ? back[0] : back;
  assert.equal(ev.id, "re-s1");
  assert.equal(ev.type, "com.example.done");
  assert.equal(ev.data, "HELLO");
});

Deno.test("invoke middleware: a structured event answered without an event is passed on", async () => {
  const { app } = testApp(() => new Response("not an event", { status: 200 }));
  const msg = HTTP.structured(event("s2", { a: 1 }));
  const res = await app.request("/invoke/x", {
    method: "POST",
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  assert.equal(await res.text(), "not an event");
});

Deno.test("invoke middleware: a batch is posted event by event and answered as a batch", async () => {
  const { app, got } = testApp((g) =>
    g.headers["ce-id"] === "2"
      ? new Response("boom", { status: 500, headers: { "content-type": "text/plain" } })
      : g.headers["ce-id"] === "3"
      ? new Response(null, { status: 204 })
      : replyEvent(g)
  );
  const batch = JSON.stringify([
    {
      specversion: "1.0",
      id: "1",
      source: "/t",
      type: "t",
      datacontenttype: "text/plain",
      data: "a",
    },
    { specversion: "1.0", id: "2", source: "/t", type: "t" },
    { specversion: "1.0", id: "3", source: "/t", type: "t", data: { n: 3 } },
  ]);
  const res = await app.request("/invoke/up", {
    method: "POST",
    headers: { "content-type": BATCH, "x-request-id": "r" },
    body: batch,
  });
  assert.equal(res.status, 207);
  assert.equal(res.headers.get("content-type"), BATCH);
  assert.equal(res.headers.get("x-request-id"), "r");
  assert.deepEqual(got.map((g) => g.headers["x-request-id"]), ["r.0", "r.1", "r.2"]);
  assert.equal(got[2].body, '{"n":3}');
  assert.equal(got[2].headers["content-type"], "application/json");
  const out = await res.json();
  assert.equal(out.length, 3);
  assert.deepEqual(
    [out[0].id, out[0].type, out[0].data, out[0].surestatus],
    ["re-1", "com.example.done", "A", "201"],
  );
  assert.deepEqual(
    [out[1].id, out[1].type, out[1].source, out[1].data, out[1].surestatus],
    ["2.result", RESULT_TYPE, "/invoke/up", "boom", "500"],
  );
  assert.deepEqual([out[2].type, out[2].surestatus, out[2].data], [RESULT_TYPE, "204", undefined]);
  // The SDK reads the answer as a batch.
  const read = HTTP.toEvent({ headers: { "content-type": BATCH }, body: JSON.stringify(out) });
  assert.equal((read as unknown[]).length, 3);
});

Deno.test("invoke middleware: a malformed event is a 400 naming the attribute", async () => {
  const { app, got } = testApp(() => new Response("never"));
  const res = await app.request("/invoke/up", {
    method: "POST",
    headers: { "content-type": BATCH },
    body: JSON.stringify([{ specversion: "1.0", id: "1", source: "/t", type: "t" }, { id: "2" }]),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).field, "1.specversion");
  assert.equal(got.length, 0);
});
