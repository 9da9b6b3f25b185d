/** The scheduler and its instance groups on real KVM (group_test.ts: the same logic, fake VMs). */
import assert from "node:assert/strict";
import { stats } from "../../ffi/mod.ts";
import { echoImage, faultyImage, hasKvm, waitFor } from "../../tests/helpers.ts";
import {
  FunctionTimeoutError,
  KvmUnavailableError,
  NotFoundError,
  OverloadedError,
} from "../errors.ts";
import { memoryLogger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import { Scheduler } from "./scheduler.ts";
import { defaultSettings } from "../settings/settings.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function dep(name: string, timeout = 300, scaling: Partial<Deployment> = {}): Deployment {
  const now = new Date().toISOString();
  return {
    ...defaultSettings(),
    ...scaling,
    name,
    digest: "0".repeat(64),
    env: {},
    secrets: [],
    size: 0,
    memory: 16,
    timeout,
    maxBody: 1024,
    createdAt: now,
    updatedAt: now,
    ...scaling,
  };
}

Deno.test({
  name: "scheduler: warm instance at deploy, FIFO queue, overload beyond the queue",
  ignore: !hasKvm,
  async fn() {
    const { logger } = memoryLogger();
    const s = new Scheduler({ kvm: { available: true }, logger, maxQueue: 1 });
    try {
      s.deploy(dep("f", 300, { maxInstances: 1 }), await faultyImage());
      assert.ok(await waitFor(() => s.instances === 1), "no warm instance");

      const looping = s.invoke("f", enc.encode("loop"), "r1");
      const queued = s.invoke("f", enc.encode("hello"), "r2");
      assert.equal(s.group("f").queued, 1);
      await assert.rejects(() => s.invoke("f", enc.encode("hello"), "r3"), OverloadedError);
      await assert.rejects(looping, FunctionTimeoutError);
      // The queued request is served by the replacement of the dead instance.
      assert.equal((await queued).status, 200);
      assert.equal(s.instances, 1);
    } finally {
      await s.close();
    }
    assert.equal(s.instances, 0);
  },
});

Deno.test({
  name: "scheduler: concurrent requests share a bounded instance group and all get their answers",
  ignore: !hasKvm,
  async fn() {
    const { logger } = memoryLogger();
    const s = new Scheduler({ kvm: { available: true }, logger });
    try {
      s.deploy(dep("echo", 2000, { maxInstances: 2 }), await echoImage());
      const bodies = Array.from({ length: 12 }, (_, i) => `req-${i}`);
      const answers = await Promise.all(
        bodies.map((b, i) => s.invoke("echo", enc.encode(b), `r${i}`)),
      );
      assert.deepEqual(answers.map((a) => dec.decode(a.body)), bodies);
      assert.ok(s.instances <= 2);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "scheduler: an update drains the old instance group after its in-flight request",
  ignore: !hasKvm,
  async fn() {
    const { logger } = memoryLogger();
    const base = stats().instances;
    const s = new Scheduler({ kvm: { available: true }, logger });
    try {
      s.deploy(dep("f"), await faultyImage());
      assert.ok(await waitFor(() => s.instances === 1));
      const inFlight = s.invoke("f", enc.encode("loop"), "old");
      // Replace while the old instance is busy: the old request is still answered.
      s.deploy(dep("f", 1000), await echoImage());
      await assert.rejects(inFlight, FunctionTimeoutError);
      assert.equal(dec.decode((await s.invoke("f", enc.encode("new"), "n")).body), "new");
      assert.ok(await waitFor(() => s.instances === 1), `instances: ${s.instances}`);
      // Teardown runs on Deno's blocking threads: wait for it rather than race it.
      assert.ok(await waitFor(() => stats().instances === base + 1), `${stats().instances}`);
    } finally {
      await s.close();
    }
    assert.equal(stats().instances, base);
  },
});

Deno.test("scheduler: unknown function is 404; without KVM invocations are 503", async () => {
  const { logger } = memoryLogger();
  const s = new Scheduler({ kvm: { available: false, reason: "testing" }, logger });
  assert.throws(() => s.invoke("nope", new Uint8Array(0), "r"), NotFoundError);
  s.deploy(dep("f"), new Uint8Array(0));
  assert.equal(s.instances, 0, "no warm instance without KVM");
  assert.throws(() => s.invoke("f", new Uint8Array(0), "r"), KvmUnavailableError);
  await s.close();
});
