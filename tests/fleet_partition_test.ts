/**
 * A fleet cut in two, for real: three nodes, each in its own network
 * namespace joined to this one by a veth pair, and a three-server NATS
 * cluster (replicas 3) here, which the nodes reach at an address of its own
 * (10.240.0.1, on this namespace's loopback) routed over their veths. Node c is cut off
 * from it (a blackhole route in c's namespace drops every packet it sends
 * there, and its connections to the servers are dropped at both ends, as a
 * dead uplink would, while the test still reaches c's port),
 * then heals; later c's link loses 30% of its packets (an nftables rule that
 * drops 3 of every 10 packets each way, or where there is no nftables
 * `tc netem`, which drops a random 30%). Cut off, c keeps
 * serving what it ran and refuses changes with 503; the others see it dead
 * and go on; a deploy and a removal made during the cut reach c once it
 * heals, and a deploy reaches it through the lossy link. Prints how long c
 * took to converge each time (for the note; not asserted). Needs root and
 * iproute2 (namespaces, veth); the lossy link needs netem or nftables in the
 * kernel (scripts/setup.sh installs Debian's nft); else SKIP.
 */
import assert from "node:assert/strict";
import { hasKvm, hasLibsure } from "./helpers.ts";
import {
  alive,
  deploy,
  type FleetNode,
  hasNats,
  names,
  startCluster,
  startNode,
  stopNats,
  stopNode,
  until,
} from "./fleet_helpers.ts";
import { cleanVethNamespaces, hasNetns, makeVethNamespaces, run } from "./netns_helpers.ts";

const canRun = hasLibsure && hasNats && hasNetns;

/** Whether cmd works in a namespace of its own (what this kernel can do). */
async function worksInNetns(cmd: string[]): Promise<boolean> {
  const ns = "sure-fp-probe";
  await run(["ip", "netns", "add", ns], false);
  try {
    return await run(["ip", "netns", "exec", ns, ...cmd], false).catch(() => false);
  } finally {
    await run(["ip", "netns", "del", ns], false);
  }
}

/**
 * How this machine makes a lossy link: an nftables rule, else tc's netem.
 * nftables first because its loss is a fixed pattern: a random 30% drops
 * nothing at all from a short exchange often enough (0.7^10 is 3%) to fail
 * the check that the link really lost packets.
 */
const loss = !canRun
  ? undefined
  : await worksInNetns(["nft", "add", "table", "inet", "probe"])
  ? "nft"
  : await worksInNetns(["tc", "qdisc", "add", "dev", "lo", "root", "netem"])
  ? "netem"
  : undefined;

const LOSSY_TABLE = "sure_fp_lossy";

/** The output of a command (it must succeed). */
async function output(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1) }).output();
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/**
 * Drops 30% of the packets through dev, here: `dropped` reads how many it
 * dropped so far (the link was lossy, not merely configured so).
 */
async function lossy(
  dev: string,
): Promise<{ dropped: () => Promise<number>; undo: () => Promise<void> }> {
  if (loss === "netem") {
    await run(["tc", "qdisc", "add", "dev", dev, "root", "netem", "loss", "30%"]);
    return {
      dropped: async () =>
        Number(/dropped (\d+)/.exec(await output(["tc", "-s", "qdisc", "show", "dev", dev]))?.[1]),
      undo: async () => {
        await run(["tc", "qdisc", "del", "dev", dev, "root"], false);
      },
    };
  }
  // Every path through dev in this namespace: what its processes send and
  // receive, and what it routes either way. Each rule drops the first 3 of
  // every 10 packets it sees, so any exchange over the link loses its first.
  await run(["nft", "add", "table", "inet", LOSSY_TABLE]);
  const rules: [string, string][] = [
    ["output", "oifname"],
    ["input", "iifname"],
    ["forward", "oifname"],
    ["forward", "iifname"],
  ];
  for (const hook of new Set(rules.map(([h]) => h))) {
    await run([
      "nft",
      "add",
      "chain",
      "inet",
      LOSSY_TABLE,
      hook,
      `{ type filter hook ${hook} priority 0; }`,
    ]);
  }
  for (const [hook, match] of rules) {
    const rule = `${match} "${dev}" numgen inc mod 10 < 3 counter drop`;
    await run(["nft", "add", "rule", "inet", LOSSY_TABLE, hook, rule]);
  }
  return {
    dropped: async () =>
      [...(await output(["nft", "list", "table", "inet", LOSSY_TABLE])).matchAll(/packets (\d+)/g)]
        .reduce((n, m) => n + Number(m[1]), 0),
    undo: async () => {
      await run(["nft", "delete", "table", "inet", LOSSY_TABLE], false);
    },
  };
}

const NETS = ["sure-fpa", "sure-fpb", "sure-fpc"].map((ns, i) => ({
  ns,
  here: `sfp${i}0`,
  there: `sfp${i}1`,
  net: `10.232.${i + 1}`,
}));

/** Where the nodes reach the NATS cluster. */
const FLEET_ADDR = "10.240.0.1";

/**
 * Three nodes a, b, c in their namespaces on a three-server cluster, echo
 * and old deployed on all of them; `cut(op)` adds or deletes c's blackhole
 * route to the fleet.
 */
