/**
 * A function's env and secrets through the admin API (app.request, real Deno
 * KV and image checker, no VM): deploy form fields, GET/list show env values
 * and secret names only, PATCH env and PUT/DELETE secrets, 400s that change
 * nothing, a restart that keeps everything; the secret's value is in no
 * answer, OpenAPI document, log record or KV key.
 */
import assert from "node:assert/strict";
import {
  deployForm,
  echoImage,
  hasLibsure,
  openTestApp,
  snapshotState,
} from "../../tests/helpers.ts";

const SECRET = "hunter2-9f3a61c0";
const json = (method: string, body: unknown) => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

Deno.test({
  name: "admin config: env and secrets deployed, shown (names only), changed, kept",
  ignore: !hasLibsure,
  async fn() {
    let t = await openTestApp();
    const answers: string[] = [];
    const req = async (path: string, init?: RequestInit) => {
      const res = await t.app.request(path, init);
      const text = await res.text();
      answers.push(text);
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    try {
      const image = await echoImage();
      const form = deployForm({ name: "cfg", image });
      form.append("env", "GREETING=hello=world");
      form.append("env", "EMPTY=");
      form.append("secret", `TOKEN=${SECRET}`);
      let r = await req("/admin/functions", { method: "POST", body: form });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.env, { EMPTY: "", GREETING: "hello=world" });
      assert.deepEqual(r.body.secrets, ["TOKEN"]);
      r = await req("/admin/functions/cfg");
      assert.deepEqual(r.body.secrets, ["TOKEN"]);
      r = await req("/admin/functions");
      assert.deepEqual(r.body.functions[0].secrets, ["TOKEN"]);

      // Bad input: 400 naming the field, never quoting a secret; nothing changes.
      const before = await snapshotState(t.dataDir);
      const bad: [string, RequestInit][] = [
        ["/admin/functions/cfg/env", json("PATCH", { set: { "bad-name": "x" } })],
        ["/admin/functions/cfg/env", json("PATCH", { set: { A: "nul\0" } })],
        ["/admin/functions/cfg/env", json("PATCH", {})],
        ["/admin/functions/cfg/env", json("PATCH", { set: { TOKEN: "clash" } })],
        ["/admin/functions/cfg/env", json("PATCH", { set: { BIG: "x".repeat(20000) } })],
        ["/admin/functions/cfg/secrets/TOKEN", json("PUT", { value: `${SECRET}\0` })],
        ["/admin/functions/cfg/secrets/GREETING", json("PUT", { value: SECRET })],
        ["/admin/functions/cfg/secrets/BIG", json("PUT", { value: SECRET.repeat(2000) })],
        ["/admin/functions/cfg/secrets/1BAD", json("PUT", { value: SECRET })],
        ["/admin/functions/cfg/secrets/X", json("PUT", { value: 5 })],
      ];
      for (const [path, init] of bad) {
        r = await req(path, init);
        assert.equal(r.status, 400, `${path} ${init.body}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, "validation_error");
        assert.ok(r.body.field, JSON.stringify(r.body));
      }
      const badForm = deployForm({ name: "cfg", image });
      badForm.append("secret", `BAD-NAME=${SECRET}`);
      r = await req("/admin/functions", { method: "POST", body: badForm });
      assert.equal(r.status, 400);
      assert.equal(r.body.field, "secret");
      const dupForm = deployForm({ name: "cfg", image });
      dupForm.append("env", "A=1");
      dupForm.append("env", "A=2");
      r = await req("/admin/functions", { method: "POST", body: dupForm });
      assert.equal(r.status, 400);
      assert.match(r.body.message, /given more than once/);
      r = await req("/admin/functions/cfg/secrets/NOPE", { method: "DELETE" });
      assert.equal(r.status, 404);
      r = await req("/admin/functions/none/env", json("PATCH", { set: { A: "1" } }));
      assert.equal(r.status, 404);
      assert.equal(await snapshotState(t.dataDir), before);

      // Changes without a rebuild.
      r = await req(
        "/admin/functions/cfg/env",
        json("PATCH", { set: { A: "1" }, unset: ["EMPTY"] }),
      );
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.env, { A: "1", GREETING: "hello=world" });
      r = await req("/admin/functions/cfg/secrets/OTHER", json("PUT", { value: `${SECRET}-2` }));
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.secrets, ["OTHER", "TOKEN"]);
      r = await req("/admin/functions/cfg/secrets/OTHER", { method: "DELETE" });
      assert.deepEqual(r.body.secrets, ["TOKEN"]);
      // A scaling PATCH keeps them.
      r = await req("/admin/functions/cfg", json("PATCH", { maxInstances: 3 }));
      assert.deepEqual(r.body.secrets, ["TOKEN"]);
      // A number too large to be a safe integer is out of range, as the message says.
      for (const n of [1e308, 1.5]) {
        r = await req("/admin/functions/cfg", json("PATCH", { maxInstances: n }));
        assert.equal(r.status, 400);
        assert.match(r.body.message, /maxInstances: must be an integer from 1 to \d+/);
      }
      assert.deepEqual(await t.store.secrets("cfg"), { TOKEN: SECRET });

      // The secret is in KV, apart from the public record and in no key.
      const kv = t.store.kv;
      for await (const e of kv.list({ prefix: [] })) {
        assert.ok(!JSON.stringify(e.key).includes(SECRET), "no secret in a KV key");
        if (e.key[0] === "functions") {
          assert.ok(!JSON.stringify(e.value).includes(SECRET), "not in the public record");
        }
      }

      r = await req("/admin/openapi.json");
      assert.ok(r.body.paths["/admin/functions/{name}/secrets/{key}"].put);

      // A restart keeps env and secrets.
      const records = [...t.records];
      await t.close();
      t = await openTestApp(t.dataDir);
      r = await req("/admin/functions/cfg");
      assert.deepEqual(r.body.env, { A: "1", GREETING: "hello=world" });
      assert.deepEqual(r.body.secrets, ["TOKEN"]);
      assert.deepEqual(await t.store.secrets("cfg"), { TOKEN: SECRET });

      // A redeploy replaces the env values and keeps the secrets it does not name.
      const again = deployForm({ name: "cfg", image });
      again.append("secret", `OTHER=${SECRET}-3`);
      r = await req("/admin/functions", { method: "POST", body: again });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.env, {});
      assert.deepEqual(r.body.secrets, ["OTHER", "TOKEN"]);
      assert.deepEqual(await t.store.secrets("cfg"), { OTHER: `${SECRET}-3`, TOKEN: SECRET });
      // One that would make a kept secret an env value too is refused, and changes nothing.
      const state = await snapshotState(t.dataDir);
      const clash = deployForm({ name: "cfg", image });
      clash.append("env", "TOKEN=x");
      r = await req("/admin/functions", { method: "POST", body: clash });
      assert.equal(r.status, 400);
      assert.equal(r.body.field, "secrets");
      assert.equal(await snapshotState(t.dataDir), state);
      // Deleting the function deletes its secrets.
      r = await req("/admin/functions/cfg", { method: "DELETE" });
      assert.equal(r.status, 200);
      assert.deepEqual(await t.store.secrets("cfg"), {});

      for (const a of answers) assert.ok(!a.includes(SECRET.slice(0, 8)), `answer leaks: ${a}`);
      const logs = JSON.stringify([...records, ...t.records]);
      assert.ok(!logs.includes(SECRET.slice(0, 8)), "no log record holds the secret");
      assert.match(logs, /function configuration changed/);
    } finally {
      await t.close();
    }
  },
});
