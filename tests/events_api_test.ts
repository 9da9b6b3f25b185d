/**
 * The events API through the node's app, without VMs (app.request on the
 * real store, KV queue and scheduler; every JSON answer checked against the
 * OpenAPI document): triggers, the sink in the three content modes as the
 * `cloudevents` SDK writes them, duplicates, validation, and dead letters
 * listed, replayed and deleted. Deliveries go to a function that was removed
 * after its trigger was made, so they fail (404) with or without KVM. And
 * the CLI's trigger and events commands (main() in-process) against a node on a socket.
 */
import assert from "node:assert/strict";
import { CloudEvent, HTTP } from "cloudevents";
import { main } from "../main.ts";
import type { EventBus } from "../runtime/events/bus.ts";
import {
  deployForm,
  deployFunction,
  echoImage,
  hasLibsure,
  openTestApp,
  startTestNode,
  type TestNode,
  waitForAsync,
} from "./helpers.ts";

type TestApp = Awaited<ReturnType<typeof openTestApp>>;

async function call(t: TestApp, method: string, path: string, body?: unknown) {
  const res = await t.app.request(path, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Posts an SDK message (binary or structured) to /events. */
async function publish(t: TestApp, msg: { headers: unknown; body: unknown }) {
  const res = await t.app.request("/events", {
    method: "POST",
    headers: msg.headers as Record<string, string>,
    body: typeof msg.body === "string" ? msg.body : JSON.stringify(msg.body),
  });
  return { status: res.status, body: await res.json() };
}

const sample = (id: string, source = "/orders/eu") =>
  new CloudEvent({ id, source, type: "com.example.order", data: { id, total: 3 } });

Deno.test({
  name: "events api: triggers, the sink in every mode, dead letters replayed and deleted",
  ignore: !hasLibsure,
  async fn() {
    const t = await openTestApp(undefined, { maxAttempts: 2, retryBaseMs: 10, retryMaxMs: 20 });
    try {
      t.events.listen();
      const dep = await t.app.request("/admin/functions", {
        method: "POST",
        body: deployForm({ name: "echo", image: await echoImage() }),
      });
      assert.equal(dep.status, 201, await dep.text());

      // Triggers: checked, listed, removed.
      let r = await call(t, "POST", "/admin/triggers", { type: "x", function: "nope" });
      assert.equal(r.status, 404);
      r = await call(t, "POST", "/admin/triggers", { type: "", function: "echo" });
      assert.deepEqual([r.status, r.body.field], [400, "type"]);
      r = await call(t, "POST", "/admin/triggers", { type: "x", function: "echo", extra: 1 });
      assert.deepEqual([r.status, r.body.field], [400, "extra"]);
      // Too long to store or key by, or with a control character: 400, never the store's 500.
      for (
        const bad of [
          { type: "t".repeat(100000), function: "echo" },
          { type: "x", sourcePrefix: "/".repeat(70000), function: "echo" },
          { type: "a\u0000b", function: "echo" },
        ]
      ) {
        r = await call(t, "POST", "/admin/triggers", bad);
        assert.equal(r.status, 400, JSON.stringify(r.body));
      }
      const longId = "z".repeat(5000);
      for (
        const [method, path] of [
          ["DELETE", `/admin/triggers/${longId}`],
          ["POST", `/admin/events/dead/${longId}/replay`],
          ["DELETE", `/admin/events/dead/${longId}`],
        ] as const
      ) {
        r = await call(t, method, path);
        assert.equal(r.status, 400, `${method} ${path.slice(0, 30)}: ${JSON.stringify(r.body)}`);
      }
      const trig = await call(t, "POST", "/admin/triggers", {
        type: "com.example.order",
        sourcePrefix: "/orders/",
        function: "echo",
      });
      assert.equal(trig.status, 201);
      assert.equal(trig.body.sourcePrefix, "/orders/");
      const other = await call(t, "POST", "/admin/triggers", { type: "other", function: "echo" });
      r = await call(t, "GET", "/admin/triggers");
      assert.deepEqual(r.body.triggers.map((x: { id: string }) => x.id), [
        trig.body.id,
        other.body.id,
      ]);
      r = await call(t, "DELETE", `/admin/triggers/${other.body.id}`);
      assert.deepEqual(r.body, { id: other.body.id, removed: true });
      assert.equal((await call(t, "DELETE", `/admin/triggers/${other.body.id}`)).status, 404);

      // The target goes away: its deliveries fail from now on.
      assert.equal((await call(t, "DELETE", "/admin/functions/echo")).status, 200);

      // The sink: binary, structured, batch (as the SDK writes them), duplicates.
      let p = await publish(t, HTTP.binary(sample("o-1")));
      assert.equal(p.status, 202, JSON.stringify(p.body));
      assert.deepEqual(p.body.accepted, [{ id: "o-1", source: "/orders/eu", duplicate: false }]);
      p = await publish(t, HTTP.binary(sample("o-1")));
      assert.equal(p.body.accepted[0].duplicate, true);
      p = await publish(t, HTTP.structured(sample("o-2", "/elsewhere")));
      assert.deepEqual([p.status, p.body.accepted[0].id], [202, "o-2"]);
      const batch = await t.app.request("/events", {
        method: "POST",
        headers: { "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify([sample("o-3"), sample("o-4")]),
      });
      assert.equal(batch.status, 202);
      assert.equal((await batch.json()).accepted.length, 2);

      // Not events, or malformed ones.
      const plain = await t.app.request("/events", { method: "POST", body: "hi" });
      assert.equal(plain.status, 415);
      const bad = await t.app.request("/events", {
        method: "POST",
        headers: { "ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s" },
      });
      assert.deepEqual([bad.status, (await bad.json()).field], [400, "type"]);

      // o-1, o-3, o-4 match the trigger (o-2's source does not): three dead letters.
      let dead: { id: string; attributes: { id: string }; lastStatus: number }[] = [];
      assert.ok(
        await waitForAsync(async () => {
          dead = (await call(t, "GET", "/admin/events/dead")).body.deadLetters;
          return dead.length === 3;
        }),
        JSON.stringify(dead),
      );
      assert.deepEqual(dead.map((d) => d.attributes.id).sort(), ["o-1", "o-3", "o-4"]);
      assert.ok(dead.every((d) => d.lastStatus === 404));

      // Replay: back on the queue, and (still failing) dead again after its attempts.
      const one = dead.find((d) => d.attributes.id === "o-1")!;
      r = await call(t, "POST", `/admin/events/dead/${one.id}/replay`);
      assert.deepEqual([r.status, r.body], [202, { id: one.id, replayed: true }]);
      assert.ok(
        await waitForAsync(async () =>
          (await call(t, "GET", "/admin/events/dead")).body.deadLetters.length === 3 &&
          (await (t.events as EventBus).pending()).length === 0
        ),
      );
      // Delete: gone, and a second delete or replay is a 404.
      assert.equal((await call(t, "DELETE", `/admin/events/dead/${one.id}`)).status, 200);
      assert.equal((await call(t, "DELETE", `/admin/events/dead/${one.id}`)).status, 404);
      assert.equal((await call(t, "POST", `/admin/events/dead/${one.id}/replay`)).status, 404);
      r = await call(t, "GET", "/admin/events/dead");
      assert.equal(r.body.deadLetters.length, 2);

      // All of it is in the OpenAPI document.
      const doc = (await call(t, "GET", "/admin/openapi.json")).body;
      for (
        const path of [
          "/events",
          "/admin/triggers",
          "/admin/triggers/{id}",
          "/admin/events/dead",
          "/admin/events/dead/{id}/replay",
          "/admin/events/dead/{id}",
        ]
      ) assert.ok(doc.paths[path], path);
    } finally {
      await t.close();
    }
  },
});

/**
 * The CLI's main() in this process (a subprocess per command costs seconds
 * each in the nested-KVM guest), its console output captured.
 */
async function sure(node: TestNode, args: string[]) {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main([...args, "--node", node.url]);
    return { code, stdout: out.join("\n") + "\n", stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test({
  name: "events cli: trigger add, ls, rm; events dead, replay and drop of a missing letter",
  ignore: !hasLibsure,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await echoImage());
      let r = await sure(node, ["trigger", "add", "--type", "com.x", "--function", "echo"]);
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.match(/^added trigger (\S+)$/m)?.[1];
      assert.ok(id, r.stdout);
      r = await sure(node, [
        "trigger",
        "add",
        "--type",
        "com.y",
        "--source-prefix",
        "/a/",
        "--function",
        "echo",
      ]);
      assert.equal(r.code, 0, r.stderr);
      r = await sure(node, ["trigger", "ls"]);
      assert.match(r.stdout, /^ID\s+TYPE\s+SOURCE PREFIX\s+FUNCTION$/m);
      assert.match(r.stdout, new RegExp(`^${id}\\s+com\\.x\\s+-\\s+echo$`, "m"));
      assert.match(r.stdout, /\scom\.y\s+\/a\/\s+echo$/m);
      r = await sure(node, ["trigger", "rm", id]);
      assert.equal(r.code, 0, r.stderr);
      r = await sure(node, ["trigger", "ls", "--json"]);
      assert.deepEqual(JSON.parse(r.stdout).map((t: { type: string }) => t.type), ["com.y"]);
      r = await sure(node, ["trigger", "add", "--type", "com.x", "--function", "nope"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /function nope does not exist/);
      r = await sure(node, ["trigger", "add", "--type", "com.x"]);
      assert.equal(r.code, 2);

      r = await sure(node, ["events", "dead", "--json"]);
      assert.deepEqual([r.code, JSON.parse(r.stdout)], [0, []]);
      r = await sure(node, ["events", "replay", "nope"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /dead letter nope does not exist/);
      r = await sure(node, ["events", "drop", "nope"]);
      assert.equal(r.code, 1);
      r = await sure(node, ["events", "frob"]);
      assert.equal(r.code, 2);
    } finally {
      await node.close();
    }
  },
});
