/**
 * Templates, autoscaling, scale to zero and the memory budget, over HTTP on
 * a real node with real KVM clones.
 */
import assert from "node:assert/strict";
import { stats } from "../ffi/mod.ts";
import { vmBytes } from "../runtime/scheduler/budget.ts";
import {
  buildImage,
  deployFunction,
  echoImage,
  emptyVmsSettled,
  faultyImage,
  hasKvm,
  resourceCounts,
  startTestNode,
  type TestNode,
  waitFor,
  waitForAsync,
} from "./helpers.ts";
import type { GroupStatus } from "../runtime/scheduler/status.ts";

const statefulImage = () => buildImage("tests/fixtures/functions/stateful");
const startfaultImage = () => buildImage("tests/fixtures/functions/startfault");

async function invoke(node: TestNode, name: string, body = "") {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body });
  return { status: res.status, text: await res.text() };
}

async function status(node: TestNode, name: string): Promise<GroupStatus> {
  const res = await fetch(`${node.url}/admin/functions/${name}/instances`);
  assert.equal(res.status, 200);
  return await res.json();
}

async function scale(node: TestNode, name: string, instances: unknown) {
  const res = await fetch(`${node.url}/admin/functions/${name}/scale`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances }),
  });
  return { status: res.status, body: await res.json() };
}

