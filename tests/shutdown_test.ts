/**
 * Shutdown that says what it does: `sure serve` in a subprocess, stopped with
 * SIGTERM while a request runs (it is drained and answered, and the log says
 * how many and for how long), and with a second signal while one cannot
 * finish (it stops at once and says what it cut).
 */
import assert from "node:assert/strict";
import { DENO, faultyImage, hasKvm, hasLibsure, registerNodeToken, ROOT } from "./helpers.ts";

interface Served {
  url: string;
  child: Deno.ChildProcess;
  out: () => string;
}

async function serve(dataDir: string): Promise<Served> {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", `${ROOT}/main.ts`, "serve", "--port", "0", "--data-dir", dataDir],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  for (const s of [child.stdout, child.stderr]) {
    (async () => {
      for await (const c of s.pipeThrough(new TextDecoderStream())) text += c;
    })();
  }
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    const m = /"msg":"sure node listening on (http:\/\/[^"]+)"/.exec(text);
    if (m) {
      registerNodeToken(m[1], (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
      return { url: m[1], child, out: () => text };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`node did not start: ${text}`);
}

async function deployFaulty(url: string) {
  const form = new FormData();
  form.append("name", "faulty");
  form.append("timeout", "20000");
  form.append("image", new File([await faultyImage()], "faulty.sure"));
  const r = await fetch(`${url}/admin/functions`, { method: "POST", body: form });
  assert.equal(r.status, 201, await r.text());
}

Deno.test({
  name: "shutdown: SIGTERM with nothing in flight says so and stops cleanly",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-stop-" });
    const node = await serve(dataDir);
    node.child.kill("SIGTERM");
    const status = await node.child.status;
    assert.equal(status.code, 0, node.out());
    assert.match(node.out(), /SIGTERM: stopping, draining 0 request\(s\) for up to 5 s/);
    assert.match(node.out(), /"msg":"stopped"/);
    await Deno.remove(dataDir, { recursive: true });
  },
});

Deno.test({
  name: "shutdown: a request in flight is drained; a second signal cuts what is left, saying so",
  ignore: !hasKvm,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-stop-" });
    let node = await serve(dataDir);
    try {
      await deployFaulty(node.url);
      const slow = fetch(`${node.url}/invoke/faulty`, { method: "POST", body: "busy:1500" });
      await new Promise((r) => setTimeout(r, 500));
      node.child.kill("SIGTERM");
      const r = await slow;
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "ok");
      assert.equal((await node.child.status).code, 0, node.out());
      assert.match(node.out(), /draining 1 request\(s\) for up to 5 s/);

      node = await serve(dataDir);
      const stuck = fetch(`${node.url}/invoke/faulty`, { method: "POST", body: "loop" })
        .catch((e) => e);
      await new Promise((r) => setTimeout(r, 1000));
      node.child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 500));
      node.child.kill("SIGTERM");
      assert.equal((await node.child.status).code, 1, node.out());
      assert.match(node.out(), /draining 1 request\(s\)/);
      assert.match(node.out(), /stopping at once: 1 request\(s\) cut/);
      await stuck;
    } finally {
      try {
        node.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
