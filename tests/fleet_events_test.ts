/**
 * Events in a fleet, for real (nats-server and `sure serve --fleet` nodes as
 * processes): a trigger made through one node routes the events every node
 * accepts; an event accepted by a node that is then killed (SIGKILL, before
 * anything could deliver it: the function's only node was down) is still
 * delivered once that node is back; a repeat of it is a duplicate on any
 * node; a delivery that fails every attempt is a dead letter every node
 * lists, and a replay through another node runs it again.
 *
 * Where there is no KVM the functions answer 503 (kvm_unavailable), so there
 * the first event ends as a dead letter too: still delivered to the function
 * every time it was tried, and nothing lost.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { deployForm, echoImage, faultyImage, hasKvm, hasLibsure } from "./helpers.ts";
import {
  deploy,
  type FleetNode,
  hasNats,
  names,
  startNats,
  startNode,
  stopNats,
  stopNode,
  until,
} from "./fleet_helpers.ts";

/** Four attempts: 1 s, 2 s, 4 s apart. */
const EVENTS = { SURE_EVENT_ATTEMPTS: "4" };

async function post(n: FleetNode, id: string, type: string, data: string) {
  const res = await fetch(`${n.url}/events`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test/fleet",
      "ce-type": type,
      "content-type": "text/plain",
    },
    body: data,
  });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  return body.accepted[0] as { id: string; duplicate: boolean };
}

interface Dead {
  id: string;
  function: string;
  attempts: number;
  lastStatus?: number;
  attributes: Record<string, string>;
}

async function deadLetters(n: FleetNode): Promise<Dead[]> {
  const r = await fetch(`${n.url}/admin/events/dead`);
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.deadLetters;
}

