/**
 * How the control plane reads what libsure's data plane answered: in batches
 * while the node is busy (one wake-up per batch, not per request), at once
 * for anything that is not an answer (an instance is needed), and completely
 * before a read of the metrics (settled). No VM: the routes have no instance
 * and may not start one, so C answers every request itself (503) and reports
 * it, or (may start one) asks for an instance.
 */
import assert from "node:assert/strict";
import { Dataplane, type RouteSettings } from "../ffi/dataplane.ts";
import { linkAnsweredInC } from "../bench/lib/c_answered.ts";
import type { InvocationOutcome } from "../runtime/middleware/invocations.ts";

const route = (name: string, canStart: boolean): RouteSettings => ({
  name,
  maxBody: 1024,
  timeoutMs: 1000,
  deadlineMs: 0,
  maxQueue: canStart ? 8 : 0,
  maxInstances: 1,
  targetConcurrency: 1,
  concurrencyLimit: 0,
  canStart,
  isPrivate: false,
});

/** A data plane with the routes of canStart (name: may start an instance), open. */
function start(routes: Record<string, boolean>): { dp: Dataplane; ids: Record<string, number> } {
  const dp = Dataplane.start({ host: "127.0.0.1", port: 0, upstream: "/nonexistent.sock" });
  const ids: Record<string, number> = {};
  for (const [name, canStart] of Object.entries(routes)) {
    ids[name] = dp.route(route(name, canStart));
  }
  dp.open();
  return { dp, ids };
}

async function post(port: number, name: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/invoke/${name}`, { method: "POST", body: "x" });
  await r.body?.cancel();
  return r.status;
}

Deno.test({
  name: "answers are read in batches while busy; a kick ends the wait",
  sanitizeResources: false,
  async fn() {
    const { dp } = start({ busy: false });
    try {
      // Idle: the first answer comes on its own, at once.
      const first = dp.events(60_000, 60_000);
      assert.equal(await post(dp.port, "busy"), 503);
      assert.deepEqual((await first).map((e) => e.kind), ["done"]);
      // Busy (the last read just returned): the next read gathers the answers
      // that follow, however many come, until the kick.
      const next = dp.events(60_000, 60_000);
      for (let i = 0; i < 20; i++) assert.equal(await post(dp.port, "busy"), 503);
      dp.kickEvents();
      const batch = await next;
      assert.equal(batch.length, 20);
      assert.ok(batch.every((e) => e.kind === "done" && e.status === 503));
      // Nothing is left, and a kick with no reader ends the next read at once.
      dp.kickEvents();
      assert.deepEqual(await dp.events(60_000, 60_000), []);
      assert.deepEqual(await dp.events(0, 60_000), []);
    } finally {
      await dp.stop(0);
    }
  },
});

Deno.test({
  name: "an event that is not an answer ends the gathering at once",
  sanitizeResources: false,
  async fn() {
    const { dp, ids } = start({ busy: false, cold: true });
    try {
      assert.equal(await post(dp.port, "busy"), 503);
      assert.equal((await dp.events(60_000, 0)).length, 1);
      // Lingering for a minute after the next answer...
      const next = dp.events(60_000, 60_000);
      assert.equal(await post(dp.port, "busy"), 503);
      // ...until a request waits for an instance: "need" goes out at once.
      // (Its failure, once stop() cuts it, is expected: caught from the start.)
      let coldFailed: unknown;
      const waiting = post(dp.port, "cold").catch((e) => coldFailed = e);
      const t0 = performance.now();
      const batch = await next;
      const ms = performance.now() - t0;
      assert.deepEqual(batch.map((e) => e.kind), ["done", "need"], `cold: ${coldFailed}`);
      assert.equal(batch[1].route, ids.cold);
      assert.ok(ms < 30_000, `need waited ${ms} ms`);
      await dp.stop(0);
      await waiting;
    } finally {
      await dp.stop(0);
    }
  },
});

Deno.test({
  name: "settled(): every answer before it has reached the observers",
  sanitizeResources: false,
  async fn() {
    // A linger far longer than the test: only settled() can make them seen.
    const link = linkAnsweredInC("busy", { port: 0, eventLingerMs: 60_000 });
    try {
      const seen: InvocationOutcome[] = [];
      link.observe((o) => seen.push(o));
      link.listen();
      for (let round = 1; round <= 3; round++) {
        for (let i = 0; i < 10; i++) assert.equal(await post(link.port, "busy"), 503);
        await link.settled();
        assert.equal(seen.length, 10 * round);
        assert.ok(
          seen.every((o) => o.name === "busy" && o.status === 503 && o.kind === "overloaded"),
        );
      }
    } finally {
      await link.close(0);
    }
  },
});
