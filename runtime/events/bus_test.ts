/**
 * The event sink's delivery logic on a real Deno KV file and its real
 * queue, with a fake `deliver` in place of the node's app: fan-out to the
 * matching triggers only, no second delivery of a repeated id+source,
 * retries with backoff then a dead letter, replay and discard, and events
 * accepted before a restart delivered after it.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../log.ts";
import { TriggerStore } from "../store/triggers.ts";
import { waitFor } from "../../tests/helpers.ts";
import { type CloudEvent, fromBinary } from "./cloudevents.ts";
import { EventBus } from "./bus.ts";
import type { Deliver } from "./post.ts";
import { K } from "./records.ts";

const enc = new TextEncoder();

function event(id: string, type = "com.example.a", source = "/a/1"): CloudEvent {
  return {
    attributes: { specversion: "1.0", id, source, type, datacontenttype: "text/plain" },
    data: enc.encode(`payload ${id}`),
  };
}

interface Seen {
  fn: string;
  id: string;
  data: string;
}

async function open(path: string, deliver: Deliver, options = {}) {
  const kv = await Deno.openKv(path);
  const triggers = new TriggerStore(kv);
  const bus = new EventBus({
    kv,
    triggers: (type, source) => triggers.matching(type, source),
    deliver,
    logger: memoryLogger().logger,
    options: { retryBaseMs: 20, retryMaxMs: 100, ...options },
  });
  return {
    kv,
    triggers,
    bus,
    async close() {
      await bus.close();
      kv.close();
    },
  };
}

/** A deliver that records what it got and answers with `status(fn)`. */
function recorder(status: (fn: string) => number = () => 200) {
  const seen: Seen[] = [];
  const deliver: Deliver = async (req) => {
    const fn = new URL(req.url).pathname.split("/")[2];
    const ev = fromBinary(req.headers, new Uint8Array(await req.arrayBuffer()));
    seen.push({ fn, id: ev.attributes.id, data: new TextDecoder().decode(ev.data) });
    return new Response("x", { status: status(fn) });
  };
  return { seen, deliver };
}

async function tempKv(): Promise<string> {
  return `${await Deno.makeTempDir({ prefix: "sure-events-" })}/state.kv`;
}

