/**
 * Containment: every fault of the fixture function answers 502 with the right
 * exception, a loop answers 504 after the function's timeout, the function
 * keeps serving afterwards, and nothing leaks over many such cycles.
 */
import assert from "node:assert/strict";
import { stats } from "../ffi/mod.ts";
import {
  deployForm,
  emptyVmsSettled,
  faultyImage,
  hasKvm,
  resourceCounts,
  startTestNode,
  type TestNode,
  waitFor,
} from "./helpers.ts";

/** Short, for the tests that wait for a loop to time out. */
const TIMEOUT_MS = 300;
/** Generous, where only faults are expected: a loaded CI machine must not turn them into 504s. */
const FAULT_TIMEOUT_MS = 5000;

async function deployFaulty(
  node: TestNode,
  name = "faulty",
  timeout = TIMEOUT_MS,
): Promise<void> {
  const res = await fetch(`${node.url}/admin/functions`, {
    method: "POST",
    body: deployForm({ name, image: await faultyImage(), timeout }),
  });
  assert.ok(res.status === 201 || res.status === 200, await res.clone().text());
  await res.body?.cancel();
}

async function invoke(node: TestNode, body: string, name = "faulty") {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body });
  return { status: res.status, text: await res.text() };
}

/** A request the fixture answers normally. */
async function assertServes(node: TestNode, after: string) {
  const r = await invoke(node, "hello");
  assert.equal(r.status, 200, `after ${after}: ${r.text}`);
}

const FAULTS: [string, number, string][] = [
  ["null", 14, "#PF"],
  ["ud2", 6, "#UD"],
  ["stack", 14, "#PF"],
  ["writecode", 14, "#PF"],
  ["execdata", 14, "#PF"],
];

Deno.test({
  name: "faults: each fault answers 502 with its vector and the function keeps serving",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFaulty(node, "faulty", FAULT_TIMEOUT_MS);
      await assertServes(node, "deploy");
      for (const [body, vector, name] of FAULTS) {
        const r = await invoke(node, body);
        assert.equal(r.status, 502, `${body}: ${r.text}`);
        const err = JSON.parse(r.text);
        assert.equal(err.error, "function_fault", body);
        assert.equal(err.function, "faulty");
        assert.equal(err.fault.kind, "exception", body);
        assert.equal(err.fault.vector, vector, `${body}: ${r.text}`);
        assert.equal(err.fault.name, name, body);
        assert.match(err.fault.rip, /^0x[0-9a-f]+$/);
        assert.match(err.fault.address, /^0x[0-9a-f]+$/);
        assert.equal(typeof err.requestId, "string");
        assert.equal(typeof err.message, "string");
        if (body === "null") assert.equal(err.fault.address, "0x0");
        await assertServes(node, body);
      }
      const deaths = node.records.filter((r) => r.msg.startsWith("instance died"));
      assert.equal(deaths.length, FAULTS.length);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "faults: a loop answers 504 after the function's timeout",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFaulty(node);
      const t0 = performance.now();
      const r = await invoke(node, "loop");
      const elapsed = performance.now() - t0;
      assert.equal(r.status, 504, r.text);
      const err = JSON.parse(r.text);
      assert.equal(err.error, "function_timeout");
      assert.equal(err.function, "faulty");
      assert.equal(err.timeoutMs, TIMEOUT_MS);
      assert.ok(elapsed >= TIMEOUT_MS - 5, `answered after ${elapsed} ms`);
      assert.ok(elapsed < TIMEOUT_MS + 2000, `answered after ${elapsed} ms`);
      await assertServes(node, "loop");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "faults: no threads, fds or VMs leak over fault/timeout/destroy cycles",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      // One round of everything first, so the thread pool and caches are warm.
      const cycle = async (i: number) => {
        await deployFaulty(node, "leaky");
        const [body] = FAULTS[i % FAULTS.length];
        assert.equal((await invoke(node, body, "leaky")).status, 502);
        if (i % 5 === 0) assert.equal((await invoke(node, "loop", "leaky")).status, 504);
        assert.equal((await invoke(node, "hello", "leaky")).status, 200);
        const res = await fetch(`${node.url}/admin/functions/leaky`, { method: "DELETE" });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      };
      await cycle(0);
      await settle();
      await emptyVmsSettled();
      const before = { ...resourceCounts(), ...stats() };
      assert.equal(before.instances, 0);

      for (let i = 1; i <= 20; i++) await cycle(i);
      await settle();
      // The Deno blocking pool keeps idle threads alive for a while: wait for
      // the count to come back rather than compare a moment in between.
      await waitFor(() => resourceCounts().sureThreads <= before.sureThreads, 15_000);
      await emptyVmsSettled();
      const after = { ...resourceCounts(), ...stats() };
      assert.deepEqual(
        {
          instances: after.instances,
          vcpuThreads: after.vcpuThreads,
          guestBytes: after.guestBytes,
        },
        { instances: 0, vcpuThreads: 0, guestBytes: 0 },
      );
      // Sockets of keep-alive connections come and go with the HTTP client.
      assert.equal(
        after.nonSocketFds,
        before.nonSocketFds,
        `fds ${before.nonSocketFds} -> ${after.nonSocketFds} (sockets not counted)`,
      );
      assert.ok(
        after.sureThreads <= before.sureThreads,
        `libsure threads ${before.sureThreads} -> ${after.sureThreads}`,
      );
    } finally {
      await node.close();
    }
  },
});

/** Waits until libsure has no instance left (pools drain in the background). */
async function settle() {
  assert.ok(await waitFor(() => stats().instances === 0, 10_000), "instances did not go away");
}
