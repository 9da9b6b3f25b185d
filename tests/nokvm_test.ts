/**
 * A node on a host without KVM (SURE_KVM_DEVICE points at nothing): it starts,
 * warns, reports "degraded" in /healthz, still validates and stores deploys,
 * and answers invocations with 503 kvm_unavailable.
 */
import assert from "node:assert/strict";
import {
  dataplaneThreadCpus,
  DENO,
  deployForm,
  echoImage,
  hasLibsure,
  registerNodeToken,
  ROOT,
} from "./helpers.ts";

interface Spawned {
  url: string;
  child: Deno.ChildProcess;
  stderr: () => string;
}

/** Runs `sure serve --port 0` in a subprocess and waits for its listen line. */
export async function spawnNode(env: Record<string, string>, dataDir: string): Promise<Spawned> {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", `${ROOT}/main.ts`, "serve", "--port", "0", "--data-dir", dataDir],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) errText += chunk;
  })();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { done, value } = await lines.read();
    if (done) break;
    buf += value;
    const m = /"msg":"sure node listening on (http:\/\/[^"]+)"/.exec(buf);
    if (m) {
      // Keep draining stdout so the child never blocks on a full pipe.
      (async () => {
        while (!(await lines.read()).done) { /* discard */ }
      })();
      // The node wrote its admin token at start: talk to it as its owner.
      registerNodeToken(m[1], (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
      return { url: m[1], child, stderr: () => errText };
    }
  }
  child.kill("SIGKILL");
  throw new Error(`node did not start:\n${buf}\n${errText}`);
}

Deno.test({
  name: "no KVM: node starts degraded, deploys validate and store, invoke gets 503",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-nokvm-" });
    const node = await spawnNode({ SURE_KVM_DEVICE: "/nonexistent" }, dataDir);
    try {
      let res = await fetch(`${node.url}/healthz`);
      const h = await res.json();
      assert.equal(h.status, "degraded");
      assert.equal(h.kvm.available, false);
      assert.match(h.kvm.reason, /nonexistent/);
      assert.equal(h.instances, 0);
      assert.match(node.stderr(), /KVM is unavailable/);
      // Its data plane runs all the same: one loop thread, on the CPUs /proc gives it.
      assert.equal(h.dataplane.threads, 1);
      assert.deepEqual(h.dataplane.cpus, dataplaneThreadCpus(node.child.pid));

      res = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "echo", image: await echoImage() }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      res = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "bad", image: new TextEncoder().encode("nope") }),
      });
      assert.equal(res.status, 400);
      await res.body?.cancel();

      res = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "hi" });
      assert.equal(res.status, 503);
      const err = await res.json();
      assert.equal(err.error, "kvm_unavailable");
      assert.match(err.message, /KVM is unavailable/);

      res = await fetch(`${node.url}/healthz`);
      assert.equal((await res.json()).functions, 1);
    } finally {
      node.child.kill("SIGTERM");
      const status = await node.child.status;
      assert.equal(status.code, 0, `node exited with ${status.code}: ${node.stderr()}`);
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
