/**
 * The instance group's queue, scaling, budget and failure handling on fake
 * VMs (runtime/vmhost/fake_vms.ts): no /dev/kvm needed. scheduler_test.ts and
 * tests/scaling_test.ts run the same paths on real VMs where KVM exists.
 */
import assert from "node:assert/strict";
import { type Fault, type InvokeResult, SureFaultError, SureTimeoutError } from "../../ffi/mod.ts";
import { SureTooBigError } from "../../ffi/errors.ts";
import { type HttpError } from "../errors.ts";
import { memoryLogger } from "../log.ts";
import { LogHub } from "../logs/hub.ts";
import { defaultSettings } from "../settings/settings.ts";
import type { Deployment } from "../store/store.ts";
import { type FakeBehaviour, type FakeVm, FakeVms, gate } from "../vmhost/fake_vms.ts";
import { MemoryBudget, vmBytes } from "./budget.ts";
import { InstanceGroup } from "./group.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MIB = 1048576;
/** What one instance of the test function reserves: 16 MiB RAM and its request slots (ffi/io_slots.ts). */
const INSTANCE = vmBytes(16, MIB);
const TEMPLATE = 16 * MIB;

function deployment(over: Partial<Deployment> = {}): Deployment {
  const now = new Date().toISOString();
  return {
    ...defaultSettings(),
    name: "f",
    digest: "0".repeat(64),
    env: {},
    secrets: [],
    size: 0,
    memory: 16,
    timeout: 1000,
    maxBody: 1024,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

interface Setup {
  group: InstanceGroup;
  vms: FakeVms;
  budget: MemoryBudget;
  hub: LogHub;
  /** Bodies in the order the handler received them, and the VM that ran each. */
  ran: { body: string; vm: number }[];
  /** Requests whose body starts with "hold" run until release(body). */
  release(body: string): void;
}

function setup(
  over: Partial<Deployment> = {},
  behaviour: FakeBehaviour = {},
  opts: { maxQueue?: number; budgetBytes?: number; env?: Uint8Array } = {},
): Setup {
  const ran: Setup["ran"] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  const held = (body: string) => {
    if (!gates.has(body)) gates.set(body, gate());
    return gates.get(body)!;
  };
  const vms = new FakeVms({
    handle: async (bytes, vm) => {
      const body = dec.decode(bytes);
      ran.push({ body, vm: vm.id });
      if (body.startsWith("hold")) await held(body).promise;
      if (behaviour.handle) return await behaviour.handle(bytes, vm);
      return { status: 200, body: new Uint8Array(bytes), reason: "handler" };
    },
    failStart: behaviour.failStart,
    initLog: behaviour.initLog,
  });
  const budget = new MemoryBudget(opts.budgetBytes ?? 1 << 30);
  const hub = new LogHub();
  const group = new InstanceGroup(deployment(over), new Uint8Array(8), {
    maxQueue: opts.maxQueue ?? 1024,
    initTimeoutMs: 1000,
    logger: memoryLogger().logger,
    budget,
    logs: hub,
    vms,
  }, opts.env);
  return { group, vms, budget, hub, ran, release: (body) => held(body).open() };
}

/** Lets the fakes' promise chains run (starts, releases, teardowns). */
const settle = () => new Promise((r) => setTimeout(r, 0));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function call(s: Setup, body: string): Promise<InvokeResult> {
  return s.group.invoke(enc.encode(body), `req-${body}`);
}

async function rejectsWith(p: Promise<unknown>, status: number, code: string): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    const h = e as HttpError;
    assert.equal(h.status, status, `${h.message}`);
    assert.equal(h.code, code);
    return h;
  }
  assert.fail(`expected ${status} ${code}`);
}

const PAGE_FAULT: Fault = {
  kind: "exception",
  vector: 14,
  name: "#PF",
  errorCode: 4n,
  address: 0n,
  rip: 0x401000n,
  reason: "",
};

Deno.test("group: a request at zero instances is held until its clone is up; one template", async () => {
  const s = setup();
  const r = await call(s, "one");
  assert.equal(r.status, 200);
  assert.equal(dec.decode(r.body), "one");
  await call(s, "two");
  const st = s.group.status();
  assert.equal(st.instances.length, 1);
  assert.equal(st.coldStarts, 1);
  assert.equal(st.requests, 2);
  assert.deepEqual(st.template, { residentBytes: 4096, clones: 1 });
  assert.equal(s.vms.templates.length, 1);
  assert.equal(s.budget.usedBytes, TEMPLATE + INSTANCE);
  await s.group.drain();
  assert.equal(s.budget.usedBytes, 0, "everything went back to the budget");
  assert.equal(s.vms.live.size, 0);
  assert.equal(s.vms.templates[0].alive, false);
});

