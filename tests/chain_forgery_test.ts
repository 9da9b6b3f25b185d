/**
 * Hostile chain steps on real KVM, one class of attack each, with the
 * `chain-forge` fixture deployed as the text-router's `hexdump` step (so
 * text goes route-text -> upper and never passes it):
 * - every ring and node page a step does not own is out of its reach: each
 *   write (and each read of a ring it neither feeds nor drains) faults in
 *   that step, and only there;
 * - descriptors for requests it never held, with guessed or copied
 *   capabilities, to every next hop it has, complete nothing and fail
 *   nothing: the node stops the forger and every other request is answered;
 * - reports of bogus descriptors it never received stop nobody;
 * - a step that answers by hand and then never sleeps again is stopped and
 *   restarted, so it burns no CPU with nothing to do;
 * - a step that writes its own ring tail, to any value, holds up only its own
 *   requests: behind the head it reads stale entries and serves on; past it,
 *   it runs on with nothing live to do and is stopped like any runaway (the
 *   host judges "nothing to do" by the requests it can prove are queued or
 *   held, never by the tail);
 * - a step that hands on without ringing the next step's WAKE (what a step
 *   whose control page says defer_wake does) and then never sleeps holds up
 *   that request for a tick of the node's, not for as long as it runs.
 * That is the node's own defence, all there is where guests have no
 * protection keys, so these run with guest keys off; where guests have keys
 * the rings, node pages and the chain's table are the gate's alone, and the
 * last test checks that a step touching any of them faults.
 */
import assert from "node:assert/strict";
import {
  buildImage,
  deployFunction,
  hasGuestPku,
  hasKvm,
  startTestNode,
  type TestNode,
  withoutGuestKeys,
} from "./helpers.ts";
import { assertPoolFull, chain, invoke, stats, text } from "./chain_helpers.ts";

const GW = 16; // SURE_NODE_GW: steps are 0 (route-text), 1 (upper), 2 (the forger)

async function withGuardedChain(
  fn: (node: TestNode) => Promise<void>,
  withKeys = false,
): Promise<void> {
  if (!withKeys) return withoutGuestKeys(() => withGuardedChain(fn, true));
  const node = await startTestNode();
  try {
    for (const f of ["route-text", "upper"]) {
      await deployFunction(node, f, await buildImage(`functions/${f}`));
    }
    await deployFunction(node, "hexdump", await buildImage("tests/fixtures/functions/chain-forge"));
    await chain(node, {
      name: "guarded",
      steps: ["route-text", "upper", "hexdump"],
      routes: { "route-text": ["upper", "hexdump"], upper: [], hexdump: ["upper"] },
      // The forger spins until other requests are in flight (up to 30 s): on a
      // loaded, emulated machine that can take longer than the default 5 s.
      timeout: 60000,
    });
    await fn(node);
  } finally {
    await node.close();
  }
}

/** Waits (up to 30 s) until the forger has been stopped as a runaway, once. */
async function untilStopped(node: TestNode) {
  const t0 = performance.now();
  let s = await stats(node, "guarded");
  while (s.runaways === 0 && performance.now() - t0 < 30_000) {
    await new Promise((r) => setTimeout(r, 200));
    s = await stats(node, "guarded");
  }
  assert.equal(s.runaways, 1, JSON.stringify(s));
}

async function assertServes(node: TestNode) {
  const r = await invoke(node, "guarded", "still here");
  assert.equal(r.status, 200, text(r.bytes));
  assert.equal(text(r.bytes), "STILL HERE");
}

