/**
 * Events end to end on a real node with real function VMs: the `cloudevents`
 * SDK's HTTP emitter posts to /events in binary and structured mode, a
 * trigger delivers to `echo` (seen in the node's request log), an event
 * accepted but not yet delivered when the node stops is delivered after it
 * starts again, and a delivery the function answers 500 ends as a dead
 * letter whose replay delivers it once the function is fixed.
 */
import assert from "node:assert/strict";
import { CloudEvent, emitterFor, HTTP, httpTransport, Mode } from "cloudevents";
import {
  buildImage,
  deployFunction,
  echoImage,
  faultyImage,
  hasKvm,
  startTestNode,
  type TestNode,
  waitFor,
  waitForAsync,
} from "./helpers.ts";

/** Nested KVM starts VMs 50-100x slower than hardware: generous timeouts. */
const TIMEOUT = 60_000;
const WAIT = 120_000;

async function addTrigger(node: TestNode, type: string, fn: string): Promise<string> {
  const res = await fetch(`${node.url}/admin/triggers`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type, function: fn }),
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.id;
}

/** Request-log lines of invocations of fn answered with status. */
function invocations(node: TestNode, fn: string, status: number): number {
  return node.records.filter((r) => r.msg === "request" && r.function === fn && r.status === status)
    .length;
}

/** Emits through the SDK's HTTP transport; answers the sink's JSON (the transport has no status). */
async function emit(node: TestNode, mode: Mode, ev: CloudEvent<string>) {
  const emitter = emitterFor(httpTransport(`${node.url}/events`), { mode });
  // The SDK posts with node:http, not fetch: it carries the node's token itself.
  const res = await emitter(ev, { headers: { authorization: `Bearer ${node.token}` } }) as {
    body: string;
  };
  return JSON.parse(res.body);
}

const ping = (id: string, data = "hello") =>
  new CloudEvent({ id, source: "/test/events", type: "com.example.ping", data });

