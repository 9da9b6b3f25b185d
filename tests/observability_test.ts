/**
 * The library sidecar and the node's observability, end to end on real KVM:
 * /metrics counts exactly what was sent, limits answer 429 (and deadlines
 * 504) without disturbing other functions, the W3C trace context reaches
 * every hop of a chain, a hand-off the chain's routes forbid is refused and
 * reported, and the request log has a line per request.
 */
import assert from "node:assert/strict";
import {
  buildImage,
  deployFunction,
  echoImage,
  faultyImage,
  hasKvm,
  pastColdStart,
  startTestNode,
  type TestNode,
  waitForAsync,
} from "./helpers.ts";

const traceHopImage = () => buildImage("tests/fixtures/functions/trace-hop");

async function invoke(node: TestNode, name: string, body = "", headers: HeadersInit = {}) {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body, headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** /metrics as a map from "name{labels}" to value. */
async function metrics(node: TestNode): Promise<Map<string, number>> {
  const res = await fetch(`${node.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const m = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

function metric(m: Map<string, number>, name: string, labels: Record<string, string>): number {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",");
  return m.get(l ? `${name}{${l}}` : name) ?? 0;
}

async function chain(node: TestNode, spec: Record<string, unknown>) {
  const res = await fetch(`${node.url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spec),
  });
  assert.equal(res.status, 201, await res.clone().text());
  await res.body?.cancel();
}

