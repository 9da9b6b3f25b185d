/**
 * Fleet mode for real: a JetStream nats-server (Debian's) and three `sure
 * serve --fleet` nodes as their own processes. A deploy through any node
 * reaches every node it is placed on (all, by labels, N replicas); secrets
 * cross the fleet sealed; a node that dies hands its replicas to the others
 * within three heartbeats; with the NATS server gone the nodes keep serving
 * what they run and refuse changes with 503, and converge once it is back;
 * rm through any node removes everywhere. Prints how long placement took to
 * follow a dead node (not asserted: timings are for the note). A request to
 * a node for a function placed elsewhere is forwarded to one that runs it.
 * On a three-server cluster with one server killed, no deployment and no
 * accepted event is lost.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  buildImage,
  deployForm,
  echoImage,
  fetchWithoutToken,
  hasKvm,
  hasLibsure,
  openTestApp,
  tokenFor,
} from "./helpers.ts";
import { forwardMac } from "../ffi/mod.ts";
import { hopKeyOfFleet } from "../runtime/dataplane/hop_key.ts";
import {
  alive,
  BEAT_MS,
  deploy,
  fleetFunctions,
  type FleetNode,
  fleetTest,
  hasNats,
  KEY,
  names,
  startCluster,
  startNats,
  startNode,
  stopNats,
  stopNode,
  until,
} from "./fleet_helpers.ts";

/** b's data plane's forwards to other nodes, by outcome (/metrics). */
async function forwards(node: FleetNode, outcome: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const re = new RegExp(`sure_dataplane_forwards_total\\{[^}]*outcome="${outcome}"\\} (\\d+)`);
  return Number(re.exec(text)?.[1] ?? NaN);
}

