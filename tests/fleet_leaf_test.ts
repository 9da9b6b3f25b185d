/**
 * A site behind a weak link, for real: the fleet's hub is a JetStream server
 * here (domain "hub") with a leaf-node port; the site is a network namespace
 * with its own NATS leaf server (no JetStream) linked to the hub, and nodes a
 * and b that join the fleet through it (`--fleet-domain hub`); node c joins
 * at the hub. Blackhole routes (in the site to the hub, here to the site's
 * uplink address) cut the uplink both ways. Cut off, the site's nodes keep serving what they ran, and a request
 * for a function only b runs still reaches b through the site's leaf server;
 * the hub sees both dead. A deploy made at the hub meanwhile reaches the site
 * once the link returns (the time is printed for the note; not asserted), and
 * an event accepted at the site before the cut is known fleet-wide after it.
 * Needs root and iproute2; the invocations need KVM; else SKIP.
 */
import assert from "node:assert/strict";
import { hasKvm, hasLibsure } from "./helpers.ts";
import {
  alive,
  deploy,
  type FleetNode,
  freePorts,
  hasNats,
  names,
  type Nats,
  startNatsConf,
  startNode,
  stopNats,
  stopNode,
  until,
} from "./fleet_helpers.ts";
import { cleanVethNamespaces, hasNetns, makeVethNamespaces, run } from "./netns_helpers.ts";

const canRun = hasLibsure && hasNats && hasNetns;

const SITE = { ns: "sure-fla", here: "sfl0", there: "sfl1", net: "10.233.1" };
/** Where the site's leaf server reaches the hub (on this namespace's loopback). */
const HUB_ADDR = "10.240.0.2";
/** The site's address for its uplink (the nodes listen on another). */
const UPLINK = `${SITE.net}.3`;

/** A CloudEvent (binary mode) posted to a node: what it says it accepted. */
async function postEvent(n: FleetNode, id: string): Promise<{ duplicate: boolean }> {
  const res = await fetch(`${n.url}/events`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test/leaf",
      "ce-type": "leaf.test",
      "content-type": "text/plain",
    },
    body: "from the site",
  });
  const body = await res.json();
  assert.equal(res.status, 202, JSON.stringify(body));
  return body.accepted[0];
}