Deno.test({
  name: "metrics count exactly the requests sent, by status and error kind",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await echoImage());
      await deployFunction(node, "faulty", await faultyImage(), 300);
      for (const f of ["upper", "reverse"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      await chain(node, { name: "shout", steps: ["upper", "reverse", "echo"] });

      for (let i = 0; i < 5; i++) assert.equal((await invoke(node, "echo", `m${i}`)).status, 200);
      for (let i = 0; i < 2; i++) assert.equal((await invoke(node, "faulty", "null")).status, 502);
      assert.equal((await invoke(node, "faulty", "loop")).status, 504);
      assert.equal((await invoke(node, "faulty", "status:404")).status, 404);
      assert.equal((await invoke(node, "nobody", "x")).status, 404);
      for (let i = 0; i < 3; i++) assert.equal((await invoke(node, "shout", "abc")).text, "CBA");

      const m = await metrics(node);
      const req = (name: string, code: string, target = "function") =>
        metric(m, "sure_requests_total", { target, name, code });
      const err = (name: string, kind: string) =>
        metric(m, "sure_request_errors_total", { target: "function", name, kind });
      assert.equal(req("echo", "200"), 5);
      assert.equal(req("faulty", "502"), 2);
      assert.equal(req("faulty", "504"), 1);
      assert.equal(req("faulty", "404"), 1);
      assert.equal(req("shout", "200", "chain"), 3);
      assert.equal(err("faulty", "function_fault"), 2);
      assert.equal(err("faulty", "function_timeout"), 1);
      assert.equal(err("echo", "function_fault"), 0);
      assert.ok(![...m.keys()].some((k) => k.includes('name="nobody"')), "no series for a 404");
      assert.equal(
        metric(m, "sure_request_duration_seconds_count", { target: "function", name: "echo" }),
        5,
      );
      // The sidecars' own counts agree (instances that died included).
      const sc = (fn: string, outcome: string, chainName = "") =>
        metric(m, "sure_sidecar_requests_total", { function: fn, chain: chainName, outcome });
      assert.equal(sc("echo", "admitted"), 5);
      assert.equal(sc("faulty", "admitted"), 4);
      assert.equal(sc("upper", "admitted", "shout"), 3);
      assert.equal(sc("echo", "admitted", "shout"), 3);
      assert.equal(
        metric(m, "sure_sidecar_errors_total", { function: "faulty", chain: "", class: "4xx" }),
        1,
      );
      assert.equal(
        metric(m, "sure_sidecar_handler_seconds_count", { function: "echo", chain: "" }),
        5,
      );
      assert.equal(metric(m, "sure_chain_handoffs_total", { chain: "shout" }), 9);
      // upper writes its answer into the other extent (3 bytes, 3 times); the rest work in place.
      assert.equal(
        metric(m, "sure_chain_copied_bytes_total", { chain: "shout", by: "handoff" }),
        9,
      );
      assert.equal(metric(m, "sure_chain_pool_buffers", { chain: "shout", state: "in_use" }), 0);
      assert.ok(metric(m, "sure_function_cold_starts_total", { function: "faulty" }) >= 1);
      assert.ok(metric(m, "sure_memory_reserved_bytes", {}) > 0);

      // One structured log line per request, with its id, target, status and duration.
      const lines = node.records.filter((r) => r.msg === "request");
      assert.equal(lines.length, 13);
      const bad = lines.find((r) => r.function === "faulty" && r.status === 502)!;
      assert.equal(bad.error, "function_fault");
      assert.match(String(bad.requestId), /^[0-9a-f-]{36}$/);
      assert.equal(typeof bad.durationMs, "number");
      assert.match(String(bad.traceId), /^[0-9a-f]{32}$/);
      assert.equal(lines.filter((r) => r.chain === "shout").length, 3);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "limits: over its concurrency or rate limit a function answers 429, others keep serving",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await echoImage());
      await deployFunction(node, "slow", await faultyImage(), 5000, {
        concurrencyLimit: 1,
        maxInstances: 1,
      });
      await deployFunction(node, "paced", await echoImage(), 5000, { rateLimit: 5, rateBurst: 2 });
      assert.equal((await invoke(node, "slow", "warm")).status, 200);

      const slow = [1, 2, 3].map(() => invoke(node, "slow", "busy:300"));
      await new Promise((r) => setTimeout(r, 50));
      // While slow is saturated, echo answers.
      assert.deepEqual([(await invoke(node, "echo", "still")).text], ["still"]);
      const answers = await Promise.all(slow);
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 429, 429]);
      const refused = answers.find((a) => a.status === 429)!;
      assert.equal(JSON.parse(refused.text).error, "concurrency_limited");
      assert.equal(refused.headers.get("retry-after"), "1");

      // Rate: a burst of 2, then 5 per second; six at once: two pass.
      const paced = [];
      for (let i = 0; i < 6; i++) paced.push(await invoke(node, "paced", `p${i}`));
      assert.deepEqual(paced.map((p) => p.status), [200, 200, 429, 429, 429, 429]);
      assert.equal(JSON.parse(paced[2].text).error, "rate_limited");
      await new Promise((r) => setTimeout(r, 450));
      assert.equal((await invoke(node, "paced", "later")).status, 200, "tokens come back");
      // Limits change without a redeploy; the running instance's sidecar follows at once.
      const lifted = await fetch(`${node.url}/admin/functions/paced`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rateLimit: 0 }),
      });
      assert.equal((await lifted.json()).rateLimit, 0);
      const free = [];
      for (let i = 0; i < 6; i++) free.push((await invoke(node, "paced", `f${i}`)).status);
      assert.deepEqual(free, [200, 200, 200, 200, 200, 200]);

      // The paced instance's sidecar kept a record of each request it ran; the
      // four over the rate never reached it: libsure refused them before
      // posting them (the limit holds whatever the guest's page says).
      const recs = (await (await fetch(`${node.url}/admin/functions/paced/requests`)).json())
        .requests;
      assert.equal(recs.length, 9);
      assert.ok(recs.every((r: { status: number }) => r.status === 200));
      assert.equal(recs[0].answeredBy, "function");
      assert.match(recs[0].traceId, /^[0-9a-f]{32}$/);

      // In a chain, the step's own sidecar enforces the limit on the requests queued at it.
      await deployFunction(node, "slowstep", await faultyImage(), 5000, { concurrencyLimit: 1 });
      await chain(node, { name: "slowchain", steps: ["slowstep"] });
      const chained = await Promise.all(
        [1, 2, 3, 4].map(() => invoke(node, "slowchain", "busy:150")),
      );
      const codes = chained.map((a) => a.status);
      assert.ok(codes.includes(200) && codes.includes(429), `statuses ${codes}`);
      assert.equal(
        JSON.parse(chained.find((a) => a.status === 429)!.text).error,
        "concurrency_limited",
      );

      const m = await metrics(node);
      assert.equal(
        metric(m, "sure_sidecar_requests_total", {
          function: "slowstep",
          chain: "slowchain",
          outcome: "concurrency_limited",
        }),
        codes.filter((c) => c === 429).length,
      );
      assert.equal(
        metric(m, "sure_sidecar_requests_total", {
          function: "paced",
          chain: "",
          outcome: "rate_limited",
        }),
        4,
      );
      assert.equal(
        metric(m, "sure_request_errors_total", {
          target: "function",
          name: "slow",
          kind: "concurrency_limited",
        }),
        2,
      );
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "deadline: a request that waited past its function's deadline is 504 and never runs",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "slow", await faultyImage(), 5000, {
        maxInstances: 1,
        deadline: 100,
      });
      // Its first request may expire while its instance starts (see pastColdStart).
      assert.equal((await pastColdStart(() => invoke(node, "slow", "warm"))).status, 200);
      // The second request must come while the first runs: it waits for the one instance.
      const first = invoke(node, "slow", "busy:1500");
      const busy = await waitForAsync(async () => {
        const r = await fetch(`${node.url}/admin/functions/slow/instances`);
        const s = await r.json() as { instances: { state: string }[] };
        return s.instances.some((i) => i.state === "busy");
      });
      assert.ok(busy, "the first request never ran");
      const second = await invoke(node, "slow", "log:should not run");
      assert.equal(second.status, 504);
      assert.equal(JSON.parse(second.text).error, "deadline_exceeded");
      assert.equal((await first).status, 200);
      const logs = await (await fetch(`${node.url}/admin/functions/slow/logs`)).text();
      assert.ok(!logs.includes("should not run"), "the late request did not run");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name:
    "traceparent reaches every hop of a chain with the same trace id; policy refusals are reported",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      const img = await traceHopImage();
      for (const f of ["hop-a", "hop-b", "hop-c"]) await deployFunction(node, f, img);
      await chain(node, { name: "traced", steps: ["hop-a", "hop-b", "hop-c"] });
      const trace = "0af7651916cd43dd8448eb211c80319c";
      const r = await invoke(node, "traced", "", {
        traceparent: `00-${trace}-b7ad6b7169203331-01`,
      });
      assert.equal(r.status, 200, r.text);
      const gw = r.headers.get("traceparent")!.split("-");
      assert.equal(gw[1], trace, "the node answers in the caller's trace");
      const hops = r.text.trim().split("\n").map((l) => {
        const m = /^hop (\S+) in=00-([0-9a-f]{32})-([0-9a-f]{16})-01 span=([0-9a-f]{16})$/.exec(l);
        assert.ok(m, `hop line: ${l}`);
        return { fn: m[1], trace: m[2], parent: m[3], span: m[4] };
      });
      assert.deepEqual(hops.map((h) => h.fn), ["hop-a", "hop-b", "hop-c"]);
      assert.ok(hops.every((h) => h.trace === trace), "one trace id at every hop");
      assert.equal(hops[0].parent, gw[2], "the first hop's parent is the node's span");
      assert.equal(hops[1].parent, hops[0].span);
      assert.equal(hops[2].parent, hops[1].span);
      assert.equal(new Set(hops.map((h) => h.span)).size, 3);

      // No traceparent: the node starts a trace, the same at every hop.
      const fresh = await invoke(node, "traced", "");
      const ids = fresh.text.trim().split("\n").map((l) => /in=00-([0-9a-f]{32})-/.exec(l)?.[1]);
      assert.equal(new Set(ids).size, 1);
      assert.equal(ids[0], fresh.headers.get("traceparent")!.split("-")[1]);
      // A plain function gets it too, and its sidecar records the request under that trace.
      const plain = await invoke(node, "hop-a", "", {
        traceparent: `00-${trace}-b7ad6b7169203331-01`,
      });
      assert.match(plain.text, new RegExp(`in=00-${trace}-`));
      const rec = (await (await fetch(`${node.url}/admin/functions/hop-a/requests`)).json())
        .requests[0];
      assert.equal(rec.traceId, trace);
      assert.equal(rec.spanId, /span=([0-9a-f]{16})/.exec(plain.text)![1]);
      assert.equal(rec.status, 200);

      // hop-a may only hand to hop-b: asking for hop-c is refused, the request goes on.
      const denied = await invoke(node, "traced", "goto:hop-c\n");
      assert.equal(denied.status, 200);
      assert.match(denied.text, /goto hop-c = -1/);
      assert.deepEqual(
        denied.text.trim().split("\n").filter((l) => l.startsWith("hop ")).map((l) =>
          l.split(" ")[1]
        ),
        ["hop-a", "hop-b", "hop-c"],
      );
      const allowed = await invoke(node, "traced", "goto:hop-b\n");
      assert.match(allowed.text, /goto hop-b = 0/);
      const m = await metrics(node);
      assert.equal(
        metric(m, "sure_sidecar_policy_denied_total", { function: "hop-a", chain: "traced" }),
        1,
      );
      // Reported in hop-a's own log too (the chain pump drains it).
      let logs = "";
      for (let i = 0; i < 50 && !logs.includes("policy:"); i++) {
        for (let j = 0; j < 64; j++) await invoke(node, "traced", "");
        logs = await (await fetch(`${node.url}/admin/functions/hop-a/logs`)).text();
      }
      assert.match(logs, /policy: hop-a may not hand off to hop-c/);
    } finally {
      await node.close();
    }
  },
});