Deno.test({
  name: "chain forgery: rings and node pages a step does not own fault in that step only",
  ignore: !hasKvm,
  async fn() {
    await withGuardedChain(async (node) => {
      const faults = [
        // Writes: rings it does not produce (incoming ones included) ...
        `3 ${GW} 0`,
        "3 0 1",
        "3 0 2",
        `3 1 ${GW}`,
        `3 0 ${GW}`,
        "3 2 2",
        // ... reads of rings it neither produces nor consumes ...
        `4 ${GW} 0`,
        "4 0 1",
        `4 1 ${GW}`,
        // ... and writes to node pages not its own (read-only or absent).
        "5 0",
        "5 1",
        `5 ${GW}`,
      ];
      for (const attack of faults) {
        const r = await invoke(node, "guarded", attack);
        assert.equal(r.status, 502, `${attack}: ${text(r.bytes)}`);
        const err = JSON.parse(text(r.bytes));
        assert.equal(err.error, "function_fault", attack);
        assert.equal(err.function, "hexdump", attack);
        assert.equal(err.fault.vector, 14, attack);
        await assertServes(node);
      }
      // What it owns it may touch: its ring to upper, the ring into it, its page.
      for (const fine of ["3 2 1", "4 0 2", "5 2"]) {
        const r = await invoke(node, "guarded", fine);
        assert.equal(r.status, 200, `${fine}: ${text(r.bytes)}`);
      }
      const s = await assertPoolFull(node, "guarded");
      assert.equal(s.errors.fault, faults.length);
      assert.equal(s.descriptors.bogus, 0);
    });
  },
});

Deno.test({
  name: "chain forgery: a step that answers by hand, then runs on with nothing to do, is stopped " +
    "and restarted",
  ignore: !hasKvm,
  async fn() {
    await withGuardedChain(async (node) => {
      const r = await invoke(node, "guarded", "6");
      assert.equal(r.status, 200, text(r.bytes));
      assert.equal(text(r.bytes), "6");
      // Awake with nothing queued and nothing held: stopped after 2 s.
      const t0 = performance.now();
      await untilStopped(node);
      const ms = performance.now() - t0;
      assert.ok(ms >= 1500, `stopped after ${ms} ms`);
      // Restarted: it serves the next request that passes it, and the others go on.
      let again = await invoke(node, "guarded", "7");
      for (let k = 0; k < 50 && again.status !== 200; k++) {
        await new Promise((r) => setTimeout(r, 200));
        again = await invoke(node, "guarded", "7");
      }
      assert.equal(again.status, 200, text(again.bytes));
      assert.equal(text(again.bytes), "7");
      await assertServes(node);
      assert.equal((await stats(node, "guarded")).runaways, 1);
    });
  },
});

Deno.test({
  name: "chain forgery: a step that rewrites its own ring tail serves on or is stopped; " +
    "nothing else waits",
  ignore: !hasKvm,
  async fn() {
    // Behind the head by one, by a ring's worth and more; past it by one and by half the counter.
    const lies: [number, "serves" | "stopped"][] = [
      [2 ** 32 - 1, "serves"],
      [2 ** 32 - 1500, "serves"],
      [1, "stopped"],
      [2 ** 31, "stopped"],
    ];
    for (const [d, then] of lies) {
      await withGuardedChain(async (node) => {
        const r = await invoke(node, "guarded", `9 ${d}`);
        assert.equal(r.status, 200, `${d}: ${text(r.bytes)}`);
        await assertServes(node);
        if (then === "stopped") {
          await untilStopped(node);
        } else {
          // It caught up with the head: the next request that passes it is its.
          const again = await invoke(node, "guarded", "7");
          assert.equal(again.status, 200, `${d}: ${text(again.bytes)}`);
          assert.equal(text(again.bytes), "7");
          assert.equal((await stats(node, "guarded")).runaways, 0, String(d));
        }
        await assertServes(node);
        const s = await stats(node, "guarded");
        assert.equal(s.errors.fault + s.errors.bogus, 0, `${d}: ${JSON.stringify(s.errors)}`);
      });
    }
  },
});