Deno.test({
  name:
    "fleet leaf: a site on a leaf server keeps serving, and forwarding, while its uplink is cut",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await makeVethNamespaces([SITE]);
    await run(["ip", "addr", "del", `${HUB_ADDR}/32`, "dev", "lo"], false);
    await run(["ip", "addr", "add", `${HUB_ADDR}/32`, "dev", "lo"]);
    const servers: Nats[] = [];
    const nodes: FleetNode[] = [];
    // The leaf server's uplink leaves from an address of its own, so that a cut
    // can drop it both ways while this test still reaches the nodes.
    const inNs = (args: string[]) => run(["ip", "netns", "exec", SITE.ns, ...args]);
    await inNs(["ip", "addr", "add", `${UPLINK}/24`, "dev", SITE.there]);
    await inNs(["ip", "route", "add", HUB_ADDR, "via", `${SITE.net}.1`, "src", UPLINK]);
    const cut = async (op: "add" | "del") => {
      await inNs(
        op === "add"
          ? ["ip", "route", "replace", "blackhole", HUB_ADDR]
          : ["ip", "route", "replace", HUB_ADDR, "via", `${SITE.net}.1`, "src", UPLINK],
      );
      await run(["ip", "route", op, "blackhole", `${UPLINK}/32`]);
      // Both ends drop the connection at once, as they would when TCP gives up
      // on it (NATS sees no stale link while messages still queue to send).
      if (op === "add") {
        await run(["ss", "-K", "dst", UPLINK]);
        await inNs(["ss", "-K", "dst", HUB_ADDR]);
      }
    };
    try {
      const [hubPort, leafPort, sitePort, monitorPort] = freePorts(4);
      /** The leaf connections the hub has (its monitoring endpoint). */
      const leafs = async () =>
        (await (await fetch(`http://127.0.0.1:${monitorPort}/leafz`)).json()).leafnodes as number;
      // Pings every second: a dead uplink is noticed in seconds, not minutes.
      const hubDir = await Deno.makeTempDir({ prefix: "sure-nats-hub-" });
      servers.push(
        await startNatsConf(
          hubDir,
          `listen: "0.0.0.0:${hubPort}"\nhttp: "127.0.0.1:${monitorPort}"\n` +
            `ping_interval: "1s"\nping_max: 3\n` +
            `jetstream { store_dir: "${hubDir}", domain: hub }\n` +
            `leafnodes { listen: "0.0.0.0:${leafPort}", no_advertise: true }\n`,
        ),
      );
      const leafDir = await Deno.makeTempDir({ prefix: "sure-nats-leaf-" });
      servers.push(
        await startNatsConf(
          leafDir,
          `listen: "127.0.0.1:${sitePort}"\nping_interval: "1s"\nping_max: 3\n` +
            `leafnodes { reconnect: 1, remotes: [ { url: "nats-leaf://${HUB_ADDR}:${leafPort}" } ] }\n`,
          SITE.ns,
        ),
      );
      const domain = { SURE_FLEET_DOMAIN: "hub" };
      const inSite = { name: SITE.ns, host: `${SITE.net}.2` };
      const site = `nats://127.0.0.1:${sitePort}`;
      nodes.push(
        await startNode("a", site, "role=a", domain, undefined, inSite),
        await startNode("b", site, "role=b", domain, undefined, inSite),
        await startNode("c", hubPort, "role=c", domain),
      );
      const [a, b, c] = nodes;
      await until("three alive", async () => (await alive(c)).join() === "a,b,c");
      assert.equal(await leafs(), 1);
      // Deployed at the hub: echo everywhere, onlyb on b only.
      for (const [name, labels] of [["echo", ""], ["onlyb", "role=b"]]) {
        const res = await deploy(c, { name }, labels ? [["labels", labels]] : []);
        assert.equal(res.status, 201, await res.clone().text());
        await res.body?.cancel();
      }
      await until("echo on a", async () => (await names(a)).join() === "echo");
      await until("echo, onlyb on b", async () => (await names(b)).join() === "echo,onlyb");

      // An event accepted at the site is stored at the hub (its stream, through the domain).
      assert.equal((await postEvent(a, "leaf-1")).duplicate, false);

      // The uplink goes: the hub sees the site's nodes die ...
      await cut("add");
      await until("a and b dead at the hub", async () => (await alive(c)).join() === "c");
      await until("the leaf connection gone", async () => (await leafs()) === 0);
      // ... while the site serves what it ran, and its nodes still reach each other.
      assert.deepEqual(await names(a), ["echo"]);
      assert.deepEqual(await names(b), ["echo", "onlyb"]);
      if (hasKvm) {
        const local = await fetch(`${a.url}/invoke/echo`, { method: "POST", body: "cut off" });
        assert.equal(await local.text(), "cut off");
        const fwd = await fetch(`${a.url}/invoke/onlyb`, { method: "POST", body: "to b" });
        assert.equal(fwd.status, 200, await fwd.clone().text());
        assert.equal(await fwd.text(), "to b");
        assert.equal(fwd.headers.get("x-sure-node"), "b");
      }
      // The fleet changes at the hub meanwhile.
      const res = await deploy(c, { name: "during" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();

      // Healed: the site catches up.
      const t0 = performance.now();
      await cut("del");
      await until("the leaf connection back", async () => (await leafs()) === 1);
      for (const n of [a, b]) {
        await until(
          `${n.name} has during`,
          async () => (await names(n)).includes("during"),
          120_000,
        );
      }
      const healed = performance.now() - t0;
      await until("three alive again", async () => (await alive(c)).join() === "a,b,c");
      // The same event again, through the other site node: the fleet knows it.
      assert.equal((await postEvent(b, "leaf-1")).duplicate, true);
      console.log(
        `fleet leaf: the site converged ${healed.toFixed(0)} ms after its uplink returned`,
      );
    } finally {
      for (const n of nodes) await stopNode(n);
      for (const s of servers) await stopNats(s);
      await cleanVethNamespaces([SITE]);
      await run(["ip", "route", "del", "blackhole", `${UPLINK}/32`], false);
      await run(["ip", "addr", "del", `${HUB_ADDR}/32`, "dev", "lo"], false);
    }
  },
});
