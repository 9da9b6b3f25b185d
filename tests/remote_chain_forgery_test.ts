/**
 * A request out at another node is not the local step's that handed it on,
 * for real: two nodes in two network namespaces (as remote_chain_test.ts),
 * a chain `away` of two steps, forger (the chain-forge fixture, on node a,
 * where requests start) and holder (chain-forge too, on node b). Ordinary
 * bodies go through both unchanged. The attack body "0 W D T" makes the
 * forger hand its request on to holder the normal way, which sends it over a
 * hop to b, where holder holds it D ms; W ms after the hand-off, with the hop
 * in flight, the forger hands the same descriptor (the request's capability
 * and all) on again: to the gateway (T = 0), or to holder once more (T = 1).
 * Then it spins 3 D ms, and hands on in place the normal way.
 *
 * The node fails that request 502 bogus_descriptor naming the forger, stops
 * the forger in the middle of that handle (so its count of requests handled
 * never has the attack's) and restarts it, and ends the hop, so that what b
 * answers lands nowhere. Before that defence (f16cc9c), the request was
 * answered 200 with the forger's stale bytes (T = 0) or b's first answer
 * (T = 1), its slot freed, and the hop (T = 1: the second one) wrote b's
 * answer, "held " and the attack body, into the buffer the slot had: that of
 * another request by then. Node a's pool is as small as a chain's can be (16
 * buffers, two per request: 8 requests), so that the allocator, which takes
 * buffers next-fit, gives the attack's buffers to the eighth request after
 * it: the test sends 8 ordinary requests at once as soon as the attack is
 * answered, while the hop is still out, and each must come back with its own
 * bytes. (b's pool is larger: it holds the attack's hop and all 8 at once
 * while holder is slow.) Afterwards the chain serves on, and neither node
 * has a request left in the chain or a buffer in use.
 *
 * The fixture writes rings by hand, which only a node whose guests have no
 * protection keys lets it do: both nodes run with SURE_GUEST_PKU=off (as
 * chain_forgery_test.ts does with withoutGuestKeys). Sockets and af_xdp, as
 * remote_chain_test.ts. Needs KVM and root (namespaces, veth); else SKIP.
 */
import assert from "node:assert/strict";
import { buildImage, hasKvm } from "./helpers.ts";
import { cleanVethNamespaces, hasNetns, makeVethNamespaces } from "./netns_helpers.ts";
import {
  type Backend,
  deployOn,
  metricOf as metric,
  nodePair,
  type PairNode as Node,
  startPairNode,
} from "./node_pair_helpers.ts";

const canRun = hasKvm && hasNetns;

const PAIR = nodePair("f", 232);
const NETS = PAIR.nets;

/** W: ms from the hand-off to the second one; D: ms holder holds the request (the hop's time out). */
const W = 200, D = 1000;
/** Every slot of a's pool (16 buffers, two per request). */
const BATCH = 8;

/** `sure serve` inside namespace i; guests without keys (the fixture writes rings by hand). */
const startNode = (i: number, dataDir: string, backend: Backend): Promise<Node> =>
  startPairNode(PAIR, i, dataDir, backend, { SURE_GUEST_PKU: "off" });

async function deploy(node: Node, name: string, image: Uint8Array<ArrayBuffer>) {
  const r = await deployOn(node, name, image);
  assert.equal(r.status, 201, r.text);
}

