/**
 * A plain instance's request queue (ABI 7) on real KVM, through the data
 * plane: while a function answers quickly, the node posts the next requests
 * into the instance's free slots behind the one it runs, so that the guest
 * serves a burst in one wake-up. Each request still gets its own answer,
 * and a request waiting in an instance whose request before it crashed or
 * timed out never ran: it goes back to the queue and is served by the
 * instance that replaces it, not lost and not blamed for the fault. A
 * request waiting behind one that runs long is withdrawn before it begins
 * and served by another instance.
 */
import assert from "node:assert/strict";
import {
  deployFunction,
  faultyImage,
  hasKvm,
  rawExchange,
  startTestNode,
  type TestNode,
} from "./helpers.ts";

async function post(node: TestNode, name: string, body: string) {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body });
  return { status: res.status, text: await res.text() };
}

/** The data plane's count of requests posted behind another, or given back to the queue. */
async function queueEvents(
  node: TestNode,
  event: "pipelined" | "requeued" | "withdrawn",
): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const re = new RegExp(
    `sure_dataplane_instance_queue_total\\{[^}]*event="${event}"[^}]*\\} (\\d+)`,
  );
  return Number(re.exec(text)?.[1] ?? -1);
}

/** The largest number of requests the function's instances held behind the running one (guest-reported). */
async function maxQueueDepth(node: TestNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const re = new RegExp(`sure_sidecar_queue_depth_max\\{[^}]*function="${name}"[^}]*\\} (\\d+)`);
  return Number(re.exec(text)?.[1] ?? -1);
}

Deno.test({
  name:
    "instance queue: a burst at one instance is served from its slots, each request its own answer",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode({ dataplane: "sockets" });
    try {
      await deployQueued(node);
      const bodies = Array.from({ length: 64 }, (_, i) => `burst-${i}-${"x".repeat(i * 13)}`);
      const answers = await Promise.all(bodies.map((b) => post(node, "faulty", b)));
      answers.forEach((a, i) => {
        assert.equal(a.status, 200, a.text);
        assert.equal(a.text, bodies[i], `request ${i} got another request's answer`);
      });
      const pipelined = await queueEvents(node, "pipelined");
      assert.ok(pipelined >= 1, `no request was posted behind another (${pipelined})`);
      assert.equal(await queueEvents(node, "requeued"), 0);
      const depth = await maxQueueDepth(node, "faulty");
      assert.ok(depth >= 1, `the guest never saw a request behind another (${depth})`);
    } finally {
      await node.close();
    }
  },
});