Deno.test({
  name: "chain forgery: a hand-off that rings no WAKE, from a step that then never sleeps, is " +
    "delivered within a tick",
  ignore: !hasKvm,
  async fn() {
    await withGuardedChain(async (node) => {
      // The forger hands "8" to upper by hand, rings nothing, and spins on:
      // upper sleeps until the node wakes it (the data plane's 5 ms tick
      // wakes steps that sleep with work; the Hono path's waiter likewise),
      // long before the forger is stopped as a runaway (2 s).
      await assertServes(node);
      const t0 = performance.now();
      const r = await invoke(node, "guarded", "8");
      const ms = performance.now() - t0;
      assert.equal(r.status, 200, text(r.bytes));
      assert.equal(text(r.bytes), "8");
      assert.ok(ms < 1000, `delivered after ${ms} ms`);
      assert.equal((await stats(node, "guarded")).runaways, 0, "answered before any stop");
      // The forger is then stopped and restarted; the chain serves on.
      await untilStopped(node);
      await assertServes(node);
    });
  },
});

Deno.test({
  name: "chain forgery: forged descriptors complete and fail nothing; false reports stop nobody",
  ignore: !hasKvm,
  async fn() {
    await withGuardedChain(async (node) => {
      // The forger waits for other requests to be in flight; keep some coming.
      const forger = invoke(node, "guarded", "1");
      let done = false;
      forger.finally(() => done = true);
      const innocent: Promise<{ status: number; bytes: Uint8Array }>[] = [];
      for (let i = 0; !done && i < 400; i++) {
        const batch = Array.from(
          { length: 8 },
          (_, k) => invoke(node, "guarded", `hello ${i} ${k}`),
        );
        innocent.push(...batch);
        await Promise.all(batch);
      }
      const f = await forger;
      assert.equal(f.status, 502, text(f.bytes)); // the forger itself is stopped ...
      assert.equal(JSON.parse(text(f.bytes)).function, "hexdump");
      for (const r of await Promise.all(innocent)) { // ... and nothing else is
        assert.equal(r.status, 200, text(r.bytes));
        assert.match(text(r.bytes), /^HELLO \d+ \d$/);
      }
      let s = await assertPoolFull(node, "guarded");
      assert.ok(s.descriptors.bogus >= 1, JSON.stringify(s.descriptors));
      // One request failed: the forger's own, when the node stopped it.
      assert.equal(s.errors.fault + s.errors.bogus + s.errors.timeout, 1, JSON.stringify(s.errors));
      // A forged descriptor for a request that finished before the node read
      // it is stale by then: unconfirmed, which stops nobody either.
      const before = s.descriptors.unconfirmed;

      // Reports of a good descriptor, of a ring that does not feed it and of
      // a step that does not exist: nobody is stopped, its request answers.
      const r = await invoke(node, "guarded", "2");
      assert.equal(r.status, 200, text(r.bytes));
      assert.equal(text(r.bytes), "2");
      s = await assertPoolFull(node, "guarded");
      assert.equal(s.descriptors.unconfirmed, before + 3);
      await assertServes(node);
    });
  },
});

Deno.test({
  name: "chain forgery: where guests have protection keys, the chain's table, rings and node " +
    "pages fault for the function, even its own (without them, its own are its own)",
  ignore: !hasKvm,
  async fn() {
    await withGuardedChain(async (node) => {
      // What it owns without keys (its ring to upper, the ring into it, its
      // page) is the gate's too: the fixture's first read of the table faults.
      for (const attack of ["3 2 1", "4 0 2", "5 2"]) {
        const r = await invoke(node, "guarded", attack);
        if (!hasGuestPku) {
          assert.equal(r.status, 200, `${attack}: ${text(r.bytes)}`);
          continue;
        }
        assert.equal(r.status, 502, `${attack}: ${text(r.bytes)}`);
        const err = JSON.parse(text(r.bytes));
        assert.equal(err.error, "function_fault", attack);
        assert.equal(err.function, "hexdump", attack);
        assert.equal(err.fault.vector, 14, attack);
        assert.equal(err.fault.errorCode & 0x20, 0x20, attack); // the PK bit
        assert.match(err.message, /protection-key fault/);
        await assertServes(node);
      }
    }, true);
  },
});
