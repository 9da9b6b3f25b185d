/** Instances on real KVM through libsure. */
import assert from "node:assert/strict";
import {
  Instance,
  probe,
  stats,
  SureBusyError,
  SureDeadError,
  SureFaultError,
  SureInvalidError,
  SureTimeoutError,
  SureTooBigError,
} from "./mod.ts";
import { echoImage, faultyImage, hasKvm } from "../tests/helpers.ts";
import { LIMITS } from "./abi.ts";
import { ioSlots } from "./io_slots.ts";
import { libsure } from "./libsure.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const OPTS = { memMib: 16, ioCap: 1 << 20 };

Deno.test("probe reports booleans and a reason when KVM is missing", () => {
  const caps = probe();
  assert.equal(typeof caps.kvm.available, "boolean");
  if (!caps.kvm.available) assert.ok(caps.kvm.reason);
  assert.equal(typeof caps.pku, "boolean");
  assert.equal(typeof caps.afxdp, "boolean");
});

Deno.test("the node reserves memory for the request slots libsure gives an instance", () => {
  for (const ioCap of [4096, 65536, 1 << 20, 3 << 20, 4 << 20, 5 << 20, 16 << 20, LIMITS.ioMax]) {
    assert.equal(ioSlots(ioCap), libsure().sure_io_slots(ioCap), `ioCap ${ioCap}`);
  }
  assert.equal(ioSlots(4096), LIMITS.ioQueueMax);
  assert.equal(ioSlots(LIMITS.ioMax), 1);
});

Deno.test({
  name: "instance: create, invoke, count, destroy",
  ignore: !hasKvm,
  async fn() {
    const base = stats();
    const inst = await Instance.create(await echoImage(), OPTS);
    try {
      assert.ok(inst.ioCap >= OPTS.ioCap);
      assert.equal(inst.ioSlots, ioSlots(inst.ioCap));
      assert.ok(inst.ioSlots > 1, "a current image takes a queue of requests");
      assert.equal(stats().instances, base.instances + 1);
      assert.ok(stats().vcpuThreads >= base.vcpuThreads + 1);
      const r = await inst.invoke(enc.encode("ping"), 1000);
      assert.equal(r.status, 200);
      assert.equal(dec.decode(r.body), "ping");
      // The answer is a copy: the next request must not change it.
      await inst.invoke(enc.encode("PONG"), 1000);
      assert.equal(dec.decode(r.body), "ping");
      assert.equal(inst.requests, 2);
      assert.equal(inst.fault().kind, "none");
      assert.ok(Array.isArray(inst.drainLog()));

      // Refused without harm: too big, or a second request at once.
      await assert.rejects(inst.invoke(new Uint8Array(inst.ioCap + 1), 1000), SureTooBigError);
      const first = inst.invoke(enc.encode("a"), 1000);
      await assert.rejects(inst.invoke(enc.encode("b"), 1000), SureBusyError);
      assert.equal(dec.decode((await first).body), "a");
    } finally {
      const gone = inst.destroy();
      assert.equal(inst.destroy(), gone, "idempotent");
      await gone;
    }
    assert.deepEqual(stats(), base);
    await assert.rejects(inst.invoke(enc.encode("x"), 1000), SureDeadError);
  },
});

Deno.test({
  name: "instance: a fault and a timeout are typed errors with the fault kept",
  ignore: !hasKvm,
  async fn() {
    const base = stats();
    const image = await faultyImage();
    const a = await Instance.create(image, OPTS);
    try {
      await assert.rejects(a.invoke(enc.encode("ud2"), 1000), SureFaultError);
      const f = a.fault();
      assert.equal(f.kind, "exception");
      assert.equal(f.vector, 6);
      assert.equal(f.name, "#UD");
      assert.ok(f.rip >= 0x400000n);
    } finally {
      await a.destroy();
    }
    assert.equal(a.fault().name, "#UD", "fault readable after destroy");

    const b = await Instance.create(image, OPTS);
    try {
      const t0 = performance.now();
      await assert.rejects(b.invoke(enc.encode("loop"), 100), SureTimeoutError);
      assert.ok(performance.now() - t0 >= 95);
      assert.equal(b.fault().kind, "timeout");
    } finally {
      await b.destroy();
    }
    assert.deepEqual(stats(), base);
  },
});

Deno.test({
  name: "instance: creating from a bad image fails with the checker's reason",
  ignore: !hasKvm,
  async fn() {
    const base = stats();
    await assert.rejects(
      Instance.create(enc.encode("definitely not an ELF"), OPTS),
      SureInvalidError,
    );
    assert.deepEqual(stats(), base);
  },
});

Deno.test({
  name: "instance: destroy() during a request waits for the request to end",
  ignore: !hasKvm,
  async fn() {
    const base = stats();
    const inst = await Instance.create(await faultyImage(), OPTS);
    const running = inst.invoke(enc.encode("loop"), 200);
    const gone = inst.destroy(); // deferred: libsure must not free what the invoke thread uses
    assert.equal(inst.alive, false);
    assert.equal(stats().instances, base.instances + 1);
    await assert.rejects(running, SureTimeoutError);
    await gone;
    assert.deepEqual(stats(), base);
    assert.equal(inst.fault().kind, "timeout");
  },
});