async function patch(node: TestNode, name: string, body: unknown) {
  const res = await fetch(`${node.url}/admin/functions/${name}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function reserved(node: TestNode): Promise<number> {
  return (await (await fetch(`${node.url}/healthz`)).json()).memory.reservedBytes;
}

/** "<init tsc> <table sum> <count> <instance number> <seed>" from the stateful fixture. */
function parse(text: string) {
  const [initTsc, sum, count, no, seed] = text.split(" ");
  return { initTsc, sum, count: Number(count), no: Number(no), seed };
}

Deno.test({
  name: "templates: instances are clones of one init; their writes stay their own",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "st", await statefulImage(), 2000, { maxInstances: 3 });
      const a = parse((await invoke(node, "st")).text);
      const a2 = parse((await invoke(node, "st")).text);
      assert.ok(a.no >= 1, "an instance numbered by its template: a clone");
      assert.equal(a2.no, a.no);
      assert.equal(a2.count, a.count + 1);
      // Two more clones by hand: the same init state, fresh counters, own seeds.
      const scaled = await scale(node, "st", 3);
      assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
      assert.equal(scaled.body.instances.length, 3);
      assert.ok(scaled.body.instances.every((i: { start: string }) => i.start === "clone"));
      assert.ok(scaled.body.template.residentBytes > 0);
      assert.equal(scaled.body.template.clones, 3);
      const answers = await Promise.all(Array.from({ length: 6 }, () => invoke(node, "st")));
      const seen = answers.map((r) => parse(r.text));
      assert.ok(seen.every((s) => s.initTsc === a.initTsc && s.sum === a.sum));
      const byInstance = new Map<number, string>();
      for (const s of seen) {
        const seed = byInstance.get(s.no);
        assert.ok(seed === undefined || seed === s.seed, "one seed per instance");
        byInstance.set(s.no, s.seed);
      }
      assert.equal(new Set(byInstance.values()).size, byInstance.size, "seeds differ");
      // Init's log line came once, from the template, not from every clone.
      const initLines = node.records.filter((r) => r.msg === "stateful: template init done");
      assert.equal(initLines.length, 1);

      // Scale to zero and back: the new clone starts from init's state, count 1.
      assert.equal((await scale(node, "st", 0)).status, 200);
      assert.equal((await status(node, "st")).instances.length, 0);
      const b = parse((await invoke(node, "st")).text);
      assert.equal(b.initTsc, a.initTsc);
      assert.equal(b.count, 1);
      assert.equal(b.no, 4);

      // A new deploy builds a new template (init runs again), numbering restarts.
      await deployFunction(node, "st", await statefulImage(), 3000, { maxInstances: 3 });
      const c = parse((await invoke(node, "st")).text);
      assert.notEqual(c.initTsc, a.initTsc);
      assert.equal(c.count, 1);
      assert.equal(c.no, 1);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "templates: a chain step restarted after a fault is a clone of its template",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "st", await statefulImage());
      const res = await fetch(`${node.url}/admin/chains`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "stchain", steps: ["st"] }),
      });
      assert.equal(res.status, 201, await res.text());
      const a = parse((await invoke(node, "stchain")).text);
      assert.equal(a.count, 1);
      assert.equal(a.no, 1, "the step's first instance is clone 1 of its template");
      const crash = await invoke(node, "stchain", "crash");
      assert.equal(crash.status, 502);
      let b = parse("");
      for (let i = 0; i < 100 && !(b.no >= 2); i++) {
        const r = await invoke(node, "stchain");
        if (r.status === 200) b = parse(r.text);
        else await new Promise((r) => setTimeout(r, 10)); // the step is restarting
      }
      assert.equal(b.no, 2, "the restarted step is clone 2");
      assert.equal(b.initTsc, a.initTsc, "init did not run again");
      assert.equal(b.count, 1, "the dead instance's writes are gone");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "scale to zero after the idle time; a request at zero is held and served",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await echoImage(), 2000, { idleTimeout: 400 });
      assert.deepEqual(await invoke(node, "echo", "one"), { status: 200, text: "one" });
      // Idle since its answer: from here, not after the status call below (which
      // may itself take longer than the idle time on a slow machine).
      const t0 = Date.now();
      assert.equal((await status(node, "echo")).instances.length, 1);
      assert.ok(
        await waitForAsync(async () => (await status(node, "echo")).instances.length === 0, 3000),
        "scaled to zero",
      );
      assert.ok(Date.now() - t0 >= 350, "not before the idle time");
      const st = await status(node, "echo");
      assert.ok(st.template !== null, "the template stays");
      // Only the template is left in the budget (once the teardown finished).
      assert.ok(
        await waitForAsync(async () => (await reserved(node)) === 16 * 1048576),
        "instance memory returned",
      );

      const cold = await invoke(node, "echo", "two");
      assert.deepEqual(cold, { status: 200, text: "two" });
      const after = await status(node, "echo");
      assert.equal(after.instances.length, 1);
      assert.ok(after.coldStarts >= 1);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "a burst of 100 concurrent requests to a cold function all succeed within maxInstances",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await echoImage(), 5000, { maxInstances: 3 });
      // Cold for sure: the deploy's instance has started (a start is never
      // cancelled), then gone with the scale to zero.
      assert.ok(await waitForAsync(async () => (await status(node, "echo")).starting === 0));
      assert.equal((await scale(node, "echo", 0)).status, 200);
      assert.ok(
        await waitForAsync(async () => (await status(node, "echo")).instances.length === 0),
        "scaled to zero",
      );
      let sampledMax = 0;
      const sampler = setInterval(async () => {
        const st = await status(node, "echo");
        sampledMax = Math.max(sampledMax, st.instances.length + st.starting);
      }, 5);
      const bodies = Array.from({ length: 100 }, (_, i) => `burst-${i}`);
      const answers = await Promise.all(bodies.map((b) => invoke(node, "echo", b)));
      clearInterval(sampler);
      assert.deepEqual(answers.map((a) => a.status), bodies.map(() => 200));
      assert.deepEqual(answers.map((a) => a.text), bodies);
      const st = await status(node, "echo");
      assert.ok(st.peakInstances <= 3, `peak ${st.peakInstances}`);
      assert.ok(sampledMax <= 3, `sampled ${sampledMax}`);
      assert.ok(st.coldStarts >= 1);
      assert.equal(st.queued, 0);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "an instance that crashes while starting fails its request with 502; the next works",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "sf", await startfaultImage(), 2000);
      // Clone 1 (the deploy's warm instance) starts fine.
      assert.deepEqual(await invoke(node, "sf", "a"), { status: 200, text: "a" });
      assert.equal((await scale(node, "sf", 0)).status, 200);
      // Clone 2 faults in sure_start: its request is the one that fails.
      const res = await fetch(`${node.url}/invoke/sf`, { method: "POST", body: "b" });
      assert.equal(res.status, 502);
      const err = await res.json();
      assert.equal(err.error, "function_start_failed");
      assert.match(err.message, /exception 14/);
      assert.equal((await status(node, "sf")).instances.length, 0);
      // Clone 3 is fine.
      assert.deepEqual(await invoke(node, "sf", "c"), { status: 200, text: "c" });
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "deleting a function with live instances drains them and frees their memory",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      // Warm up the process (first VM, first fetch) before taking the baseline.
      await deployFunction(node, "warm", await echoImage());
      await invoke(node, "warm", "x");
      await fetch(`${node.url}/admin/functions/warm`, { method: "DELETE" }).then((r) => r.text());
      await emptyVmsSettled();
      const base = { ...resourceCounts(), ...stats(), reserved: await reserved(node) };

      await deployFunction(node, "f", await faultyImage(), 300, { maxInstances: 4 });
      assert.equal((await scale(node, "f", 4)).status, 200);
      assert.equal(stats().instances, base.instances + 4);
      assert.ok(await reserved(node) > base.reserved);
      const busy = invoke(node, "f", "loop"); // holds one instance until it times out
      await new Promise((r) => setTimeout(r, 50));
      const del = await fetch(`${node.url}/admin/functions/f`, { method: "DELETE" });
      assert.equal(del.status, 200);
      await del.body?.cancel();
      assert.equal((await busy).status, 504, "the in-flight request finished first");
      assert.ok(await waitFor(() => stats().instances === base.instances), "instances gone");
      assert.equal(stats().vcpuThreads, base.vcpuThreads);
      assert.equal(stats().guestBytes, base.guestBytes);
      assert.equal(await reserved(node), base.reserved);
      // (OS threads are not compared here: Deno's blocking pool, which ran the
      // teardowns, keeps idle threads for a while. vcpuThreads above is ours.)
      // Keep-alive sockets of the concurrent requests come and go; the VMs' fds must not stay.
      await emptyVmsSettled();
      assert.equal(resourceCounts().vmFds, base.vmFds, "kvm and memfd descriptors");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "memory budget: past it new instances get a clear 503; freeing memory lets them start",
  ignore: !hasKvm,
  async fn() {
    // 16 MiB template + a 20 MiB instance (16 MiB RAM and two request slots
    // of two 1 MiB areas each, ffi/io_slots.ts) fit; one more does not.
    const node = await startTestNode({ scheduler: { memoryBudgetBytes: 40 * 1048576 } });
    try {
      await deployFunction(node, "a", await echoImage());
      assert.deepEqual(await invoke(node, "a", "hi"), { status: 200, text: "hi" });
      const over = await scale(node, "a", 2);
      assert.equal(over.status, 503);
      assert.equal(over.body.error, "memory_budget_exhausted");
      assert.match(over.body.message, /memory budget/);
      assert.equal((await status(node, "a")).instances.length, 1, "nothing half-started");

      await deployFunction(node, "b", await echoImage());
      const res = await fetch(`${node.url}/invoke/b`, { method: "POST", body: "x" });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal((await res.json()).error, "memory_budget_exhausted");
      // a's instance keeps serving meanwhile.
      assert.deepEqual(await invoke(node, "a", "still"), { status: 200, text: "still" });

      const del = await fetch(`${node.url}/admin/functions/a`, { method: "DELETE" });
      await del.body?.cancel();
      assert.deepEqual(await invoke(node, "b", "now"), { status: 200, text: "now" });
      const h = await (await fetch(`${node.url}/healthz`)).json();
      assert.equal(h.memory.budgetBytes, 40 * 1048576);
      assert.equal(h.memory.reservedBytes, 16 * 1048576 + vmBytes(16, 1048576));
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "scaling settings: PATCH checks and applies them; scale by hand obeys maxInstances",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await echoImage(), 2000, { maxInstances: 3 });
      const up = await patch(node, "echo", { minInstances: 2 });
      assert.equal(up.status, 200);
      assert.equal(up.body.minInstances, 2);
      assert.ok(
        await waitForAsync(async () => (await status(node, "echo")).instances.length === 2),
        "minInstances started",
      );
      const bad: [unknown, string][] = [
        [{ minInstances: 4 }, "minInstances"],
        [{ maxInstances: 1 }, "minInstances"],
        [{ idleTimeout: 1 }, "idleTimeout"],
        [{ memory: 32 }, "memory"],
        [{}, ""],
      ];
      for (const [body, field] of bad) {
        const r = await patch(node, "echo", body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error, "validation_error");
        if (field) assert.equal(r.body.field, field, JSON.stringify(r.body));
      }
      const dep = await (await fetch(`${node.url}/admin/functions/echo`)).json();
      assert.equal(dep.minInstances, 2, "a refused PATCH changed nothing");
      assert.equal(dep.maxInstances, 3);

      const tooMany = await scale(node, "echo", 4);
      assert.equal(tooMany.status, 400);
      assert.equal(tooMany.body.field, "instances");
      assert.equal((await scale(node, "echo", -1)).status, 400);
      assert.equal((await scale(node, "echo", "2")).status, 400);
      assert.equal((await scale(node, "nope", 1)).status, 404);
      assert.equal((await scale(node, "echo", 3)).body.instances.length, 3);
      // A lowered maximum stops the surplus now, not after the idle timeout.
      const down = await patch(node, "echo", { minInstances: 0, maxInstances: 1 });
      assert.equal(down.status, 200, JSON.stringify(down.body));
      assert.ok(
        await waitForAsync(async () => (await status(node, "echo")).instances.length === 1),
        `lowering maxInstances left ${(await status(node, "echo")).instances.length} instances`,
      );
      assert.deepEqual(await invoke(node, "echo", "one"), { status: 200, text: "one" });

      // Boot mode: no template, every instance boots.
      await deployFunction(node, "booted", await echoImage(), 2000, { coldStart: "boot" });
      assert.deepEqual(await invoke(node, "booted", "b"), { status: 200, text: "b" });
      const st = await status(node, "booted");
      assert.equal(st.template, null);
      assert.equal(st.instances[0].start, "boot");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "quick requests share few instances; a quick one behind a long one gets its own",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "f", await faultyImage(), 5000, { maxInstances: 8 });
      for (let i = 0; i < 20; i++) assert.equal((await invoke(node, "f", `q${i}`)).text, `q${i}`);
      // 8 clients of a quick function: each request would find the others
      // busy, and concurrency alone would start 8 instances. A start serves
      // none of them sooner than the instances there, and a guest only
      // computes while it runs one, so they share two per vCPU CPU (a
      // margin for a vCPU that waited for its CPU well past a start).
      await Promise.all(Array.from({ length: 8 }, async (_, c) => {
        for (let i = 0; i < 50; i++) {
          assert.equal((await invoke(node, "f", `c${c}-${i}`)).text, `c${c}-${i}`);
        }
      }));
      const shared = (await status(node, "f")).instances.length;
      assert.ok(shared <= 4, `${shared} instances for 8 clients of a quick function`);
      // A long request holds an instance; more come to it: the next one waits
      // a little past what a start takes (autoscale.ts STUCK_MS), then gets
      // an instance of its own rather than the long one's 1.5 s.
      const long = Array.from({ length: shared }, () => invoke(node, "f", "busy:1500"));
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      const quick = await invoke(node, "f", "quick");
      const ms = performance.now() - t0;
      assert.equal(quick.text, "quick");
      assert.ok(ms < 1000, `the quick request waited ${ms} ms behind the long ones`);
      for (const l of await Promise.all(long)) assert.equal(l.text, "ok");
    } finally {
      await node.close();
    }
  },
});