Deno.test("group: start() warms max(minInstances, 1) instances; boot mode makes no template", async () => {
  const s = setup({ minInstances: 2, coldStart: "boot" });
  s.group.start();
  await settle();
  assert.equal(s.group.instances, 2);
  assert.equal(s.vms.boots, 2);
  assert.equal(s.vms.templates.length, 0);
  assert.equal(s.group.status().template, null);
  assert.equal(s.group.status().coldStarts, 0, "not started by a request");
  await s.group.drain();
});

Deno.test("group: scales up while instances x targetConcurrency < in flight, up to max; FIFO", async () => {
  const s = setup({ maxInstances: 2, targetConcurrency: 1 });
  const all = ["hold1", "hold2", "hold3", "hold4"].map((b) => call(s, b));
  await settle();
  let st = s.group.status();
  assert.equal(st.instances.length, 2, "two clones, then maxInstances");
  assert.equal(st.queued, 2);
  assert.equal(st.coldStarts, 2);
  s.release("hold2");
  await settle();
  s.release("hold1");
  await settle();
  // The oldest waiter got the first instance freed.
  assert.deepEqual(s.ran.map((r) => r.body), ["hold1", "hold2", "hold3", "hold4"]);
  assert.equal(s.ran[2].vm, s.ran[1].vm, "hold3 ran where hold2 finished first");
  s.release("hold3");
  s.release("hold4");
  assert.deepEqual((await Promise.all(all)).map((r) => r.status), [200, 200, 200, 200]);
  st = s.group.status();
  assert.equal(st.peakInstances, 2);
  assert.deepEqual(st.instances.map((i) => i.state), ["idle", "idle"]);
  await s.group.drain();
});

Deno.test("group: targetConcurrency 2 queues a second request before starting another", async () => {
  const s = setup({ maxInstances: 5, targetConcurrency: 2 });
  const all = ["hold1", "hold2", "hold3"].map((b) => call(s, b));
  await settle();
  // 1st: 0 x 2 < 1, start; 2nd: 1 x 2 < 2 is false, wait; 3rd: 1 x 2 < 3, start.
  assert.equal(s.group.instances, 2);
  for (const b of ["hold1", "hold2", "hold3"]) s.release(b);
  await Promise.all(all);
  await s.group.drain();
});

Deno.test("group: past maxQueue waiting requests the next one gets 503 overloaded", async () => {
  const s = setup({ maxInstances: 1 }, {}, { maxQueue: 1 });
  await call(s, "warm"); // a request waits in the queue for a starting instance too
  const running = call(s, "hold1");
  const queued = call(s, "two");
  await settle();
  assert.equal(s.group.queued, 1);
  await rejectsWith(call(s, "three"), 503, "overloaded");
  s.release("hold1");
  assert.equal((await running).status, 200);
  assert.equal((await queued).status, 200);
  await s.group.drain();
});

Deno.test("group: concurrencyLimit admits limit x maxInstances in flight (running + queued), then 429", async () => {
  const s = setup({ maxInstances: 2, concurrencyLimit: 2 });
  const admitted = ["hold1", "hold2", "hold3", "hold4"].map((b) => call(s, b));
  await settle();
  assert.equal(s.group.instances, 2);
  assert.equal(s.group.queued, 2);
  await rejectsWith(call(s, "five"), 429, "concurrency_limited");
  for (const b of ["hold1", "hold2", "hold3", "hold4"]) s.release(b);
  assert.deepEqual((await Promise.all(admitted)).map((r) => r.status), [200, 200, 200, 200]);
  // With room again, the next one is admitted.
  assert.equal((await call(s, "six")).status, 200);
  await s.group.drain();
});

Deno.test("group: idle instances are stopped oldest first, down to minInstances", async () => {
  const s = setup({ maxInstances: 3, minInstances: 1, idleTimeout: 10 });
  const all = ["hold1", "hold2", "hold3"].map((b) => call(s, b));
  await settle();
  assert.equal(s.group.instances, 3);
  s.release("hold1");
  await sleep(2);
  s.release("hold2");
  await sleep(2);
  s.release("hold3");
  await Promise.all(all);
  const last = s.ran.find((r) => r.body === "hold3")!.vm;
  for (let i = 0; i < 100 && s.group.instances > 1; i++) await sleep(5);
  const st = s.group.status();
  assert.equal(st.instances.length, 1, "down to minInstances");
  assert.equal(st.instances[0].id, last, "the most recently used one stays");
  assert.equal(s.budget.usedBytes, TEMPLATE + INSTANCE, "the stopped ones' memory went back");
  await s.group.drain();
});

