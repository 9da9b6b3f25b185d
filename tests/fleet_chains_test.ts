/**
 * Chains in a fleet, for real (nats-server and `sure serve --fleet` nodes as
 * processes): a chain applied through any node is the fleet's; it runs on
 * every node that runs all of its steps, follows them when they move, and a
 * node without it forwards its requests to one that has it. Names are shared
 * with functions fleet-wide; rm through any node removes it everywhere.
 * Without KVM no node can start a chain's VMs: the chain is still the
 * fleet's, and the node it belongs on says why it cannot run it.
 */
import assert from "node:assert/strict";
import { buildImage, deployForm, hasKvm } from "./helpers.ts";
import { type FleetNode, fleetTest, names, startNode, until } from "./fleet_helpers.ts";

async function deployFn(n: FleetNode, name: string, labels?: string) {
  const form = deployForm({ name, image: await buildImage(`functions/${name}`) });
  if (labels) form.append("labels", labels);
  const res = await fetch(`${n.url}/admin/functions`, { method: "POST", body: form });
  assert.ok(res.status === 201 || res.status === 200, await res.clone().text());
  await res.body?.cancel();
}

async function apply(n: FleetNode, spec: unknown) {
  const res = await fetch(`${n.url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spec),
  });
  return { status: res.status, body: await res.json() };
}

const chainsOn = async (n: FleetNode): Promise<string[]> =>
  ((await (await fetch(`${n.url}/admin/chains`)).json()).chains as { name: string }[])
    .map((c) => c.name);

/** What a node says it failed to run (its heartbeat, as the fleet sees it). */
async function failing(n: FleetNode, on: string): Promise<Record<string, string>> {
  const r = await (await fetch(`${n.url}/admin/fleet/nodes`)).json();
  return r.nodes.find((x: { name: string }) => x.name === on)?.failing ?? {};
}

fleetTest(
  "fleet chains: applied anywhere, run where all their steps run, forwarded, removed",
  async (nats, nodes) => {
    const a = await startNode("a", nats.port, "site=north");
    const b = await startNode("b", nats.port, "site=south");
    nodes.push(a, b);
    // upper everywhere, echo on a only: the chain upper -> echo belongs on a.
    await deployFn(a, "upper");
    await deployFn(a, "echo", "site=north");
    await until("upper on b", async () => (await names(b)).includes("upper"));
    const spec = { name: "loud", steps: ["upper", "echo"] };
    const res = await apply(b, spec);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.steps, ["upper", "echo"]);
    for (const n of nodes) {
      await until(`loud listed on ${n.name}`, async () => (await chainsOn(n)).includes("loud"));
    }
    // Names are shared with the fleet's functions; a bad definition is a 400.
    assert.equal((await apply(b, { name: "upper", steps: ["echo"] })).status, 409);
    assert.equal((await apply(a, { name: "bad", steps: [] })).status, 400);

    if (hasKvm) {
      await until("loud served on a", async () => {
        const r = await fetch(`${a.url}/invoke/loud`, { method: "POST", body: "hello" });
        return r.status === 200 && await r.text() === "HELLO";
      });
      // b does not run echo, so not the chain either: it forwards to a.
      const r = await fetch(`${b.url}/invoke/loud`, { method: "POST", body: "via b" });
      assert.equal(r.headers.get("x-sure-node"), "a");
      assert.equal(await r.text(), "VIA B");
    } else {
      // a cannot start the chain's VMs and says so; b is not where it belongs.
      await until("a says why", async () => /kvm|KVM/.test((await failing(b, "a")).loud ?? ""));
      assert.equal((await failing(a, "b")).loud, undefined);
    }

    // echo everywhere now: the chain follows it to b.
    const form = deployForm({ name: "echo", image: await buildImage("functions/echo") });
    const re = await fetch(`${a.url}/admin/functions`, { method: "POST", body: form });
    assert.equal(re.status, 200, await re.clone().text());
    await re.body?.cancel();
    await until("echo on b", async () => (await names(b)).includes("echo"));
    if (hasKvm) {
      await until("loud served by b itself", async () => {
        const r = await fetch(`${b.url}/invoke/loud`, { method: "POST", body: "b" });
        const by = r.headers.get("x-sure-node");
        return r.status === 200 && await r.text() === "B" && by === null;
      });
    } else {
      await until("b says why", async () => /kvm|KVM/.test((await failing(a, "b")).loud ?? ""));
    }

    // rm through a: gone from both, and nothing fails any more.
    const rm = await fetch(`${a.url}/admin/chains/loud`, { method: "DELETE" });
    assert.equal(rm.status, 200, await rm.clone().text());
    await rm.body?.cancel();
    for (const n of nodes) {
      await until(`loud gone from ${n.name}`, async () => !(await chainsOn(n)).includes("loud"));
    }
    await until(
      "nothing failing",
      async () =>
        (await failing(a, "a")).loud === undefined && (await failing(a, "b")).loud === undefined,
    );
    if (hasKvm) {
      const r = await fetch(`${b.url}/invoke/loud`, { method: "POST", body: "x" });
      assert.equal(r.status, 404, await r.text());
    }
    const again = await fetch(`${b.url}/admin/chains/loud`, { method: "DELETE" });
    assert.equal(again.status, 404);
    await again.body?.cancel();
  },
);

fleetTest(
  "fleet chains: a step on another node is reached at the address the fleet knows it by",
  async (nats, nodes) => {
    // No --peer anywhere: a learns b's address from b's heartbeat.
    const a = await startNode("a", nats.port, "");
    const b = await startNode("b", nats.port, "");
    nodes.push(a, b);
    await until("a sees b", async () => {
      const r = await (await fetch(`${a.url}/admin/fleet/nodes`)).json();
      return r.nodes.filter((n: { alive: boolean }) => n.alive).length === 2;
    });
    for (const f of ["upper", "reverse", "echo"]) await deployFn(a, f);
    await until("all three on b", async () => (await names(b)).length === 3);
    // Where a step runs is named for every step or for none (a mix is a 400).
    const mixed = await apply(a, {
      name: "split",
      steps: ["upper", { function: "reverse", node: "b" }],
    });
    assert.equal(mixed.status, 400, JSON.stringify(mixed.body));
    const res = await apply(a, {
      name: "split",
      steps: [
        { function: "upper", node: "a" },
        { function: "reverse", node: "b" },
        { function: "echo", node: "a" },
      ],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    // A request entering either node goes upper (a) -> reverse (b) -> echo (a).
    for (const entry of [a, b]) {
      let last = "";
      await until(`split across a and b, entering at ${entry.name}`, async () => {
        const r = await fetch(`${entry.url}/invoke/split`, { method: "POST", body: "hello" });
        const text = await r.text();
        last = `${r.status} ${text}`;
        return r.status === 200 && text === "OLLEH";
      }).catch((e) => {
        throw new Error(
          `${e.message}; last answer: ${last}\n--- a:\n${a.log().slice(-4000)}\n` +
            `--- b:\n${b.log().slice(-4000)}`,
        );
      });
    }
  },
  hasKvm,
);