/** The answers on one connection, in order: status and body of each. */
function parseAnswers(text: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const head = text.slice(at, end);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    out.push({ status, body: text.slice(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

/** Requests pipelined on one connection, so that the node takes them all at once. */
function pipelined(name: string, bodies: string[]): string {
  return bodies.map((b, k) =>
    `POST /invoke/${name} HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.length}\r\n` +
    (k === bodies.length - 1 ? "Connection: close\r\n" : "") + `\r\n${b}`
  ).join("");
}

/**
 * Quick answers first, from an instance that is awake (back to back): the
 * node queues at an instance only behind requests it has seen run quickly.
 */
async function warm(node: TestNode, name: string) {
  const bodies = Array.from({ length: 12 }, (_, i) => `w${i}`);
  const answers = parseAnswers(
    await rawExchange(node.port, pipelined(name, bodies), (t) => parseAnswers(t).length === 12),
  );
  assert.deepEqual(answers.map((a) => a.body), bodies);
}

/**
 * The `faulty` fixture (it echoes what is no command) at one instance at most:
 * every request waits for that one anyway, so the node posts behind the one
 * it runs however long that one has run. A crash first: the instance started
 * for the next request is the node's measure of what a start takes (the
 * yardstick of queueing: before one, it guesses 2 ms, which an emulated CPU
 * takes per request); then quick answers.
 */
async function deployQueued(node: TestNode, timeoutMs = 3000) {
  await deployFunction(node, "faulty", await faultyImage(), timeoutMs, {
    minInstances: 0,
    maxInstances: 1,
  });
  assert.equal((await post(node, "faulty", "ud2")).status, 502);
  await warm(node, "faulty");
}

// What ends the request at the head of an instance's queue, and how it is answered.
const ENDS: [string, number, string][] = [
  ["ud2", 502, "function_fault"],
  ["loop", 504, "function_timeout"],
];

for (const [end, status, error] of ENDS) {
  Deno.test({
    name:
      `instance queue: requests behind one that ends in ${error} are served by the next instance`,
    ignore: !hasKvm,
    async fn() {
      const node = await startTestNode({ dataplane: "sockets" });
      try {
        await deployQueued(node);
        // The fatal one waits until a request is posted behind it, then ends.
        const fatal = post(node, "faulty", `behind:${end}`);
        await new Promise((r) => setTimeout(r, 100));
        // (Each settles as an answer, so a failing check leaves no request dangling.)
        const behind = [1, 2, 3].map((k) =>
          post(node, "faulty", `behind-${k}`).catch((e) => ({ status: -1, text: String(e) }))
        );
        const f = await fatal;
        assert.equal(f.status, status, f.text);
        assert.equal(JSON.parse(f.text).error, error);
        for (const [k, p] of behind.entries()) {
          assert.deepEqual(await p, { status: 200, text: `behind-${k + 1}` });
        }
        assert.ok(await queueEvents(node, "pipelined") >= 1, "nothing was posted behind it");
        assert.ok(await queueEvents(node, "requeued") >= 1, "nothing went back to the queue");
        // Two deaths: the warm-up's and the one of the request that caused it.
        const deaths = node.records.filter((r) => r.msg.startsWith("instance died"));
        assert.equal(deaths.length, 2, JSON.stringify(deaths));
      } finally {
        await node.close();
      }
    },
  });
}

Deno.test({
  name:
    "instance queue: a request waiting behind one that runs long is withdrawn and served by another instance",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode({ dataplane: "sockets" });
    try {
      // One instance at most, warm, with a start measured (deployQueued):
      // the node posts the second request behind the first however long
      // that one runs, and the first waits for it, then runs for 3 s.
      await deployQueued(node, 15_000);
      const settled = (p: Promise<{ status: number; text: string }>) =>
        p.then((a) => ({ ...a, at: Date.now() }), (e) => ({ status: -1, text: String(e), at: 0 }));
      const before = await queueEvents(node, "pipelined");
      const long = settled(post(node, "faulty", "behind:busy:3000"));
      await new Promise((r) => setTimeout(r, 100));
      const quick = settled(post(node, "faulty", "quick"));
      for (let k = 0; k < 250 && await queueEvents(node, "pipelined") <= before; k++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(await queueEvents(node, "pipelined") > before, "nothing was posted behind it");
      // Now a second instance may come: the one behind has somewhere else to
      // go, and the node takes it back from behind the long one.
      const patched = await fetch(`${node.url}/admin/functions/faulty`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ maxInstances: 2 }),
      });
      assert.equal(patched.status, 200, await patched.text());
      const q = await quick, l = await long;
      assert.deepEqual([q.status, q.text], [200, "quick"]);
      assert.deepEqual([l.status, l.text], [200, "ok"]);
      assert.ok(q.at < l.at - 1000, `quick answered ${l.at - q.at} ms before the long one`);
      assert.ok(await queueEvents(node, "withdrawn") >= 1, "nothing was withdrawn");
      assert.equal(await queueEvents(node, "requeued"), 0);
      // Only the warm-up's death: the withdrawn request hurt nobody.
      const deaths = node.records.filter((r) => r.msg.startsWith("instance died"));
      assert.equal(deaths.length, 1, JSON.stringify(deaths));
    } finally {
      await node.close();
    }
  },
});
