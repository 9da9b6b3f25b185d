/**
 * Limits and numbers the host vouches for, tried with a function that
 * rewrites its own sidecar page (the `faulty` fixture's "lie": no rate limit,
 * counters zeroed or set to 10^15): the node's rate limit still holds (it is
 * checked by libsure before a request is posted, on both data planes), and
 * the sidecar series in /metrics never go back and never pass the requests
 * the node gave the function. That is what stands where guests have no
 * protection keys; where they have them the page is closed to the function
 * (the gates own it), so these tests turn guest keys off for their node
 * (SURE_GUEST_PKU=off) and a last one checks that with keys the lie faults.
 */
import assert from "node:assert/strict";
import {
  deployFunction,
  faultyImage,
  hasGuestPku,
  hasKvm,
  pastColdStart,
  startTestNode,
  type TestNode,
  withoutGuestKeys,
} from "./helpers.ts";

/** Every sure_sidecar_* sample of one function, by its full name and labels (sums left out). */
async function sidecarSamples(node: TestNode, fn: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("sure_sidecar_") || !line.includes(`function="${fn}"`)) continue;
    const [key, value] = [line.slice(0, line.lastIndexOf(" ")), line.slice(line.lastIndexOf(" "))];
    out.set(key, Number(value));
  }
  return out;
}

for (const dataplane of ["sockets", "hono"] as const) {
  Deno.test({
    name: `limits: a function that rewrites its sidecar page keeps its rate limit and cannot ` +
      `bend its counters (--dataplane ${dataplane})`,
    ignore: !hasKvm,
    fn: () =>
      withoutGuestKeys(async () => {
        const node = await startTestNode({ dataplane });
        try {
          await deployFunction(node, "liar", await faultyImage(), 5000, {
            rateLimit: 1,
            rateBurst: 1,
            maxInstances: 1,
          });
          let sent = 0;
          const call = async (body: string) => {
            sent++;
            const r = await fetch(`${node.url}/invoke/liar`, { method: "POST", body });
            return { status: r.status, text: await r.text() };
          };
          const lied = await call("lie");
          assert.equal(lied.status, 200, lied.text);
          assert.equal(lied.text, "lied");
          const first = await sidecarSamples(node, "liar");

          // Its page now says "no limit": 20 at once are still paced at 1/s.
          const t0 = performance.now();
          const answers = await Promise.all(Array.from({ length: 20 }, () => call("x")));
          const seconds = (performance.now() - t0) / 1000;
          const served = answers.filter((a) => a.status === 200).length;
          const refused = answers.filter((a) => a.status === 429);
          for (const a of refused) assert.equal(JSON.parse(a.text).error, "rate_limited");
          // (A queue that is full answers 503: also not served.)
          const overloaded = answers.filter((a) => a.status === 503).length;
          assert.equal(
            served + refused.length + overloaded,
            20,
            JSON.stringify(answers.map((a) => [a.status, a.text.slice(0, 200)])),
          );
          assert.ok(refused.length > 0);
          // One token at most in the bucket after "lie", one more per second.
          assert.ok(
            served <= 2 + Math.ceil(seconds),
            `${served} served in ${seconds.toFixed(1)} s`,
          );

          const second = await sidecarSamples(node, "liar");
          assert.ok(second.size > 0, "no sidecar series for liar");
          for (const [key, value] of second) {
            // Times are bounded by the instance's age, not by requests.
            if (key.includes("_sum{") || key.startsWith("sure_sidecar_cpu_seconds")) continue;
            assert.ok(value <= sent + 1, `${key} = ${value} after ${sent} requests`);
            assert.ok(
              value >= (first.get(key) ?? 0),
              `${key} went back: ${first.get(key)} -> ${value}`,
            );
          }
        } finally {
          await node.close();
        }
      }),
  });
}

