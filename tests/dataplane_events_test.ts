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

Deno.test({
  name: "folded answers: one event per kind of answer, with its count, sum and buckets",
  sanitizeResources: false,
  async fn() {
    const { dp, ids } = start({ busy: false, other: false, cold: true });
    let waiting: Promise<unknown> | undefined;
    try {
      // Bounds that no answer here falls below or past: 1 ns and a minute.
      dp.foldDone([1e-9, 60]);
      for (let i = 0; i < 5; i++) assert.equal(await post(dp.port, "busy"), 503);
      for (let i = 0; i < 2; i++) assert.equal(await post(dp.port, "other"), 503);
      for (let i = 0; i < 3; i++) assert.equal(await post(dp.port, "busy"), 503);
      // Another event ends the run: the answers after it are folded apart.
      waiting = post(dp.port, "cold").catch(() => {});
      while (dp.stats().queued === 0) await new Promise((r) => setTimeout(r, 5));
      const need = await dp.events(0);
      assert.deepEqual(need.map((e) => e.kind), ["done", "done", "need"]);
      const [busy, other] = need;
      assert.ok(busy.kind === "done" && other.kind === "done");
      assert.equal(busy.route, ids.busy);
      assert.equal(busy.count, 8);
      assert.deepEqual(busy.buckets, [0, 8, 0]);
      assert.ok(busy.seconds > 0 && busy.seconds < 8 * 60);
      assert.equal(busy.requestId, "");
      assert.equal(other.route, ids.other);
      assert.equal(other.count, 2);
      assert.deepEqual(other.buckets, [0, 2, 0]);
      for (let i = 0; i < 4; i++) assert.equal(await post(dp.port, "busy"), 503);
      const after = await dp.events(60_000, 0);
      assert.equal(after.length, 1);
      assert.ok(after[0].kind === "done" && after[0].count === 4);
      // Off again: one event per request, with its ids.
      dp.foldDone(null);
      for (let i = 0; i < 2; i++) assert.equal(await post(dp.port, "busy"), 503);
      const plain = await dp.events(60_000, 0);
      await new Promise((r) => setTimeout(r, 50));
      plain.push(...await dp.events(0));
      assert.equal(plain.length, 2);
      for (const e of plain) {
        assert.ok(e.kind === "done" && e.count === 1 && e.buckets === undefined);
        assert.match(e.requestId, /./);
      }
      // Bad bounds are refused and change nothing.
      assert.throws(() => dp.foldDone([0.5, 0.5]), /EINVAL|invalid/i);
      assert.throws(
        () => dp.foldDone(new Array(25).fill(0).map((_, i) => i + 1)),
        /EINVAL|invalid/i,
      );
    } finally {
      await dp.stop(0);
      await waiting;
    }
  },
});

Deno.test({
  name: "the link folds answers only where no request log is written per request here",
  sanitizeResources: false,
  async fn() {
    for (const log of ["none", "js", "c"] as const) {
      const link = linkAnsweredInC("busy", { port: 0, eventLingerMs: 60_000 });
      try {
        const seen: InvocationOutcome[] = [];
        const logged: InvocationOutcome[] = [];
        link.observe((o) => seen.push(o));
        link.foldAnswers([0.001, 1]);
        if (log !== "none") link.logRequests((o) => logged.push(o), log === "c");
        link.listen();
        for (let i = 0; i < 10; i++) assert.equal(await post(link.port, "busy"), 503);
        await link.settled();
        const total = seen.reduce((n, o) => n + (o.count ?? 1), 0);
        assert.equal(total, 10, log);
        if (log === "js") {
          // Each request is its own outcome, with its id, for the log line.
          assert.equal(seen.length, 10);
          assert.equal(logged.length, 10);
          assert.ok(logged.every((o) => o.requestId !== "" && o.count === undefined));
        } else {
          assert.ok(seen.length < 10, `${log}: ${seen.length} outcomes`);
          assert.equal(logged.length, 0);
          for (const o of seen) {
            assert.equal(o.buckets?.length, 3);
            assert.equal(o.buckets?.reduce((a, b) => a + b, 0), o.count);
          }
        }
      } finally {
        await link.close(0);
      }
    }
  },
});