Deno.test({
  name: "events: the SDK's binary and structured events reach echo, also across a restart",
  ignore: !hasKvm,
  sanitizeResources: false, // node:http's agent keeps its socket a while
  async fn() {
    const events = { retryBaseMs: 500, retryMaxMs: 2000, maxAttempts: 100 };
    let node = await startTestNode({ events });
    const dataDir = node.dataDir;
    try {
      await deployFunction(node, "echo", await echoImage(), TIMEOUT);
      await addTrigger(node, "com.example.ping", "echo");

      let out = await emit(node, Mode.BINARY, ping("p-1"));
      assert.deepEqual(out.accepted, [{ id: "p-1", source: "/test/events", duplicate: false }]);
      out = await emit(node, Mode.STRUCTURED, ping("p-2"));
      assert.equal(out.accepted[0].id, "p-2");
      assert.ok(await waitFor(() => invocations(node, "echo", 200) === 2, WAIT));

      // Structured mode on /invoke: echo gets the data in binary mode and answers it.
      const res = await fetch(`${node.url}/invoke/echo`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents+json" },
        body: JSON.stringify({
          specversion: "1.0",
          id: "i-1",
          source: "/test",
          type: "t",
          datacontenttype: "text/plain",
          data: "straight through",
        }),
      });
      assert.equal(await res.text(), "straight through");

      // echo goes away: the next event is accepted but cannot be delivered (404, retried).
      const rm = await fetch(`${node.url}/admin/functions/echo`, { method: "DELETE" });
      assert.equal(rm.status, 200);
      await rm.body?.cancel();
      out = await emit(node, Mode.BINARY, ping("p-3", "after the restart"));
      assert.equal(out.accepted[0].duplicate, false);
      assert.ok(await waitFor(() => invocations(node, "echo", 404) >= 1, WAIT));
      await node.close();

      // Same data directory: the queued retry survives, and runs once echo is back.
      node = await startTestNode({ dataDir, events });
      await deployFunction(node, "echo", await echoImage(), TIMEOUT);
      assert.ok(await waitFor(() => invocations(node, "echo", 200) === 1, WAIT));
      // A repeat of an event accepted before the restart is still a duplicate.
      out = await emit(node, Mode.BINARY, ping("p-3"));
      assert.equal(out.accepted[0].duplicate, true);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "events: a delivery answered 500 is dead-lettered; replay delivers it",
  ignore: !hasKvm,
  sanitizeResources: false,
  async fn() {
    const node = await startTestNode({
      events: { retryBaseMs: 200, retryMaxMs: 500, maxAttempts: 2 },
    });
    try {
      // faulty answers "status:500" with HTTP status 500.
      await deployFunction(node, "faulty", await faultyImage(), TIMEOUT);
      await addTrigger(node, "com.example.fail", "faulty");
      const out = await emit(
        node,
        Mode.BINARY,
        new CloudEvent({
          id: "f-1",
          source: "/test",
          type: "com.example.fail",
          datacontenttype: "text/plain",
          data: "status:500",
        }),
      );
      assert.equal(out.accepted[0].id, "f-1");
      let dead: { id: string; attempts: number; lastStatus: number; function: string }[] = [];
      assert.ok(
        await waitForAsync(async () => {
          const r = await fetch(`${node.url}/admin/events/dead`);
          dead = (await r.json()).deadLetters;
          return dead.length === 1;
        }, WAIT),
      );
      assert.deepEqual([dead[0].function, dead[0].attempts, dead[0].lastStatus], [
        "faulty",
        2,
        500,
      ]);
      assert.equal(invocations(node, "faulty", 500), 2);

      // Fixed (echo under the same name), then replayed: delivered.
      await deployFunction(node, "faulty", await echoImage(), TIMEOUT);
      const replay = await fetch(`${node.url}/admin/events/dead/${dead[0].id}/replay`, {
        method: "POST",
      });
      assert.equal(replay.status, 202);
      await replay.body?.cancel();
      assert.ok(await waitFor(() => invocations(node, "faulty", 200) === 1, WAIT));
      const after = await (await fetch(`${node.url}/admin/events/dead`)).json();
      assert.deepEqual(after.deadLetters, []);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "events: a function reads a binary event's ce-* headers and answers with an event",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "event-reply", await buildImage("functions/event-reply"), TIMEOUT);
      const sent = new CloudEvent({
        id: "o-7",
        source: "/shop",
        type: "com.example.order.created",
        datacontenttype: "application/json",
        data: { id: 7 },
      });
      for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
        const msg = mode === Mode.BINARY ? HTTP.binary(sent) : HTTP.structured(sent);
        const res = await fetch(`${node.url}/invoke/event-reply`, {
          method: "POST",
          headers: msg.headers as Record<string, string>,
          body: msg.body as string,
        });
        const body = await res.text();
        assert.equal(res.status, 200, body);
        const headers = Object.fromEntries(res.headers);
        const reply = HTTP.toEvent({ headers, body }) as CloudEvent<{ received: string }>;
        assert.equal(reply.type, "com.example.order.created.received", mode);
        assert.equal(reply.id, "o-7-reply");
        assert.equal(reply.source, "/sure/functions/event-reply");
        assert.deepEqual(reply.data, {
          received: "com.example.order.created",
          from: "/shop",
          bytes: 8,
        });
        // Binary in, binary out (ce-* headers); structured in, structured out.
        if (mode === Mode.BINARY) assert.equal(headers["ce-type"], reply.type);
        else assert.match(headers["content-type"], /^application\/cloudevents\+json/);
      }
      // Not an event: the function says so itself.
      const res = await fetch(`${node.url}/invoke/event-reply`, { method: "POST", body: "x" });
      assert.equal(res.status, 400);
      await res.body?.cancel();
    } finally {
      await node.close();
    }
  },
});