async function withFleet(
  fn: (nodes: FleetNode[], cut: (op: "add" | "del") => Promise<boolean>) => Promise<void>,
): Promise<void> {
  await makeVethNamespaces(NETS);
  await run(["ip", "addr", "del", `${FLEET_ADDR}/32`, "dev", "lo"], false);
  await run(["ip", "addr", "add", `${FLEET_ADDR}/32`, "dev", "lo"]);
  // The NATS servers listen on every address here; the nodes use FLEET_ADDR
  // only (the servers do not tell clients their other addresses).
  const { servers, urls } = await startCluster("0.0.0.0", ["--no_advertise"]);
  const ports = urls.split(",").map((u) => u.split(":").at(-1)!);
  const nodes: FleetNode[] = [];
  try {
    for (const [i, name] of ["a", "b", "c"].entries()) {
      nodes.push(
        await startNode(
          name,
          ports.map((p) => `nats://${FLEET_ADDR}:${p}`).join(","),
          "",
          { SURE_FLEET_REPLICAS: "3" },
          undefined,
          { name: NETS[i].ns, host: `${NETS[i].net}.2` },
        ),
      );
    }
    const [a] = nodes;
    await until("three alive", async () => (await alive(a)).join() === "a,b,c");
    for (const name of ["echo", "old"]) {
      const res = await deploy(a, { name });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
    }
    for (const n of nodes) {
      await until(`echo and old on ${n.name}`, async () => (await names(n)).join() === "echo,old");
    }
    await fn(nodes, async (op) => {
      const ok = await run(
        ["ip", "netns", "exec", NETS[2].ns, "ip", "route", op, "blackhole", FLEET_ADDR],
      );
      // The route drops only what c sends: on connections made before the cut,
      // what the servers send would still reach c. A dead uplink carries
      // nothing either way, so both ends drop those connections at once, as
      // they would when TCP gives up on them.
      if (op === "add") {
        await run(["ip", "netns", "exec", NETS[2].ns, "ss", "-K", "dst", FLEET_ADDR]);
        await run(["ss", "-K", "dst", `${NETS[2].net}.2`, "src", FLEET_ADDR]);
      }
      return ok;
    });
  } finally {
    for (const n of nodes) await stopNode(n);
    for (const s of servers) await stopNats(s);
    await cleanVethNamespaces(NETS);
    await run(["ip", "addr", "del", `${FLEET_ADDR}/32`, "dev", "lo"], false);
  }
}

Deno.test({
  name: "fleet partition: a node cut off keeps serving and refuses changes; healed, it converges",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withFleet(async ([a, b, c], cut) => {
      // Cut: nothing c sends reaches the fleet. The others see it dead within a few beats.
      await cut("add");
      await until("c dead to a", async () => (await alive(a)).join() === "a,b");
      // c still serves what it ran (its own state) ...
      assert.deepEqual(await names(c), ["echo", "old"]);
      if (hasKvm) {
        const inv = await fetch(`${c.url}/invoke/echo`, { method: "POST", body: "cut off" });
        assert.equal(await inv.text(), "cut off");
      }
      // ... while the rest of the fleet changes: one deployed, one removed.
      let res = await deploy(b, { name: "during" });
      assert.equal(res.status, 201, await res.clone().text());
      await res.body?.cancel();
      const rm = await fetch(`${a.url}/admin/functions/old`, { method: "DELETE" });
      assert.equal(rm.status, 200, await rm.clone().text());
      await rm.body?.cancel();
      for (const n of [a, b]) {
        await until(`${n.name} converged`, async () => (await names(n)).join() === "during,echo");
      }
      // A change through c cannot reach the fleet: 503, and nothing half done.
      res = await deploy(c, { name: "fromc" });
      assert.equal(res.status, 503, await res.clone().text());
      assert.equal((await res.json()).error, "fleet_unavailable");
      assert.deepEqual(await names(c), ["echo", "old"]);

      // Heal: c catches up with what it missed.
      const t0 = performance.now();
      await cut("del");
      await until(
        "c converged after the cut",
        async () => (await names(c)).join() === "during,echo",
        120_000,
      );
      const healed = performance.now() - t0;
      await until("c alive again", async () => (await alive(a)).join() === "a,b,c");
      for (const n of [a, b]) assert.deepEqual(await names(n), ["during", "echo"]);
      console.log(`fleet partition: c converged ${healed.toFixed(0)} ms after the cut healed`);
    });
  },
});

Deno.test({
  name: "fleet partition: over a link that loses 30% of its packets a deploy still arrives",
  ignore: !loss,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withFleet(async ([a, _b, c]) => {
      const link = await lossy(NETS[2].here);
      try {
        const t0 = performance.now();
        const res = await deploy(a, { name: "lossy" });
        assert.equal(res.status, 201, await res.clone().text());
        await res.body?.cancel();
        await until("c has lossy", async () => (await names(c)).includes("lossy"), 120_000);
        console.log(
          `fleet partition: a deploy reached c over 30% loss (${loss}) in ${
            (performance.now() - t0).toFixed(0)
          } ms, ${await link.dropped()} packets dropped`,
        );
        assert.ok(await link.dropped() > 0, "the link dropped nothing");
      } finally {
        await link.undo();
      }
    });
  },
});
