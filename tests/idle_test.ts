/**
 * An idle instance does not burn CPU: after a short spin its guest rings the
 * SLEEP doorbell and its vCPU thread waits on a futex; a new request wakes it.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { deployForm, echoImage, hasKvm, startTestNode } from "./helpers.ts";

/** CPU time (ms) this process used, all threads, vCPU threads included. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

Deno.test({
  name: "idle: warm instances sleep without burning CPU and wake for the next request",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      const res = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "echo", image: await echoImage() }),
      });
      assert.equal(res.status, 201, await res.text());
      // Several concurrent requests so that more than one instance is warm.
      const answers = await Promise.all(
        Array.from(
          { length: 4 },
          (_, i) =>
            fetch(`${node.url}/invoke/echo`, { method: "POST", body: `r${i}` }).then((r) =>
              r.text()
            ),
        ),
      );
      assert.deepEqual(answers, ["r0", "r1", "r2", "r3"]);
      await new Promise((r) => setTimeout(r, 200)); // past the guests' spin

      const before = cpuMs();
      await new Promise((r) => setTimeout(r, 1000));
      const used = cpuMs() - before;
      // One spinning vCPU alone would use ~1000 ms here.
      assert.ok(used < 150, `idle node used ${used.toFixed(1)} ms of CPU in 1 s`);

      const r = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "awake" });
      assert.equal(await r.text(), "awake");
    } finally {
      await node.close();
    }
  },
});