Deno.test("group: over the memory budget a request waits for a running instance, else 503", async () => {
  // Room for the template and one instance only.
  const s = setup({ maxInstances: 3 }, {}, { budgetBytes: TEMPLATE + INSTANCE });
  const first = call(s, "hold1");
  await settle();
  const second = call(s, "two"); // cannot start another: waits for hold1's instance
  await settle();
  assert.equal(s.group.queued, 1);
  assert.equal(s.group.instances, 1);
  s.release("hold1");
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  await s.group.drain();

  // Not even one instance fits, and none runs: 503 at once.
  const tiny = setup({}, {}, { budgetBytes: INSTANCE - 1 });
  await rejectsWith(call(tiny, "x"), 503, "memory_budget_exhausted");
  assert.equal(tiny.budget.usedBytes, 0);
  // The instance fits but its template does not: the waiting request fails.
  const noTemplate = setup({}, {}, { budgetBytes: INSTANCE + MIB });
  await rejectsWith(call(noTemplate, "x"), 503, "memory_budget_exhausted");
  assert.equal(noTemplate.budget.usedBytes, 0);
  await tiny.group.drain();
  await noTemplate.group.drain();
});

Deno.test("group: a failed template build fails the waiters (502) and is forgotten", async () => {
  let fail = true;
  const s = setup({}, {
    failStart: () => {
      if (!fail) return undefined;
      fail = false;
      return new Error("init crashed");
    },
  });
  await rejectsWith(call(s, "one"), 502, "function_start_failed");
  assert.equal(s.budget.usedBytes, 0);
  assert.equal((await call(s, "two")).status, 200, "the next request builds it again");
  assert.equal(s.vms.templates.length, 1);
  await s.group.drain();
});

Deno.test("group: a fault is 502 naming it, the waiter gets a replacement, counters never go back", async () => {
  const s = setup({ maxInstances: 1 }, {
    handle: (body, vm) => {
      if (dec.decode(body) === "hold-crash") {
        vm.faultRecord = PAGE_FAULT;
        throw new SureFaultError("sure_instance_invoke", 14);
      }
      return { status: 200, body: new Uint8Array(body), reason: "handler" };
    },
  });
  await call(s, "ok");
  assert.equal(s.group.sidecarStats().admitted, 1);
  const crash = call(s, "hold-crash");
  const queued = call(s, "after");
  await settle();
  const dead = [...s.vms.live][0];
  s.release("hold-crash");
  const err = await rejectsWith(crash, 502, "function_fault");
  assert.equal((err as unknown as { fault: Fault }).fault.name, "#PF");
  assert.equal((await queued).status, 200);
  assert.ok(dead.destroyed, "the dead instance is gone");
  assert.notEqual(s.ran.at(-1)!.vm, dead.id, "served by a replacement");
  assert.equal(s.group.instances, 1);
  // ok + crash (folded in from the destroyed instance) + after.
  assert.equal(s.group.sidecarStats().admitted, 3);
  await s.group.drain();
  assert.equal(s.group.sidecarStats().admitted, 3, "still there with no instance left");
});

Deno.test("group: timeouts, sidecar refusals and oversized bodies map to their HTTP errors", async () => {
  const answers: Record<string, () => InvokeResult> = {
    slow: () => {
      throw new SureTimeoutError("sure_instance_invoke", 110);
    },
    big: () => {
      throw new SureTooBigError("sure_instance_invoke", 7);
    },
    rate: () => ({ status: 429, body: new Uint8Array(0), reason: "rate" }),
    late: () => ({ status: 504, body: new Uint8Array(0), reason: "deadline" }),
    full: () => ({ status: 429, body: new Uint8Array(0), reason: "inflight" }),
    failed: () => ({ status: 500, body: new Uint8Array(0), reason: "failed", rc: 3 }),
  };
  const s = setup({ deadline: 50 }, { handle: (body) => answers[dec.decode(body)]() });
  await rejectsWith(call(s, "slow"), 504, "function_timeout");
  assert.equal(s.group.instances, 0, "a timed-out instance is destroyed");
  await rejectsWith(call(s, "big"), 413, "payload_too_large");
  assert.equal(s.group.instances, 1, "a refused body does not kill the instance");
  await rejectsWith(call(s, "rate"), 429, "rate_limited");
  await rejectsWith(call(s, "late"), 504, "deadline_exceeded");
  await rejectsWith(call(s, "full"), 429, "concurrency_limited");
  const failed = await rejectsWith(call(s, "failed"), 500, "function_failed");
  assert.equal(failed.message, "function f: handle() returned 3");
  assert.equal(s.group.instances, 1, "a failed handler does not kill the instance");
  // Larger than the request area: refused before any instance is taken.
  await rejectsWith(
    s.group.invoke(new Uint8Array(s.group.ioCap + 1), "r"),
    413,
    "payload_too_large",
  );
  await s.group.drain();
});

