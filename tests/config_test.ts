/**
 * A function's env values and secrets end to end on real KVM: deployed with
 * the CLI (--env, --secret @file, "env" in sure.json), seen by the function
 * (in sure_init too), changed without a rebuild (sure env / sure secret: a
 * new template, so init sees the new value), kept over a node restart, and
 * a chain step using the function sees them too, and the secret's value
 * in no CLI output, admin answer, OpenAPI document, node
 * log record or function log line.
 */
import assert from "node:assert/strict";
import { DENO, hasKvm, ROOT, startTestNode, type TestNode, tokenFor } from "./helpers.ts";

const SECRET = "s3cr3t-7d1e0b9a";
const SECRET2 = "s3cr3t-second-44c2";
const FIXTURE = `${ROOT}/tests/fixtures/functions/config`;

async function sure(args: string[]): Promise<{ code: number; out: string }> {
  const token = tokenFor(args[args.indexOf("--node") + 1] ?? "");
  const r = await new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}/main.ts`, ...args],
    env: token ? { SURE_TOKEN: token } : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

async function ask(node: TestNode, name: string): Promise<string> {
  const res = await fetch(`${node.url}/invoke/config`, { method: "POST", body: name });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

async function viaChain(node: TestNode, name: string): Promise<string> {
  const res = await fetch(`${node.url}/invoke/cfg-chain`, { method: "POST", body: name });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

async function get(node: TestNode, path: string): Promise<string> {
  const res = await fetch(`${node.url}${path}`);
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${text}`);
  return text;
}

function noSecret(what: string, text: string): void {
  for (const s of [SECRET, SECRET2]) assert.ok(!text.includes(s), `${what} shows a secret`);
}

Deno.test({
  name: "config: env and secrets reach the function, change, survive a restart, never leak",
  ignore: !hasKvm,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "sure-config-" });
    await Deno.writeTextFile(`${tmp}/token`, SECRET);
    await Deno.writeTextFile(`${tmp}/token2`, SECRET2);
    let node = await startTestNode();
    const outputs: string[] = [];
    const run = async (args: string[], code = 0) => {
      const r = await sure([...args, "--node", node.url]);
      outputs.push(r.out);
      assert.equal(r.code, code, `sure ${args.join(" ")}: ${r.out}`);
      return r.out;
    };
    try {
      let out = await run([
        "deploy",
        FIXTURE,
        "--env",
        "GREETING=hello",
        "--env",
        "EXTRA=a=b",
        "--secret",
        `TOKEN=@${tmp}/token`,
      ]);
      assert.deepEqual(JSON.parse(out).secrets, ["TOKEN"]);
      assert.equal(await ask(node, "GREETING"), "hello|hello", "--env over sure.json, in init");
      assert.equal(await ask(node, "MODE"), "hello|file", "sure.json env");
      assert.equal(await ask(node, "EXTRA"), "hello|a=b");
      assert.equal(await ask(node, "TOKEN"), `hello|${SECRET}`);
      assert.equal(await ask(node, "NOPE"), "hello|(unset)");

      // A chain step is the deployed function, with its env and secrets.
      const applied = await fetch(`${node.url}/admin/chains`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "cfg-chain", steps: ["config"] }),
      });
      assert.equal(applied.status, 201, await applied.text());
      assert.equal(await viaChain(node, "TOKEN"), `hello|${SECRET}`);

      // Changed without a rebuild: a new template, so init sees the new value.
      out = await run(["env", "config", "set", "GREETING=bye", "NEW=1"]);
      assert.match(out, /^GREETING=bye$/m);
      assert.equal(await ask(node, "GREETING"), "bye|bye");
      assert.equal(await ask(node, "NEW"), "bye|1");
      out = await run(["secret", "config", "set", `TOKEN=@${tmp}/token2`]);
      assert.equal(out.trim(), "TOKEN");
      assert.equal(await ask(node, "TOKEN"), `bye|${SECRET2}`);
      assert.equal(await viaChain(node, "TOKEN"), `bye|${SECRET2}`, "the step got the change");

      // A request in flight finishes on the old values; the next one sees the new.
      let slowDone = false;
      const slow = fetch(`${node.url}/invoke/config`, { method: "POST", body: "slow:NEW" });
      slow.then(() => slowDone = true, () => {});
      await new Promise((r) => setTimeout(r, 300));
      const patched = await fetch(`${node.url}/admin/functions/config/env`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ set: { NEW: "2" } }),
      });
      assert.equal(patched.status, 200, await patched.text());
      assert.ok(!slowDone, "the slow request was still in flight when the value changed");
      const inFlight = await slow;
      assert.equal(inFlight.status, 200);
      assert.equal(await inFlight.text(), "bye|1");
      assert.equal(await ask(node, "NEW"), "bye|2");

      // Bad input: a clear error, and the function keeps what it had.
      out = await run(["env", "config", "set", "BAD-NAME=x"], 2);
      assert.match(out, /must match/);
      out = await run(["env", "config", "set", `BIG=${"x".repeat(20000)}`], 1);
      assert.match(out, /400|bytes/);
      out = await run(["env", "config", "set", "TOKEN=clash"], 1);
      assert.match(out, /both an environment value and a secret/);
      const bad = await fetch(`${node.url}/admin/functions/config/secrets/1X`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: SECRET }),
      });
      assert.equal(bad.status, 400);
      noSecret("a 400", await bad.text());
      assert.equal(await ask(node, "TOKEN"), `bye|${SECRET2}`);
      assert.equal(await ask(node, "GREETING"), "bye|bye");

      // Nowhere to be read back.
      noSecret("GET function", await get(node, "/admin/functions/config"));
      noSecret("list", await get(node, "/admin/functions"));
      noSecret("OpenAPI", await get(node, "/admin/openapi.json"));
      noSecret("instances", await get(node, "/admin/functions/config/instances"));
      const logs = await get(node, "/admin/functions/config/logs?tail=1000");
      assert.match(logs, /config: asked for TOKEN/);
      noSecret("function logs", logs);
      noSecret("CLI output", outputs.join("\n"));
      noSecret("secret ls", await run(["secret", "config"]));

      // A restart restores both from Deno KV.
      const records = [...node.records];
      await node.close();
      node = await startTestNode({ dataDir: node.dataDir });
      assert.equal(await ask(node, "GREETING"), "bye|bye");
      assert.equal(await ask(node, "TOKEN"), `bye|${SECRET2}`);
      assert.equal(await viaChain(node, "GREETING"), "bye|bye");
      await run(["secret", "config", "rm", "TOKEN"]);
      assert.equal(await ask(node, "TOKEN"), "bye|(unset)");
      noSecret("node log", JSON.stringify([...records, ...node.records]));
    } finally {
      await node.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