fleetTest(
  "fleet: deploy anywhere, placement, sealed secrets, a dead node's share moves, rm",
  async (nats, nodes) => {
    for (const [n, l] of [["a", "site=north"], ["b", "site=south"], ["c", "site=north"]]) {
      nodes.push(await startNode(n, nats.port, l));
    }
    const [a, b, c] = nodes;
    await until("three nodes see each other", async () => {
      const r = await (await fetch(`${b.url}/admin/fleet/nodes`)).json();
      return r.nodes.filter((n: { alive: boolean }) => n.alive).length === 3;
    });

    // Deployed through a, with a secret: on every node.
    let res = await deploy(a, { name: "echo" }, [["secret", "TOKEN=hunter2"], ["env", "E=1"]]);
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
    for (const n of nodes) {
      await until(`echo on ${n.name}`, async () => (await names(n)).includes("echo"));
    }
    const got = await (await fetch(`${c.url}/admin/functions/echo`)).json();
    assert.deepEqual(got.secrets, ["TOKEN"]);
    assert.deepEqual(got.env, { E: "1" });
    if (hasKvm) {
      const inv = await fetch(`${c.url}/invoke/echo`, { method: "POST", body: "from c" });
      assert.equal(await inv.text(), "from c");
    }
    // The secret crossed the fleet sealed: not in the desired record's bytes.
    const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
    try {
      const kv = await new Kvm(nc).open("sure_desired");
      const raw = (await kv.get("fn.echo"))!.string();
      assert.ok(!raw.includes("hunter2"), "the secret is in plain text in the fleet");
      assert.match(raw, /"sealed":"v1\./);
    } finally {
      await nc.close();
    }

    // By labels, through b (which is not north itself): on a and c only.
    res = await deploy(b, { name: "north" }, [["labels", "site=north"], ["maxBody", "4194304"]]);
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
    await until(
      "north on a and c",
      async () => (await names(a)).includes("north") && (await names(c)).includes("north"),
    );
    assert.ok(!(await names(b)).includes("north"));
    // Invoked on b, which does not run it: forwarded to a node that does,
    // with that node's answer (503 kvm_unavailable there where there is no KVM).
    await until("a or c serves north", async () => {
      const fw = await fetch(`${b.url}/invoke/north/x?q=1`, { method: "POST", body: "via b" });
      const served = fw.headers.get("x-sure-node") ?? "";
      const text = await fw.text();
      if (fw.status === 503 && /no node of the fleet serves/.test(text)) return false;
      assert.match(served, /^(a|c)$/, text);
      if (hasKvm) {
        assert.equal(fw.status, 200, text);
        assert.equal(text, "via b");
      } else {
        assert.equal(fw.status, 503, text);
        assert.match(text, /kvm_unavailable/);
      }
      return true;
    });
    // Straight to the data plane of a node that runs it, not through NATS: a
    // body twice NATS's max_payload gets there whole. b dials a node once its
    // heartbeat says it runs north (until then b forwards over NATS, which
    // refuses such a body with 413).
    await until("b sees north running on a or c", async () => {
      const r = await fetch(`${b.url}/admin/fleet/functions`);
      const fns = (await r.json()).functions as { name: string; running: string[] }[];
      return fns.some((f) => f.name === "north" && f.running.some((n) => n === "a" || n === "c"));
    });
    const big = new Uint8Array(2 << 20).fill(0x61);
    const sentBefore = await forwards(b, "sent");
    const fwBig = await fetch(`${b.url}/invoke/north`, { method: "POST", body: big });
    const bigText = await fwBig.text();
    assert.match(fwBig.headers.get("x-sure-node") ?? "", /^(a|c)$/, bigText.slice(0, 200));
    if (hasKvm) {
      assert.equal(fwBig.status, 200, bigText.slice(0, 200));
      assert.equal(bigText.length, big.length);
    } else {
      assert.equal(fwBig.status, 503, bigText);
      assert.match(bigText, /kvm_unavailable/);
    }
    // b's data plane sent it from C (runtime/fleet/forward_table.ts), not the Hono app.
    assert.equal(await forwards(b, "sent"), sentBefore + 1);
    assert.equal(await forwards(b, "failed"), 0);

    // A private function invoked on b with b's token goes from b's data plane
    // too, signed with the fleet's hop key; b's token stays on b.
    res = await deploy(b, { name: "sec" }, [["labels", "site=north"], ["access", "private"]]);
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
    let runner: FleetNode | undefined;
    await until("b sees sec running on a or c", async () => {
      const r = await fetch(`${b.url}/admin/fleet/functions`);
      const fns = (await r.json()).functions as { name: string; running: string[] }[];
      const on = fns.find((f) => f.name === "sec")?.running.find((n) => n === "a" || n === "c");
      runner = nodes.find((n) => n.name === on);
      return runner !== undefined;
    });
    const answered = async (r: Response, body: string) => {
      const text = await r.text();
      if (hasKvm) {
        assert.equal(r.status, 200, text);
        assert.equal(text, body);
      } else {
        assert.equal(r.status, 503, text);
        assert.match(text, /kvm_unavailable/);
      }
    };
    const secSent = await forwards(b, "sent");
    const secRes = await fetch(`${b.url}/invoke/sec/x?q=1`, { method: "POST", body: "psst" });
    assert.match(secRes.headers.get("x-sure-node") ?? "", /^(a|c)$/);
    await answered(secRes, "psst");
    assert.equal(await forwards(b, "sent"), secSent + 1);
    // Without b's token (none, or another node's): 401 on b, nothing sent on.
    const others: Record<string, string>[] = [{}, { authorization: `Bearer ${tokenFor(a.url)}` }];
    for (const headers of others) {
      const r = await fetchWithoutToken(`${b.url}/invoke/sec`, { method: "POST", headers });
      assert.equal(r.status, 401, await r.clone().text());
      assert.equal((await r.json()).error, "unauthorized");
    }
    assert.equal(await forwards(b, "sent"), secSent + 1);
    // Straight to a node that runs it, signed as b would sign it (the fleet's
    // hop key): taken without that node's token; the same signature on
    // another query or length, a forged one, or one naming another sender: 401.
    const hop = await hopKeyOfFleet(KEY);
    const mac = forwardMac(hop, {
      from: "b",
      name: "sec",
      method: "POST",
      path: "/x",
      query: "q=1",
      bodyLength: 4,
    });
    const signed = (path: string, body: string, from: string, m: string, token = "") =>
      fetchWithoutToken(`${runner!.url}/invoke/sec${path}`, {
        method: "POST",
        body,
        headers: {
          "x-sure-forwarded-by": from,
          "x-sure-forward-mac": m,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      });
    await answered(await signed("/x?q=1", "abcd", "b", mac), "abcd");
    // A token sent is the token checked, whatever signature comes with it.
    for (
      const [path, body, from, m, token] of [
        ["/x?q=2", "abcd", "b", mac, ""],
        ["/x?q=1", "abcde", "b", mac, ""],
        ["/x?q=1", "abcd", "c", mac, ""],
        ["/x?q=1", "abcd", "b", "0".repeat(64), ""],
        ["/x?q=1", "abcd", "b", mac, "not-the-token"],
      ]
    ) {
      const r = await signed(path, body, from, m, token);
      assert.equal(r.status, 401, `${path} ${body} ${from} ${token}: ${await r.clone().text()}`);
      await r.body?.cancel();
    }

    // Two replicas: on exactly two nodes, the same two every node names.
    res = await deploy(c, { name: "pair" }, [["replicas", "2"]]);
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
    let pair: string[] = [];
    await until("pair runs on two nodes", async () => {
      const f = (await fleetFunctions(a)).find((x) => x.name === "pair");
      pair = f?.running ?? [];
      return pair.length === 2 && f!.nodes.slice().sort().join() === pair.slice().sort().join();
    });
    for (const n of nodes) {
      assert.equal((await names(n)).includes("pair"), pair.includes(n.name), n.name);
    }

    // A node that runs one of the pair dies (SIGKILL: no goodbye): the third
    // node takes its place within a few heartbeats.
    const dead = nodes.find((n) => pair.includes(n.name))!;
    const spare = nodes.find((n) => !pair.includes(n.name))!;
    const t0 = performance.now();
    await stopNode(dead, "SIGKILL");
    await until(`${spare.name} runs pair`, async () => (await names(spare)).includes("pair"));
    const moved = performance.now() - t0;
    console.log(
      `fleet: ${dead.name} killed; pair on ${spare.name} after ${moved.toFixed(0)} ms ` +
        `(heartbeat ${BEAT_MS} ms, dead after 3)`,
    );
    const alive = nodes.filter((n) => n !== dead);

    // rm through one node: gone from the others.
    const r = await fetch(`${alive[0].url}/admin/functions/echo`, { method: "DELETE" });
    assert.equal(r.status, 200, await r.clone().text());
    await r.body?.cancel();
    for (const n of alive) {
      await until(`echo gone from ${n.name}`, async () => !(await names(n)).includes("echo"));
    }
    // The fleet knows no such function any more either.
    const gone = await fetch(`${alive[1].url}/admin/functions/echo`, { method: "DELETE" });
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  },
);

Deno.test({
  name: "fleet: without its NATS server a node keeps serving and refuses changes; then converges",
  ignore: !hasLibsure || !hasNats,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sure-nats-" });
    let nats = await startNats(dir);
    const a = await startNode("a", nats.port, "");
    const b = await startNode("b", nats.port, "");
    try {
      let res = await deploy(a, { name: "echo" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      await until("echo on b", async () => (await names(b)).includes("echo"));

      // The fleet goes away: b still serves what it runs; a change is a 503.
      await stopNats(nats);
      if (hasKvm) {
        const inv = await fetch(`${b.url}/invoke/echo`, { method: "POST", body: "cut off" });
        assert.equal(await inv.text(), "cut off");
      }
      assert.deepEqual(await names(b), ["echo"]);
      res = await deploy(b, { name: "later" });
      assert.equal(res.status, 503, await res.clone().text());
      assert.equal((await res.json()).error, "fleet_unavailable");
      const nodes = await (await fetch(`${b.url}/admin/fleet/nodes`)).json();
      assert.equal(nodes.connected, false);
      const h = await (await fetch(`${b.url}/healthz`)).json();
      assert.deepEqual([h.fleet.node, h.fleet.connected], ["b", false]);
      // A member with the fleet's key signs its chain hops with the key derived from it.
      assert.equal(h.dataplane.hopAuth, "key", JSON.stringify(h.dataplane));

      // Back on the same port with the same store: changes flow again.
      nats = await startNats(dir, nats.port);
      await until(
        "b reconnected",
        async () => (await (await fetch(`${b.url}/admin/fleet/nodes`)).json()).connected === true,
      );
      res = await deploy(b, { name: "later" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      await until("later on a", async () => (await names(a)).includes("later"));
      assert.deepEqual(await names(a), ["echo", "later"]);

      // An image the fleet dropped (no function used it any more) is stored
      // again when it is deployed again: echo -> upper -> echo -> upper, through a.
      const upper = await buildImage("functions/upper");
      for (const image of [upper, await echoImage(), upper]) {
        const form = deployForm({ name: "later", image });
        res = await fetch(`${a.url}/admin/functions`, { method: "POST", body: form });
        assert.equal(res.status, 200, await res.clone().text());
        const digest = (await res.json()).digest;
        await until(
          "b runs the new image",
          async () =>
            (await (await fetch(`${b.url}/admin/functions/later`)).json()).digest === digest,
        );
      }
    } finally {
      await stopNode(a);
      await stopNode(b);
      await stopNats(nats);
    }
  },
});

Deno.test({
  name: "fleet: a node outside a fleet refuses placement and says it is in none",
  ignore: !hasLibsure,
  async fn() {
    const t = await openTestApp();
    try {
      const form = deployForm({ name: "echo", image: await echoImage() });
      form.append("replicas", "2");
      let res = await t.app.request("/admin/functions", { method: "POST", body: form });
      assert.equal(res.status, 400);
      assert.match((await res.json()).message, /not in a fleet/);
      res = await t.app.request("/admin/fleet/nodes");
      assert.equal(res.status, 404);
      assert.match((await res.json()).message, /not in a fleet/);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "fleet: on a three-server NATS cluster (replicas 3), one server killed loses nothing",
  ignore: !hasLibsure || !hasNats,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { servers, urls } = await startCluster();
    const nodes: FleetNode[] = [];
    try {
      // Without KVM every delivery fails (503): two attempts make each a dead letter soon.
      const env = { SURE_FLEET_REPLICAS: "3", SURE_EVENT_ATTEMPTS: hasKvm ? "8" : "2" };
      for (const n of ["a", "b"]) nodes.push(await startNode(n, urls, "", env));
      const [a, b] = nodes;
      // A new cluster elects its JetStream leader first: until both nodes
      // have made their buckets there, a write is a 503 (not joined yet).
      await until("a and b joined", async () => (await alive(a)).join() === "a,b");
      let res = await deploy(a, { name: "one" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      await until("one on b", async () => (await names(b)).includes("one")).catch((e) => {
        throw new Error(`${e.message}\n${b.log()}\n${a.log()}`);
      });
      const t = await fetch(`${a.url}/admin/triggers`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "com.example.ping", function: "one" }),
      });
      assert.equal(t.status, 201, await t.clone().text());
      await t.body?.cancel();
      const events = (n: FleetNode, ids: string[]) =>
        fetch(`${n.url}/events`, {
          method: "POST",
          headers: { "content-type": "application/cloudevents-batch+json" },
          body: JSON.stringify(ids.map((id) => ({
            specversion: "1.0",
            id,
            source: "/test/cluster",
            type: "com.example.ping",
            data: id,
          }))),
        });
      res = await events(a, ["e-1", "e-2", "e-3"]);
      assert.equal(res.status, 202, await res.clone().text());
      await res.body?.cancel();

      // The server that leads (or any): killed with its store. The others elect
      // new leaders; a change through either node goes through and reaches both.
      await stopNats(servers[0]);
      res = await events(b, ["e-4", "e-5", "e-6"]);
      assert.equal(res.status, 202, await res.clone().text());
      await res.body?.cancel();
      res = await deploy(b, { name: "two" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      for (const n of nodes) {
        await until(`one and two on ${n.name}`, async () => (await names(n)).join() === "one,two");
      }
      // And the record written before the kill is still there, on the rest.
      const f = await (await fetch(`${b.url}/admin/fleet/functions`)).json();
      assert.deepEqual(f.functions.map((x: { name: string }) => x.name), ["one", "two"]);
      // Every event accepted, before the kill or after it, went to its function:
      // delivered (acknowledged, so gone from the stream) or, without KVM, a
      // dead letter after its attempts. None is lost, none is left behind.
      const nc = await connect({ servers: urls.split(",").slice(1) });
      try {
        let left = "";
        await until("every event delivered or dead", async () => {
          try { // the cluster may still be electing: its answers time out meanwhile
            const s = await (await jetstreamManager(nc)).streams.info("SURE_EVENTS");
            const dead = (await (await fetch(`${b.url}/admin/events/dead`)).json()).deadLetters;
            left = `${s.state.messages} in the stream, ${dead.length} dead`;
            return s.state.messages === 0 && dead.length === (hasKvm ? 0 : 6);
          } catch (e) {
            left = (e as Error).message;
            return false;
          }
        }, 120_000).catch((e) => {
          throw new Error(`${e.message}: ${left}`);
        });
      } finally {
        await nc.close();
      }
    } finally {
      for (const n of nodes) await stopNode(n);
      for (const s of servers) await stopNats(s);
    }
  },
});

Deno.test({
  name: "fleet: junk in the desired and status buckets is never applied; a deploy replaces it",
  ignore: !hasLibsure || !hasNats,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const nats = await startNats(await Deno.makeTempDir({ prefix: "sure-nats-" }));
    let nc: Awaited<ReturnType<typeof connect>> | undefined;
    let a: FleetNode | undefined;
    try {
      a = await startNode("a", nats.port, "");
      let res = await deploy(a, { name: "echo" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      nc = await connect({ servers: `127.0.0.1:${nats.port}` });
      const kvm = new Kvm(nc);
      const desired = await kvm.open("sure_desired");
      const status = await kvm.open("sure_nodes");
      const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
      const good = JSON.parse((await desired.get("fn.echo"))!.string());
      // echo's record overwritten with junk; records under other names that lie
      // (a name that is not the key, a digest that is not one, a name no node takes).
      await desired.put("fn.echo", new TextEncoder().encode("{not json"));
      await desired.put("fn.ghost", enc({ ...good, name: "echo" }));
      await desired.put("fn.bad", enc({ ...good, name: "bad", digest: "../../etc/passwd" }));
      await desired.put("fn.UPPER", enc({ ...good, name: "UPPER" }));
      await status.put("zz", enc({ name: "zz", url: "http://evil" }));
      await status.put("yy", new TextEncoder().encode("\u0000"));
      await until(
        "the junk is seen",
        () =>
          Promise.resolve(
            (a!.log().match(/ignoring a desired record that does not parse/g) ?? []).length >= 3,
          ),
      );
      // Nothing applied: a still runs echo as it was, and nothing else.
      assert.deepEqual(await names(a), ["echo"]);
      const nodes = await (await fetch(`${a.url}/admin/fleet/nodes`)).json();
      assert.deepEqual(nodes.nodes.map((n: { name: string }) => n.name), ["a"]);
      // A change that needs the record is a 409 saying what to do ...
      res = await fetch(`${a.url}/admin/functions/echo`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ maxInstances: 3 }),
      });
      assert.equal(res.status, 409, await res.clone().text());
      assert.match((await res.json()).message, /does not parse: deploy echo again/);
      // ... a deploy replaces it, and a removal deletes a broken one.
      res = await deploy(a, { name: "echo" });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
      assert.equal(JSON.parse((await desired.get("fn.echo"))!.string()).name, "echo");
      res = await fetch(`${a.url}/admin/functions/bad`, { method: "DELETE" });
      assert.equal(res.status, 404, await res.clone().text());
      assert.match((await res.json()).message, /did not parse; it is removed/);
      assert.equal((await desired.get("fn.bad"))?.operation, "DEL");
      assert.deepEqual(await names(a), ["echo"]);
    } finally {
      await nc?.close();
      if (a) await stopNode(a);
      await stopNats(nats);
    }
  },
});
