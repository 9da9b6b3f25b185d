/**
 * State that upgrades: tests/fixtures/state-v1 is a data dir written by the
 * release before state versions were kept (two functions, one with settings,
 * env and a secret, and an event trigger; made with `sure` at 0ea006d). This
 * sure migrates it and serves what it held (where guests have protection
 * keys, its images, built before the gates, are kept but refused with a reason
 * to rebuild); an older sure (played by setting a newer version) refuses newer
 * state before it writes anything.
 */
import assert from "node:assert/strict";
import { startNode } from "../runtime/node.ts";
import { memoryLogger } from "../runtime/log.ts";
import { STATE_SCHEMA } from "../runtime/store/schema.ts";
import { hasGuestPku, hasKvm, hasLibsure, ROOT, startTestNode } from "./helpers.ts";

async function v1Copy(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sure-state-" });
  const from = `${ROOT}/tests/fixtures/state-v1`;
  await Deno.copyFile(`${from}/state.kv`, `${dir}/state.kv`);
  await Deno.mkdir(`${dir}/images`);
  for (const e of Deno.readDirSync(`${from}/images`)) {
    await Deno.copyFile(`${from}/images/${e.name}`, `${dir}/images/${e.name}`);
  }
  return dir;
}

async function entries(dataDir: string): Promise<unknown[]> {
  const kv = await Deno.openKv(`${dataDir}/state.kv`);
  try {
    const out = [];
    for await (const e of kv.list({ prefix: [] })) out.push([e.key, e.value]);
    return out;
  } finally {
    kv.close();
  }
}

Deno.test({
  name: "state: a data dir of the release before versions is migrated, and serves what it held",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await v1Copy();
    const node = await startTestNode({ dataDir });
    try {
      assert.ok(node.records.some((r) => r.msg === `state migrated from version 1 to 2`));
      const fns = (await (await fetch(`${node.url}/admin/functions`)).json()).functions;
      assert.deepEqual(fns.map((f: { name: string }) => f.name).sort(), ["echo", "greeter"]);
      const g = await (await fetch(`${node.url}/admin/functions/greeter`)).json();
      assert.equal(g.memory, 32);
      assert.equal(g.maxInstances, 3);
      assert.equal(g.rateLimit, 50);
      assert.deepEqual(g.env, { GREETING: "hello" });
      assert.deepEqual(g.secrets, ["TOKEN"]);
      assert.equal(g.access, "public"); // a setting it predates: its default
      const triggers = (await (await fetch(`${node.url}/admin/triggers`)).json()).triggers;
      assert.equal(triggers.length, 1);
      assert.equal(triggers[0].function, "echo");
      if (hasKvm && !hasGuestPku) {
        const r = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "kept" });
        assert.equal(r.status, 200);
        assert.equal(await r.text(), "kept");
      } else if (hasGuestPku) {
        // Its images predate the gates (ABI 5): where guests have protection
        // keys they cannot run, and the node says so, keeping them stored.
        assert.ok(
          node.records.some((r) =>
            /stored image of echo no longer passes the check: .*before the gates.*sure build/
              .test(String(r.msg))
          ),
        );
      }
    } finally {
      await node.close();
    }
    // Written out whole at the new version; a second start migrates nothing.
    const kv = await Deno.openKv(`${dataDir}/state.kv`);
    assert.equal((await kv.get(["meta", "schema"])).value, STATE_SCHEMA);
    const rec = (await kv.get<Record<string, unknown>>(["functions", "greeter"])).value!;
    assert.equal(rec.access, "public");
    kv.close();
    const again = await startTestNode({ dataDir });
    assert.ok(!again.records.some((r) => /state migrated/.test(String(r.msg))));
    await again.close();
    await Deno.remove(dataDir, { recursive: true });
  },
});

Deno.test({
  name: "state: an older sure refuses newer state, saying so, and changes nothing",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await v1Copy();
    const kv = await Deno.openKv(`${dataDir}/state.kv`);
    await kv.set(["meta", "schema"], STATE_SCHEMA + 7);
    kv.close();
    const before = await entries(dataDir);
    const images = [...Deno.readDirSync(`${dataDir}/images`)].map((e) => e.name).sort();
    const { logger } = memoryLogger();
    await assert.rejects(
      startNode({ port: 0, dataDir, logger }),
      new RegExp(
        `state version ${STATE_SCHEMA + 7}, written by a newer sure; this sure knows versions ` +
          `up to ${STATE_SCHEMA}.*nothing was changed`,
      ),
    );
    assert.deepEqual(await entries(dataDir), before);
    assert.deepEqual([...Deno.readDirSync(`${dataDir}/images`)].map((e) => e.name).sort(), images);
    await Deno.remove(dataDir, { recursive: true });
  },
});
