/**
 * Who the node stops when a chain request times out, on real KVM, where a
 * step lies about it. The node finds a request's holder in the rings: the
 * consumer of the latest hand-off carrying the request's capability. A step
 * that held the request keeps that capability; where guests have no
 * protection keys it writes its outgoing rings by hand, so it can put a
 * later-looking hand-off (hops = 255) into its ring to a sibling, behind the
 * sibling's tail (an entry the sibling took already and never reads again).
 * Believed alone, that made the sibling the holder: at the timeout the node
 * stopped the innocent sibling, failing what it held, and left the true
 * holder running. A hand-off that was taken now counts only where its
 * consumer says, in its own node page, that it holds the request
 * (sure_node_state.holding, libsure/src/chain_holder.c).
 *
 * The chain: liar (step 0) -> sibling (its default next) | holder; all three
 * are the `chain-forge` fixture, guest keys off (its attack "7").
 */
import assert from "node:assert/strict";
import {
  buildImage,
  deployFunction,
  hasKvm,
  startTestNode,
  type TestNode,
  withoutGuestKeys,
} from "./helpers.ts";
import { assertPoolFull, chain, invoke, text } from "./chain_helpers.ts";

const TIMEOUT_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withBlameChain(fn: (node: TestNode) => Promise<void>): Promise<void> {
  await withoutGuestKeys(async () => {
    const node = await startTestNode();
    try {
      const img = await buildImage("tests/fixtures/functions/chain-forge");
      for (const f of ["liar", "sibling", "holder"]) await deployFunction(node, f, img);
      await chain(node, {
        name: "blame",
        steps: ["liar", "sibling", "holder"],
        routes: { liar: ["sibling", "holder"], sibling: [], holder: [] },
        timeout: TIMEOUT_MS,
      });
      await fn(node);
    } finally {
      await node.close();
    }
  });
}

Deno.test({
  name: "chain blame: a step that held a request cannot have its sibling stopped for it; " +
    "the timeout stops the step that holds it",
  ignore: !hasKvm,
  async fn() {
    await withBlameChain(async (node) => {
      // "7 9 H" passes the liar (it is step 0, not 9) to the sibling, which
      // holds it H ms and answers. One such hand-off puts an entry the
      // sibling took into ring(liar -> sibling): the one the liar rewrites.
      const warm = await invoke(node, "blame", "7 9 0");
      assert.equal(warm.status, 200, text(warm.bytes));
      assert.equal(text(warm.bytes), "held 7 9 0");

      // The attack: the liar writes a copy of R's descriptor with hops = 255
      // behind the sibling's tail, then hands R to the holder, which holds it
      // for 60 s, far past the chain's timeout.
      const t0 = performance.now();
      const attack = invoke(node, "blame", "7 0 60000");
      // Half-way to R's timeout the sibling takes an innocent request, which
      // it holds across that timeout and answers within its own.
      await sleep(TIMEOUT_MS / 2);
      const innocent = invoke(node, "blame", "7 9 4000");

      const r = await attack;
      const rMs = performance.now() - t0;
      assert.equal(r.status, 504, text(r.bytes));
      assert.equal(JSON.parse(text(r.bytes)).error, "function_timeout");
      assert.ok(rMs < TIMEOUT_MS + 3000, `R answered after ${rMs} ms`);

      // What distinguishes the fix: with the liar's word believed, the node
      // stopped the sibling at R's timeout, and the request the sibling held
      // failed with it. Now the sibling is left alone and answers.
      const o = await innocent;
      assert.equal(o.status, 200, `the sibling's request: ${text(o.bytes)}`);
      assert.equal(text(o.bytes), "held 7 9 4000");

      // The holder was stopped at the timeout and restarted: it answers at
      // once (the old instance would spin on R for a minute). The liar's
      // rewrite for a request that completes costs nothing either.
      let sent = 3; // warm, the attack and the innocent one
      let again = await invoke(node, "blame", "7 0 0");
      for (sent++; sent < 50 && again.status !== 200; sent++) {
        await sleep(200);
        again = await invoke(node, "blame", "7 0 0");
      }
      assert.equal(again.status, 200, text(again.bytes));
      assert.equal(text(again.bytes), "held 7 0 0");
      const after = await invoke(node, "blame", "7 9 0");
      sent++;
      assert.equal(after.status, 200, text(after.bytes));
      assert.equal(text(after.bytes), "held 7 9 0");

      const s = await assertPoolFull(node, "blame");
      // One failure: R, by its timeout. No step faulted (the sibling's
      // request was not failed by a stop), none was judged to hand on a
      // bogus descriptor (the liar's is good: it held R), and none ran away:
      // the holder was stopped as R's holder, at its timeout, not later for
      // spinning with nothing the node believed it held (as it was when the
      // node believed the liar).
      assert.equal(s.errors.timeout, 1, JSON.stringify(s.errors));
      assert.equal(s.errors.fault + s.errors.bogus, 0, JSON.stringify(s.errors));
      assert.equal(s.descriptors.bogus, 0, JSON.stringify(s.descriptors));
      assert.equal(s.runaways, 0, JSON.stringify(s));
      // Handled (given back to the library): the liar every request; the
      // sibling its three, the innocent one included (2 when it was stopped
      // holding it); the holder only the one after the timeout (R was never
      // given back: its instance was stopped with it).
      const handled = s.steps.map((st: { handled: number } | null) => st?.handled);
      assert.deepEqual(handled, [sent, 3, 1], JSON.stringify(s.steps));
    });
  },
});
