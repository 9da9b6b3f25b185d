/**
 * One node per data directory, and ports checked before anything is
 * restored: a second node on a data dir stops at once naming the first one
 * (its PID and address), a taken port is named with the flag that changes
 * it, and a node killed with SIGKILL leaves no lock behind.
 */
import assert from "node:assert/strict";
import { startNode } from "../runtime/node.ts";
import { memoryLogger } from "../runtime/log.ts";
import { DENO, hasLibsure, ROOT, startTestNode } from "./helpers.ts";

Deno.test({
  name:
    "lock: a second node on a data dir stops at once, naming the running node's PID and address",
  ignore: !hasLibsure,
  async fn() {
    const first = await startTestNode();
    try {
      const { logger, records } = memoryLogger();
      await assert.rejects(
        startNode({ port: 0, dataDir: first.dataDir, logger }),
        (e: Error) => {
          assert.match(e.message, new RegExp(`in use by the node with PID ${Deno.pid}`));
          assert.ok(e.message.includes(`listening on ${first.url}`), e.message);
          assert.match(e.message, /--data-dir/);
          return true;
        },
      );
      assert.equal(records.length, 0, "it did nothing before it stopped");
      // The first one still serves.
      const h = await fetch(`${first.url}/healthz`);
      assert.equal(h.status, 200);
      await h.body?.cancel();
    } finally {
      await first.close();
    }
    // Stopped: the data dir is free again.
    const again = await startTestNode({ dataDir: first.dataDir });
    await again.close();
  },
});

for (const dataplane of ["hono", "sockets"] as const) {
  Deno.test({
    name: `lock: a taken port is named with --port before anything is restored (${dataplane})`,
    ignore: !hasLibsure,
    async fn() {
      // A data dir with something to restore.
      const node = await startTestNode();
      const dataDir = node.dataDir;
      const res = await fetch(`${node.url}/admin/chains`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "c", steps: ["nope"] }),
      });
      await res.body?.cancel();
      await node.close();
      const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = (taken.addr as Deno.NetAddr).port;
        const { logger, records } = memoryLogger();
        await assert.rejects(
          startNode({ port, dataDir, logger, dataplane }),
          new RegExp(`${port}.*(in use|already in use).*--port.*SURE_PORT`),
        );
        assert.ok(!records.some((r) => /restored/.test(String(r.msg))), "nothing was restored");
      } finally {
        taken.close();
      }
      // And the lock went with the failed start.
      const after = await startTestNode({ dataDir });
      await after.close();
    },
  });
}

Deno.test({
  name: "lock: a node killed with SIGKILL leaves no lock behind",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-lock-" });
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", `${ROOT}/main.ts`, "serve", "--port", "0", "--data-dir", dataDir],
      env: { SURE_DATAPLANE: "hono" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (const end = Date.now() + 30_000; !/sure node listening/.test(buf) && Date.now() < end;) {
      const { done, value } = await lines.read();
      if (done) break;
      buf += value;
    }
    assert.match(buf, /sure node listening/);
    const { logger } = memoryLogger();
    await assert.rejects(
      startNode({ port: 0, dataDir, logger }),
      new RegExp(`PID ${child.pid}`),
    );
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel();
    const next = await startTestNode({ dataDir });
    await next.close();
    await Deno.remove(dataDir, { recursive: true });
  },
});
