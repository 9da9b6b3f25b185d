/** A chain step on fake VMs: its instance is always a clone, and what it leaves is kept. */
import assert from "node:assert/strict";
import type { SidecarLimits } from "../../ffi/mod.ts";
import { nullLogger } from "../log.ts";
import { LogHub } from "../logs/hub.ts";
import { type FakeVm, FakeVms, PF } from "../vmhost/fake_vms.ts";
import { ChainStep, type StepImage } from "./step.ts";

const LIMITS: SidecarLimits = {
  enabled: true,
  maxInFlight: 4,
  ratePerSec: 0,
  rateBurst: 10,
  deadlineMs: 0,
};

function step(vms: FakeVms, hub?: LogHub) {
  const img: StepImage = { image: new Uint8Array(8), memory: 16, limits: LIMITS };
  return new ChainStep(
    "upper",
    img,
    nullLogger,
    (i) =>
      vms.template(i.image, {
        memMib: i.memory,
        ioCap: 4096,
      }),
    "shout",
    hub,
  );
}

Deno.test("chain step: restarts are clones of one template per image", async () => {
  const vms = new FakeVms({ initLog: ["ready"] });
  const hub = new LogHub();
  const s = step(vms, hub);
  await s.start();
  const first = s.vm as FakeVm;
  assert.equal(first.from, "clone");
  assert.deepEqual(first.limits, LIMITS, "the step's sidecar limits are set");
  await s.stop();
  assert.ok(first.destroyed);
  assert.equal(s.vm, null);
  await s.start();
  assert.equal(vms.templates.length, 1);
  assert.equal(vms.templates[0].clones, 2);
  // Redeployed function: a template of the new image, the old one freed.
  s.image = { ...s.image, image: new Uint8Array(8) };
  await s.stop();
  await s.start();
  assert.equal(vms.templates.length, 2);
  assert.equal(vms.templates[0].alive, false);
  assert.deepEqual(
    hub.recent("upper").map((l) => [l.line, l.chain, l.instance]),
    [["ready", "shout", "template"], ["ready", "shout", "template"]],
    "init's lines once per template",
  );
  await s.stop();
  s.destroyTemplate();
  assert.equal(vms.templates[1].alive, false);
});

Deno.test("chain step: a stopped instance's fault, log lines and counters are kept", async () => {
  const vms = new FakeVms();
  const hub = new LogHub();
  const s = step(vms, hub);
  assert.equal(s.fault().kind, "none");
  await s.start();
  const vm = s.vm as FakeVm;
  await vm.invoke(new Uint8Array(1), 100);
  await vm.invoke(new Uint8Array(1), 100);
  vm.faultRecord = PF;
  vm.log.push("last words");
  assert.equal(s.sidecarStats().admitted, 2);
  await s.stop();
  assert.equal(s.fault().name, "#PF", "still known after the instance is gone");
  assert.equal(s.sidecarStats().admitted, 2, "counters never go back");
  assert.deepEqual(hub.recent("upper").map((l) => [l.line, l.instance]), [["last words", vm.id]]);
  await s.start();
  await (s.vm as FakeVm).invoke(new Uint8Array(1), 100);
  assert.equal(s.sidecarStats().admitted, 3);
  assert.equal(s.fault().name, "#PF", "a healthy instance does not erase the last fault");
  await s.stop();
  s.destroyTemplate();
});

Deno.test("chain step: new env values (same image) are a new template built with them", async () => {
  const vms = new FakeVms();
  const built: (Uint8Array | undefined)[] = [];
  const s = new ChainStep(
    "upper",
    { image: new Uint8Array(8), memory: 16, env: new TextEncoder().encode("A=1\0") },
    nullLogger,
    (i) => {
      built.push(i.env);
      return vms.template(i.image, { memMib: i.memory, ioCap: 4096, env: i.env });
    },
    "shout",
  );
  await s.start();
  await s.stop();
  await s.start(); // same env: the same template
  assert.equal(vms.templates.length, 1);
  s.image = { ...s.image, env: new TextEncoder().encode("A=2\0") };
  await s.stop();
  await s.start();
  assert.equal(vms.templates.length, 2);
  assert.equal(vms.templates[0].alive, false);
  assert.deepEqual(built.map((e) => new TextDecoder().decode(e)), ["A=1\0", "A=2\0"]);
  await s.stop();
  s.destroyTemplate();
});
