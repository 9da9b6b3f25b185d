/**
 * What a function decides reaches the client: its HTTP status, its log lines
 * (as structured JSON records), large answers; and a function whose init
 * crashes is reported without taking the node down.
 */
import assert from "node:assert/strict";
import { stats } from "../ffi/mod.ts";
import {
  buildImage,
  deployFunction,
  faultyImage,
  hasKvm,
  startTestNode,
  type TestNode,
  waitFor,
  waitForAsync,
} from "./helpers.ts";

async function invoke(node: TestNode, name: string, body: string) {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

Deno.test({
  name: "function: status, log lines and sure_abort reach the client and the log",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "faulty", await faultyImage());
      let r = await invoke(node, "faulty", "status:404");
      assert.equal(r.status, 404);
      assert.equal(r.text, "status 404");
      r = await invoke(node, "faulty", "status:201");
      assert.equal(r.status, 201);

      r = await invoke(node, "faulty", "log:hello from the guest");
      assert.equal(r.status, 200);
      assert.equal(r.text, "ok");
      // The log is drained when the answer's event is read (in batches while busy).
      const logged = () => node.records.find((x) => x.msg === "hello from the guest");
      assert.ok(await waitFor(() => logged() !== undefined), "log line not drained");
      const rec = logged()!;
      assert.equal(rec.level, "info");
      assert.equal(rec.function, "faulty");
      assert.equal(typeof rec.instance, "number");
      assert.match(rec.ts, /^\d{4}-\d\d-\d\dT/);

      r = await invoke(node, "faulty", "abort");
      assert.equal(r.status, 502, r.text);
      const err = JSON.parse(r.text);
      assert.equal(err.error, "function_aborted");
      assert.equal(err.fault.kind, "guest_exit");
      assert.equal(err.reason, "the request asked for it");
      assert.equal((await invoke(node, "faulty", "again")).text, "again");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "function: a large answer comes back whole, capped at the response area",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "bigout", await buildImage("tests/fixtures/functions/bigout"));
      let r = await invoke(node, "bigout", "300000");
      assert.equal(r.status, 200);
      assert.equal(r.text.length, 300000);
      assert.ok(/^x+$/.test(r.text));
      r = await invoke(node, "bigout", String(64 << 20));
      assert.equal(r.text.length, 1 << 20, "capped at the 1 MiB response area");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "function: a crash in sure_init answers 502 and leaves nothing behind",
  ignore: !hasKvm,
  async fn() {
    const base = stats();
    const node = await startTestNode();
    try {
      await deployFunction(
        node,
        "initfault",
        await buildImage("tests/fixtures/functions/initfault"),
      );
      const r = await invoke(node, "initfault", "x");
      assert.equal(r.status, 502, r.text);
      const err = JSON.parse(r.text);
      assert.equal(err.error, "function_start_failed");
      assert.equal(err.function, "initfault");
      assert.match(err.message, /could not start/);
      const h = await (await fetch(`${node.url}/healthz`)).json();
      assert.equal(h.instances, 0);
    } finally {
      await node.close();
    }
    assert.ok(await waitFor(() => stats().instances === base.instances));
  },
});

Deno.test({
  name:
    "function: an instance that answers and never goes back to sleep is stopped, logged, counted",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "faulty", await faultyImage());
      const vcpus = () => stats().vcpuThreads;
      const before = vcpus();
      const t0 = performance.now();
      let r = await invoke(node, "faulty", "runaway");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, "ran away"); // the client got its answer
      const runaways = async () => {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        return Number(/sure_function_runaways_total\{function="faulty"\} (\d+)/.exec(text)?.[1]);
      };
      assert.ok(await waitForAsync(async () => (await runaways()) === 1, 10_000), "not stopped");
      const ms = performance.now() - t0;
      assert.ok(ms >= 1900, `stopped after ${ms} ms: before the bound`);
      const rec = node.records.find((x) => /kept running .* after its answer/.test(x.msg));
      assert.ok(rec, "no log line");
      assert.equal(rec.function, "faulty");
      // Its vCPU thread is gone: it burns nothing any more.
      assert.ok(await waitFor(() => vcpus() < before + 1, 5000), `${vcpus()} vCPU threads`);
      const st = await (await fetch(`${node.url}/admin/functions/faulty/instances`)).json();
      assert.equal(st.runaways, 1);
      // The function keeps serving, on a new instance.
      r = await invoke(node, "faulty", "again");
      assert.equal(r.text, "again");
    } finally {
      await node.close();
    }
  },
});