async function count(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

Deno.test("events bus: each event goes to every matching trigger, once", async () => {
  const { seen, deliver } = recorder();
  const t = await open(await tempKv(), deliver);
  try {
    await t.triggers.add({ type: "com.example.a", function: "one" });
    await t.triggers.add({ type: "com.example.a", sourcePrefix: "/a/", function: "two" });
    await t.triggers.add({ type: "com.example.a", sourcePrefix: "/b/", function: "three" });
    await t.triggers.add({ type: "com.example.b", function: "four" });
    t.bus.listen();
    const acc = await t.bus.accept([event("1"), event("2", "com.example.b", "/b/9")]);
    assert.deepEqual(acc.map((a) => a.duplicate), [false, false]);
    assert.ok(await waitFor(() => seen.length === 3), JSON.stringify(seen));
    assert.deepEqual(
      seen.map((s) => `${s.fn}:${s.id}`).sort(),
      ["four:2", "one:1", "two:1"],
    );
    assert.equal(seen.find((s) => s.fn === "four")!.data, "payload 2");
    // The same id and source again: accepted as a duplicate, not delivered.
    const again = await t.bus.accept([event("1")]);
    assert.equal(again[0].duplicate, true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seen.length, 3);
    // Nothing is left behind once every delivery succeeded.
    assert.equal(await count(t.kv, ["events", "event"]), 0);
    assert.equal((await t.bus.pending()).length, 0);
  } finally {
    await t.close();
  }
});

Deno.test("events bus: failures retry with backoff, then a dead letter; replay and discard", async () => {
  let failing = true;
  const times: number[] = [];
  const { seen, deliver } = recorder(() => (failing ? 500 : 200));
  const timed: Deliver = (req) => {
    times.push(performance.now());
    return deliver(req);
  };
  const t = await open(await tempKv(), timed, { maxAttempts: 3 });
  try {
    await t.triggers.add({ type: "com.example.a", function: "bad" });
    t.bus.listen();
    await t.bus.accept([event("7")]);
    let dead: Awaited<ReturnType<typeof t.bus.deadLetters>> = [];
    const end = Date.now() + 5000;
    while (dead.length === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      dead = await t.bus.deadLetters();
    }
    assert.equal(dead.length, 1);
    assert.equal(seen.length, 3);
    assert.equal(dead[0].attempts, 3);
    assert.equal(dead[0].lastStatus, 500);
    assert.match(dead[0].lastError!, /^HTTP 500/);
    assert.equal(dead[0].function, "bad");
    assert.equal(dead[0].attributes.id, "7");
    // Backoff: 20 ms then 40 ms (the queue's delay is a lower bound).
    assert.ok(times[1] - times[0] >= 15, `${times[1] - times[0]}`);
    assert.ok(times[2] - times[1] >= 35, `${times[2] - times[1]}`);
    assert.deepEqual([t.bus.backoff(1), t.bus.backoff(2), t.bus.backoff(5)], [20, 40, 100]);

    failing = false;
    assert.equal(await t.bus.replay(dead[0].id), true);
    assert.ok(await waitFor(() => seen.length === 4));
    assert.equal(seen[3].data, "payload 7");
    assert.equal((await t.bus.deadLetters()).length, 0);
    assert.equal(await t.bus.replay(dead[0].id), false);

    // A second dead letter, discarded: its event record goes with it.
    failing = true;
    await t.bus.accept([event("8")]);
    const end2 = Date.now() + 5000;
    while ((await t.bus.deadLetters()).length === 0 && Date.now() < end2) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const [d8] = await t.bus.deadLetters();
    assert.equal(d8.attributes.id, "8");
    assert.equal(await t.bus.discard(d8.id), true);
    assert.equal(await t.bus.discard(d8.id), false);
    assert.equal(await count(t.kv, ["events", "event"]), 0);
    assert.equal(await count(t.kv, ["events", "refs"]), 0);
  } finally {
    await t.close();
  }
});

Deno.test("events bus: a thrown deliver counts as a failed attempt", async () => {
  let calls = 0;
  const t = await open(await tempKv(), () => {
    calls++;
    return Promise.reject(new Error("connection refused"));
  }, { maxAttempts: 2 });
  try {
    await t.triggers.add({ type: "com.example.a", function: "gone" });
    t.bus.listen();
    await t.bus.accept([event("1")]);
    const end = Date.now() + 5000;
    while ((await t.bus.deadLetters()).length === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const [d] = await t.bus.deadLetters();
    assert.equal(calls, 2);
    assert.equal(d.lastStatus, undefined);
    assert.equal(d.lastError, "connection refused");
  } finally {
    await t.close();
  }
});

Deno.test("events bus: events accepted before a restart are delivered after it", async () => {
  const path = await tempKv();
  const first = recorder();
  const before = await open(path, first.deliver);
  await before.triggers.add({ type: "com.example.a", function: "later" });
  // Not listening: the node stops with the events still on the queue.
  await before.bus.accept([event("1"), event("2")]);
  await before.close();
  assert.equal(first.seen.length, 0);

  const second = recorder();
  const after = await open(path, second.deliver);
  try {
    after.bus.listen();
    assert.ok(await waitFor(() => second.seen.length === 2, 10_000));
    assert.deepEqual(second.seen.map((s) => s.id).sort(), ["1", "2"]);
    // Accepted before the restart: still a duplicate after it.
    assert.equal((await after.bus.accept([event("1")]))[0].duplicate, true);
  } finally {
    await after.close();
  }
});

Deno.test("events bus: a delivery running when the node stops finishes first", async () => {
  let release!: () => void;
  const started = Promise.withResolvers<void>();
  const t = await open(await tempKv(), async () => {
    started.resolve();
    await new Promise<void>((r) => release = r);
    return new Response(null, { status: 204 });
  });
  await t.triggers.add({ type: "com.example.a", function: "slow" });
  t.bus.listen();
  await t.bus.accept([event("1")]);
  await started.promise;
  const closed = t.bus.close();
  release();
  await closed;
  assert.equal((await t.bus.pending()).length, 0);
  assert.equal(await count(t.kv, K.deliveries), 0);
  t.kv.close();
});

Deno.test("events bus: data that is a view of a larger buffer stores only its bytes", async () => {
  const t = await open(await tempKv(), recorder().deliver);
  try {
    const big = new Uint8Array(100 * 1024);
    const ev = event("v");
    ev.data = big.subarray(0, 5);
    const [a] = await t.bus.accept([ev]);
    assert.equal(a.duplicate, false);
  } finally {
    await t.close();
  }
});

Deno.test("events bus: a message that arrives while stopping is kept for the next start", async () => {
  const path = await tempKv();
  const first = recorder();
  const t = await open(path, first.deliver);
  await t.triggers.add({ type: "com.example.a", function: "fn" });
  await t.bus.close(); // stopping, but the queue still hands out messages until KV closes
  t.bus.listen();
  await t.bus.accept([event("1")]);
  await new Promise((r) => setTimeout(r, 300));
  t.kv.close();
  assert.equal(first.seen.length, 0);
  const second = recorder();
  const again = await open(path, second.deliver);
  try {
    again.bus.listen();
    assert.ok(await waitFor(() => second.seen.length === 1, 10_000));
  } finally {
    await again.close();
  }
});