async function addChain(node: TestNode, name: string, steps: string[]): Promise<void> {
  const res = await fetch(`${node.url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, steps }),
  });
  assert.equal(res.status, 201, await res.text());
}

for (const dataplane of ["sockets", "hono"] as const) {
  Deno.test({
    name: `limits: a chain step that rewrites its sidecar page keeps its rate, concurrency and ` +
      `deadline limits, held by the host (--dataplane ${dataplane})`,
    ignore: !hasKvm,
    fn: () =>
      withoutGuestKeys(async () => {
        const node = await startTestNode({ dataplane });
        const call = async (chain: string, body: string) => {
          const r = await fetch(`${node.url}/invoke/${chain}`, { method: "POST", body });
          return { status: r.status, text: await r.text() };
        };
        const show = (as: { status: number; text: string }[]) =>
          JSON.stringify(as.map((a) => [a.status, a.text.slice(0, 160)]));
        try {
          // The limited step is the second: the host charges every step, not just the first.
          await deployFunction(node, "front", await faultyImage(), 5000);
          await deployFunction(node, "paced", await faultyImage(), 5000, {
            rateLimit: 1,
            rateBurst: 1,
          });
          await addChain(node, "pacedchain", ["front", "paced"]);
          // "lie" passes front (it echoes it) and reaches paced, which lifts its own limits.
          const lied = await call("pacedchain", "lie");
          assert.equal(lied.status, 200, lied.text);
          assert.equal(lied.text, "lied");

          const t0 = performance.now();
          const answers = await Promise.all(
            Array.from({ length: 20 }, () => call("pacedchain", "x")),
          );
          const seconds = (performance.now() - t0) / 1000;
          const served = answers.filter((a) => a.status === 200).length;
          const refused = answers.filter((a) => a.status === 429);
          assert.equal(served + refused.length, 20, show(answers));
          for (const a of refused) {
            const body = JSON.parse(a.text);
            assert.equal(body.error, "rate_limited", a.text);
            assert.equal(body.function, "paced", a.text);
          }
          assert.ok(served <= 1 + Math.ceil(seconds), `${served} served in ${seconds} s`);

          await deployFunction(node, "narrow", await faultyImage(), 5000, {
            concurrencyLimit: 1,
          });
          await addChain(node, "narrowchain", ["front", "narrow"]);
          assert.equal((await call("narrowchain", "lie")).text, "lied");
          // Four at once, each 300 ms in the step: one at a time gets in.
          const busy = await Promise.all(
            Array.from({ length: 4 }, () => call("narrowchain", "busy:300")),
          );
          const ok = busy.filter((a) => a.status === 200).length;
          const limited = busy.filter((a) => a.status === 429);
          assert.ok(ok >= 1 && ok <= 2, show(busy));
          assert.equal(ok + limited.length, 4, show(busy));
          for (const a of limited) {
            assert.equal(JSON.parse(a.text).error, "concurrency_limited", a.text);
            assert.equal(JSON.parse(a.text).function, "narrow", a.text);
          }
          // A deadline: requests queued behind a busy step past it are answered 504 by
          // the host, though the step's page says "no deadline".
          await deployFunction(node, "late", await faultyImage(), 5000, { deadline: 100 });
          await addChain(node, "latechain", ["late"]);
          // Its first request may expire while its instance starts (see pastColdStart).
          const warm = await pastColdStart(() => call("latechain", "lie"));
          assert.equal(warm.text, "lied");
          const queued = await Promise.all(
            Array.from({ length: 3 }, () => call("latechain", "busy:400")),
          );
          const ran = queued.filter((a) => a.status === 200).length;
          const expired = queued.filter((a) => a.status === 504);
          assert.equal(ran, 1, show(queued));
          assert.equal(expired.length, 2, show(queued));
          for (const a of expired) {
            assert.equal(JSON.parse(a.text).error, "deadline_exceeded", a.text);
            assert.equal(JSON.parse(a.text).function, "late", a.text);
          }

          // The refusals are the host's, counted on the step's series.
          const text = await (await fetch(`${node.url}/metrics`)).text();
          const line = text.split("\n").find((l) =>
            l.startsWith("sure_sidecar_requests_total") && l.includes(`function="paced"`) &&
            l.includes(`chain="pacedchain"`) && l.includes(`outcome="rate_limited"`)
          );
          assert.ok(line, "no rate refusals for paced in /metrics");
          assert.ok(Number(line.slice(line.lastIndexOf(" "))) >= refused.length, line);
        } finally {
          await node.close();
        }
      }),
  });
}

Deno.test({
  name: "limits: where guests have protection keys, a function that writes its sidecar page " +
    "faults (without them, it may: the model /healthz states)",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "liar", await faultyImage(), 5000);
      const r = await fetch(`${node.url}/invoke/liar`, { method: "POST", body: "lie" });
      if (!hasGuestPku) {
        assert.equal(r.status, 200, await r.text());
        return;
      }
      const body = await r.json();
      assert.equal(r.status, 502, JSON.stringify(body));
      assert.equal(body.error, "function_fault");
      assert.match(body.message, /protection-key fault at 0xd0/); // the sidecar page
      assert.equal(body.fault.errorCode & 0x20, 0x20);
      // The node goes on serving it from a fresh instance.
      const ok = await fetch(`${node.url}/invoke/liar`, { method: "POST", body: "x" });
      assert.equal(ok.status, 200, await ok.text());
    } finally {
      await node.close();
    }
  },
});