Deno.test({
  name: "fleet events: triggers fleet-wide; an event outlives the node that accepted it; " +
    "dead letters and replays anywhere",
  ignore: !hasLibsure || !hasNats,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const nats = await startNats(await Deno.makeTempDir({ prefix: "sure-nats-" }));
    const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
    const nodes: FleetNode[] = [];
    try {
      let a = await startNode("a", nats.port, "site=north", EVENTS);
      const b = await startNode("b", nats.port, "site=south", EVENTS);
      nodes.push(a, b);
      // echo runs on a only; faulty on both.
      let res = await deploy(b, { name: "echo" }, [["labels", "site=north"]]);
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      res = await fetch(`${a.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "faulty", image: await faultyImage() }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      await until("echo on a", async () => (await names(a)).includes("echo"));
      await until("faulty on b", async () => (await names(b)).includes("faulty"));

      // A trigger made through b is a's too (and a trigger for nothing is a 404).
      for (const [type, fn] of [["com.example.ping", "echo"], ["com.example.fail", "faulty"]]) {
        const t = await fetch(`${b.url}/admin/triggers`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ type, function: fn }),
        });
        assert.equal(t.status, 201, await t.clone().text());
        await t.body?.cancel();
      }
      const missing = await fetch(`${a.url}/admin/triggers`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "x", function: "nowhere" }),
      });
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const listed = await (await fetch(`${a.url}/admin/triggers`)).json();
      assert.deepEqual(
        listed.triggers.map((t: { function: string }) => t.function).sort(),
        ["echo", "faulty"],
      );

      // a goes down: echo runs nowhere. b accepts a ping, tries it, and is killed.
      await stopNode(a);
      const jsm = await jetstreamManager(nc);
      const deliveries = () => jsm.consumers.info("SURE_EVENTS", "sure-deliver");
      assert.deepEqual(await post(b, "p-1", "com.example.ping", "hello"), {
        id: "p-1",
        source: "/test/fleet",
        duplicate: false,
      });
      assert.equal((await post(b, "p-1", "com.example.ping", "hello")).duplicate, true);
      await until(
        "b tried the delivery",
        async () => (await deliveries()).delivered.stream_seq > 0,
      );
      await stopNode(b, "SIGKILL");

      // a comes back (its data dir: echo with it) and delivers the ping b accepted.
      a = await startNode("a", nats.port, "site=north", EVENTS, a.dataDir);
      nodes.push(a);
      assert.equal((await post(a, "p-1", "com.example.ping", "again")).duplicate, true);
      if (hasKvm) {
        // Delivered: acknowledged (only a 2xx does that) and not a dead letter.
        await until("the ping delivered", async () => {
          const i = await deliveries();
          return i.num_pending === 0 && i.num_ack_pending === 0;
        }, 120_000);
        assert.deepEqual((await deadLetters(a)).map((d) => d.function), []);
      } else {
        await until("the ping dead-lettered", async () => (await deadLetters(a)).length === 1);
        const [d] = await deadLetters(a);
        assert.deepEqual([d.function, d.attempts, d.lastStatus], ["echo", 4, 503]);
        assert.equal(d.attributes.id, "p-1");
        const gone = await fetch(`${a.url}/admin/events/dead/${d.id}`, { method: "DELETE" });
        assert.equal(gone.status, 200);
        await gone.body?.cancel();
      }

      // A delivery that fails every time: a dead letter, with what the function said.
      const c = await startNode("c", nats.port, "site=south", EVENTS);
      nodes.push(c);
      await post(c, "f-1", "com.example.fail", "status:500");
      let dead: Dead[] = [];
      await until("the failure dead-lettered", async () => {
        dead = await deadLetters(c);
        return dead.length === 1;
      }, 120_000);
      assert.deepEqual(
        [dead[0].function, dead[0].attempts, dead[0].lastStatus],
        ["faulty", 4, hasKvm ? 500 : 503],
      );
      assert.deepEqual((await deadLetters(a)).map((d) => d.id), [dead[0].id]);

      // Fixed (echo under faulty's name, through c) and replayed through a: delivered.
      res = await fetch(`${c.url}/admin/functions`, {
        method: "POST",
        body: deployForm({ name: "faulty", image: await echoImage() }),
      });
      assert.ok(res.status === 200 || res.status === 201, await res.clone().text());
      await res.body?.cancel();
      const replay = await fetch(`${a.url}/admin/events/dead/${dead[0].id}/replay`, {
        method: "POST",
      });
      assert.equal(replay.status, 202, await replay.clone().text());
      await replay.body?.cancel();
      assert.deepEqual(await deadLetters(c), []);
      const again = await fetch(`${a.url}/admin/events/dead/${dead[0].id}/replay`, {
        method: "POST",
      });
      assert.equal(again.status, 404);
      await again.body?.cancel();
      if (hasKvm) {
        await until("the replay delivered", async () => {
          const i = await deliveries();
          return i.num_pending === 0 && i.num_ack_pending === 0;
        }, 120_000);
        assert.deepEqual(await deadLetters(c), []);
      } else {
        await until("the replay dead again", async () => (await deadLetters(c)).length === 1);
      }
      // Junk ids are a plain 404.
      for (const id of ["x", "../../x", `${"a".repeat(32)}.nope`]) {
        const r = await fetch(`${c.url}/admin/events/dead/${encodeURIComponent(id)}`, {
          method: "DELETE",
        });
        assert.equal(r.status, 404, id);
        await r.body?.cancel();
      }
    } finally {
      await nc.close();
      for (const n of nodes) await stopNode(n);
      await stopNats(nats);
    }
  },
});

Deno.test({
  name: "fleet events: junk anyone writes into the fleet's triggers, stream and dead letters " +
    "is ignored or dropped, said in the log, never delivered",
  ignore: !hasLibsure || !hasNats,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const nats = await startNats(await Deno.makeTempDir({ prefix: "sure-nats-" }));
    const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
    let a: FleetNode | undefined;
    try {
      a = await startNode("a", nats.port, "", EVENTS);
      const res = await deploy(a, { name: "echo" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      const t = await fetch(`${a.url}/admin/triggers`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "com.example.ping", function: "echo" }),
      });
      assert.equal(t.status, 201);
      const good = (await t.json()).id as string;

      // Trigger and dead-letter records that are not (bad JSON, wrong shape, a
      // key that is not its id, a function name no node accepts).
      const kvm = new Kvm(nc);
      const triggers = await kvm.open("sure_triggers");
      const dead = await kvm.open("sure_dead_letters");
      const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
      await triggers.put("junk", new TextEncoder().encode("{not json"));
      await triggers.put(
        "other-id",
        enc({ id: good, type: "com.example.ping", function: "echo", createdAt: "" }),
      );
      await triggers.put(
        "badfn",
        enc({ id: "badfn", type: "com.example.ping", function: "../x", createdAt: "" }),
      );
      await dead.put(`${"0".repeat(32)}.x`, enc({ delivery: 1 }));
      const listed = await (await fetch(`${a.url}/admin/triggers`)).json();
      assert.deepEqual(listed.triggers.map((x: { id: string }) => x.id), [good]);
      assert.deepEqual(await deadLetters(a), []);

      // Stream messages that are not events or deliveries: dropped, nothing delivered.
      const js = jetstream(nc);
      await js.publish("sure.events.accepted", new TextEncoder().encode("\u0000\u0001junk"));
      await js.publish(
        "sure.events.deliver",
        enc({
          id: `${"1".repeat(32)}.t`,
          replay: 0,
          trigger: "t",
          function: "echo",
          createdAt: "",
          event: { key: "1".repeat(32), acceptedAt: "", attributes: { "bad name": "x" } },
        }),
      );
      const jsm = await jetstreamManager(nc);
      await until("the junk dropped", async () => {
        const s = await jsm.streams.info("SURE_EVENTS");
        return s.state.messages === 0;
      });
      const log = a.log();
      assert.match(log, /fleet events: an accepted event does not parse; dropped/);
      assert.match(log, /fleet events: a delivery does not parse; dropped/);
      assert.match(log, /fleet: a trigger record does not parse; ignored/);
      assert.deepEqual(await deadLetters(a), []);

      // And the node still delivers a real event.
      await post(a, "ok-1", "com.example.ping", "still here");
      await until("the ping taken", async () => {
        const i = await jsm.consumers.info("SURE_EVENTS", "sure-deliver");
        return i.delivered.stream_seq > 0;
      });
    } finally {
      await nc.close();
      if (a) await stopNode(a);
      await stopNats(nats);
    }
  },
});