/** The chain, with a pool of `buffers` on the node that applies it (the rest as on every node). */
async function applyChain(node: Node, buffers: number) {
  const res = await fetch(`${node.url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "away",
      steps: [{ function: "forger", node: "a" }, { function: "holder", node: "b" }],
      pool: { buffers, bufferSize: 4096 },
      maxBody: 4096,
      reserve: 4096,
      timeout: 30000,
    }),
  });
  assert.equal(res.status, 201, await res.text());
}

async function invoke(node: Node, body: string) {
  const res = await fetch(`${node.url}/invoke/away`, { method: "POST", body });
  return { status: res.status, text: await res.text() };
}

async function stats(node: Node) {
  const res = await fetch(`${node.url}/admin/chains/away/stats`);
  assert.equal(res.status, 200);
  return await res.json();
}

const hops = (n: Node, dir: string) =>
  metric(n, new RegExp(`sure_dataplane_chain_hops_total\\{[^}]*direction="${dir}"\\} (\\d+)`));

/** Polls cond (up to ms) until it holds; its last value. */
async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return await cond();
}

/** Nothing of the chain is left on n: no request in it, every buffer free, none in flight. */
async function assertEmpty(n: Node, name: string) {
  let last: unknown;
  const empty = await until(async () => {
    const s = await stats(n);
    const h = (await (await fetch(`${n.url}/healthz`)).json()).dataplane;
    last = { pool: s.pool, inFlight: s.inFlight, queues: h.queues };
    return s.inFlight === 0 && s.pool.free === s.pool.buffers && s.pool.slotsInFlight === 0 &&
      h.queues.inChains === 0 && h.queues.atOtherNodes === 0;
  });
  assert.ok(empty, `node ${name} still holds requests: ${JSON.stringify(last)}`);
}

for (const backend of ["sockets", "af_xdp"] as const) {
  for (const [target, back] of [["the gateway", 0], ["the remote step", 1]] as const) {
    Deno.test({
      name: `remote chain forgery (${backend}): a step hands a request away at another node ` +
        `back to ${target}: 502 for it, stopped, and nobody else's bytes change`,
      ignore: !canRun,
      sanitizeResources: false,
      sanitizeOps: false,
      async fn() {
        await makeVethNamespaces(NETS);
        const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
        const nodes: Node[] = [];
        try {
          nodes.push(await startNode(0, dirs[0], backend), await startNode(1, dirs[1], backend));
          const [a, b] = nodes;
          const forge = await buildImage("tests/fixtures/functions/chain-forge");
          await deploy(a, "forger", forge);
          await deploy(b, "holder", forge);
          await applyChain(b, 2048);
          await applyChain(a, 16);
          const logs = () =>
            `\n--- a:\n${a.lines().slice(-3000)}\n--- b:\n${b.lines().slice(-3000)}`;

          // Requests through both steps, each back with its own bytes.
          let ordinary = 0;
          const serves = async (tag: string) => {
            for (let k = 0; k < 3; k++) {
              const body = `${tag} ${k} ${crypto.randomUUID()}`;
              const r = await invoke(a, body);
              assert.equal(r.status, 200, `${body}: ${r.text}${logs()}`);
              assert.equal(r.text, body);
              ordinary++;
            }
          };
          await serves("before");
          assert.equal((await stats(a)).steps[0].handled, ordinary);

          // The attack, then every slot of a's pool at once while its hop is out.
          const attack = `0 ${W} ${D} ${back}`;
          const t0 = performance.now();
          const x = await invoke(a, attack);
          const xMs = performance.now() - t0;
          const bodies = Array.from(
            { length: BATCH },
            (_, k) => `ordinary ${k} ${crypto.randomUUID()}`,
          );
          const answers = await Promise.all(bodies.map((body) => invoke(a, body)));
          ordinary += BATCH;
          console.log(
            `${backend}, back to ${target}: attack answered ${x.status} after ${
              xMs.toFixed(0)
            } ms; ${BATCH} others: ${answers.map((r) => r.status).join(" ")}`,
          );

          // Everything that went wrong, at once (the old code gets several wrong).
          const wrong: string[] = [];
          let err: Record<string, unknown> = {};
          try {
            err = JSON.parse(x.text);
          } catch { /* not JSON: reported below */ }
          if (x.status !== 502 || err.error !== "bogus_descriptor") {
            wrong.push(`the attack was answered ${x.status}: ${JSON.stringify(x.text)}`);
          } else {
            if (err.function !== "forger") wrong.push(`the 502 names ${err.function}`);
            if (err.chain !== "away") wrong.push(`the 502 names chain ${err.chain}`);
          }
          answers.forEach((r, k) => {
            if (r.status !== 200 || r.text !== bodies[k]) {
              wrong.push(
                `${JSON.stringify(bodies[k])} was answered ${r.status}: ${JSON.stringify(r.text)}`,
              );
            }
          });
          assert.deepEqual(wrong, [], `${wrong.join("\n")}${logs()}`);

          // The forger was stopped in the middle of the attack's handle: the
          // count of requests its instances handled (the one that is stopped
          // included) has every ordinary request and not the attack. It was
          // stopped for the bogus hand-off, not as a runaway, and restarted.
          await serves("after");
          let s = await stats(a);
          await until(async () => (s = await stats(a)).steps[0]?.handled === ordinary, 5000);
          assert.equal(s.steps[0]?.handled, ordinary, JSON.stringify(s.steps));
          assert.equal(s.errors.bogus, 1, JSON.stringify(s.errors));
          // Counted where every bogus hand-off is, by the node that refused it.
          assert.equal(s.descriptors.bogus, 1, JSON.stringify(s.descriptors));
          assert.equal(
            s.errors.fault + s.errors.timeout + s.errors.loop + s.errors.overloaded,
            0,
            JSON.stringify(s.errors),
          );
          assert.equal(s.runaways, 0);

          // One hop per request, the attack's included: its second hand-off
          // was refused, not sent; none failed (an ended hop is no failure).
          assert.equal(await hops(a, "out"), ordinary + 1);
          assert.equal(await hops(b, "in"), ordinary + 1);
          assert.equal(await hops(a, "failed"), 0);

          // Nothing left in the chain, on either node.
          await assertEmpty(a, "a");
          await assertEmpty(b, "b");
        } finally {
          for (const n of nodes) {
            try {
              n.child.kill("SIGTERM");
            } catch { /* already gone */ }
            await n.child.status;
          }
          await cleanVethNamespaces(NETS);
          for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
        }
      },
    });
  }
}
