/**
 * Request-level data isolation on real KVM: where the VMs have protection
 * keys a chain may ask for it, each request in flight gets a key of its own
 * (its share of the pool and its head block), and a step that reads another
 * request's share (the `peek` fixture) faults with the PK bit while every
 * other request is answered. Without keys the node refuses such a chain
 * (409), as on a host without PKU.
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
import { assertPoolFull, chain, invoke, text } from "./chain_helpers.ts";

const SPEC = {
  name: "iso",
  steps: ["peek", "upper"],
  isolation: "request",
  maxBody: 65536,
  // A multiple of 11 shares: past the last share come the head blocks, so
  // whatever slot "peek" holds, the next share is another request's key.
  pool: { buffers: 2200, bufferSize: 4096 },
};

async function withNode(fn: (node: TestNode) => Promise<void>) {
  const node = await startTestNode();
  try {
    await deployFunction(node, "peek", await buildImage("tests/fixtures/functions/peek"));
    await deployFunction(node, "upper", await buildImage("functions/upper"));
    await fn(node);
  } finally {
    await node.close();
  }
}

Deno.test({
  name: "request isolation: a step reading a request it does not hold faults; the rest is served " +
    "(where the VMs have protection keys; elsewhere the chain is refused)",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      const health = await (await fetch(`${node.url}/healthz`)).json();
      assert.equal(health.isolation.requestLevel, hasGuestPku);
      if (!hasGuestPku) {
        assert.equal((await chain(node, SPEC, 409)).error, "isolation_unavailable");
        return;
      }
      await chain(node, SPEC);
      const ok = await invoke(node, "iso", "hello");
      assert.equal(ok.status, 200, text(ok.bytes));
      assert.equal(text(ok.bytes), "HELLO");
      // More at once than there are keys: each is answered, or refused with
      // 503 while all 11 are in flight; none sees another's bytes.
      const many = await Promise.all(
        Array.from({ length: 24 }, (_, i) => invoke(node, "iso", `req ${i}`)),
      );
      for (const [i, r] of many.entries()) {
        if (r.status === 503) continue;
        assert.equal(r.status, 200, text(r.bytes));
        assert.equal(text(r.bytes), `REQ ${i}`);
      }
      assert.ok(many.some((r) => r.status === 200));
      // The next share is another slot's (or, past the last, slot 0's head block).
      const peek = await invoke(node, "iso", "peek");
      assert.equal(peek.status, 502, text(peek.bytes));
      const err = JSON.parse(text(peek.bytes));
      assert.equal(err.error, "function_fault");
      assert.equal(err.function, "peek");
      assert.equal(err.fault.vector, 14);
      assert.equal(err.fault.errorCode & 0x20, 0x20, JSON.stringify(err.fault)); // the PK bit
      const after = await invoke(node, "iso", "still here");
      assert.equal(after.status, 200, text(after.bytes));
      assert.equal(text(after.bytes), "STILL HERE");
      const s = await assertPoolFull(node, "iso");
      assert.equal(s.pool.slotsInFlight, 0);
    });
  },
});

Deno.test({
  name: "request isolation: refused (409) where the VMs have no protection keys; " +
    "a pool too small for 11 shares is a 400",
  ignore: !hasKvm,
  fn: () =>
    withoutGuestKeys(() =>
      withNode(async (node) => {
        const health = await (await fetch(`${node.url}/healthz`)).json();
        assert.equal(health.isolation.requestLevel, false);
        const r = await chain(node, SPEC, 409);
        assert.equal(r.error, "isolation_unavailable");
        const small = await chain(node, { ...SPEC, name: "small", maxBody: 1 << 20 }, 400);
        assert.match(JSON.stringify(small), /1\/11 of the pool/);
      })
    ),
});