Deno.test("group: a request that waited past its deadline is answered 504 without running", async () => {
  const s = setup({ maxInstances: 1, deadline: 10 });
  const first = call(s, "hold1");
  const late = call(s, "late");
  await sleep(20);
  s.release("hold1");
  await first;
  await rejectsWith(late, 504, "deadline_exceeded");
  assert.deepEqual(s.ran.map((r) => r.body), ["hold1"]);
  await s.group.drain();
});

Deno.test("group: scale(n) starts instances now, stops idle ones, busy ones after their request", async () => {
  const s = setup({ maxInstances: 4 });
  await rejectsWith(s.group.scale(5), 400, "validation_error");
  await s.group.scale(3);
  assert.equal(s.group.instances, 3);
  const busy = call(s, "hold1");
  await settle();
  await s.group.scale(0);
  assert.equal(s.group.instances, 1, "the idle ones stopped at once");
  s.release("hold1");
  await busy;
  await settle();
  assert.equal(s.group.instances, 0, "the busy one after its request");

  // Scaling back up while busy instances are still marked to stop keeps them.
  const a = call(s, "hold-a"), b = call(s, "hold-b");
  await settle();
  assert.equal(s.group.instances, 2);
  await s.group.scale(0);
  await s.group.scale(1);
  s.release("hold-a");
  s.release("hold-b");
  await Promise.all([a, b]);
  await settle();
  assert.equal(s.group.instances, 1);
  await s.group.drain();
});

Deno.test("group: drain lets in-flight and queued requests finish, then frees everything", async () => {
  const s = setup({ maxInstances: 1 });
  const running = call(s, "hold1");
  const queued = call(s, "two");
  await settle();
  let drained = false;
  const done = s.group.drain().then(() => (drained = true));
  await settle();
  assert.equal(drained, false);
  await rejectsWith(s.group.scale(1), 500, "internal_error");
  s.release("hold1");
  assert.equal((await running).status, 200);
  assert.equal((await queued).status, 200);
  await done;
  assert.equal(s.vms.live.size, 0);
  assert.equal(s.budget.usedBytes, 0);
  assert.equal(s.vms.templates[0].alive, false);
  await rejectsWith(call(s, "after"), 500, "internal_error");
});

Deno.test("group: init's lines come once from the template; instances' lines carry their id", async () => {
  const s = setup({ maxInstances: 2 }, {
    initLog: ["init done"],
    handle: (body, vm: FakeVm) => {
      vm.log.push(`handled ${dec.decode(body)}`);
      return { status: 200, body: new Uint8Array(body), reason: "handler" };
    },
  });
  await Promise.all([
    call(s, "hold-a"),
    call(s, "hold-b"),
    settle().then(() => {
      s.release("hold-a");
      s.release("hold-b");
    }),
  ]);
  const lines = s.hub.recent("f");
  assert.deepEqual(lines.filter((l) => l.line === "init done").map((l) => l.instance), [
    "template",
  ]);
  const a = lines.find((l) => l.line === "handled hold-a")!;
  assert.equal(a.instance, s.ran.find((r) => r.body === "hold-a")!.vm);
  await s.group.drain();
});

Deno.test("group: new scaling settings reach the live instances' sidecars and minInstances", async () => {
  const s = setup();
  await call(s, "one");
  const vm = [...s.vms.live][0];
  assert.equal(vm.limits?.ratePerSec, 0);
  s.group.updateScaling(deployment({ rateLimit: 7, concurrencyLimit: 3, minInstances: 2 }));
  assert.equal(vm.limits?.ratePerSec, 7);
  assert.equal(vm.limits?.maxInFlight, 0, "the node's queue enforces concurrencyLimit");
  await settle();
  assert.equal(s.group.instances, 2);
  await s.group.drain();
});

Deno.test("group: its template is built with the deployment's environment block", async () => {
  const env = enc.encode("GREETING=hi\0");
  const s = setup({}, {}, { env });
  await call(s, "a");
  assert.equal(s.vms.templates.length, 1);
  assert.equal(s.vms.templates[0].env, env);
  await s.group.drain();
});
