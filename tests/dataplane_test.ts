/**
 * libsure's data plane on real KVM (node --dataplane sockets): the HTTP/1.1
 * server in C runs /invoke of deployed functions itself and hands every
 * other request to the Hono app on the same port. On the wire: keep-alive,
 * pipelined requests answered in order, Expect: 100-continue, 413 before
 * the body, the node's request id and trace context; what it answers reaches
 * the metrics and the request log in batches; a request for a function at
 * zero instances waits in C for the instance the control plane starts.
 * (tests/http_contract_test.ts and tests/crash_report_test.ts run against
 * this path too: scripts/test.sh runs them again with SURE_DATAPLANE=sockets.)
 */
import assert from "node:assert/strict";
import {
  buildImage,
  dataplaneThreadCpus,
  deployFunction,
  faultyImage,
  hasKvm,
  rawExchange,
  startTestNode,
  type TestNode,
} from "./helpers.ts";

async function withEcho(fn: (node: TestNode) => Promise<void>, opts = { minInstances: 1 }) {
  const node = await startTestNode({ dataplane: "sockets" });
  try {
    await deployFunction(node, "echo", await buildImage("functions/echo"), 5000, {
      minInstances: opts.minInstances,
      maxInstances: 2,
      maxBody: 1024,
    });
    await fn(node);
  } finally {
    await node.close();
  }
}

const DONE6 = /sure_requests_total\{[^}]*name="echo"[^}]*code="200"[^}]*\} 6\n/;

const answers = (t: string) => t.split("HTTP/1.1 ").filter((x) => x).length;

Deno.test({
  name: "dataplane: /invoke runs in C, everything else reaches the Hono app on the same port",
  ignore: !hasKvm,
  async fn() {
    await withEcho(async (node) => {
      const res = await fetch(`${node.url}/invoke/echo`, {
        method: "POST",
        body: "hello",
        headers: { "x-request-id": "my-id-1" },
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "hello");
      assert.equal(res.headers.get("x-request-id"), "my-id-1");
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      assert.match(res.headers.get("traceparent") ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      // A caller's trace is continued.
      const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const r2 = await fetch(`${node.url}/invoke/echo`, { headers: { traceparent: tp } });
      await r2.body?.cancel();
      assert.match(r2.headers.get("traceparent") ?? "", /^00-0af7651916cd43dd8448eb211c80319c-/);
      // The admin API, health and an unknown function: the Hono app's answers.
      const h = await fetch(`${node.url}/healthz`);
      assert.equal(h.status, 200);
      const health = await h.json();
      assert.equal(health.dataplane.backend, "sockets");
      // What reads the sockets is what was asked for (scripts/test_phases.sh
      // runs this file again on io_uring).
      assert.equal(health.dataplane.io, Deno.env.get("SURE_DATAPLANE_IO") || "epoll");
      // Its one thread, and the CPUs it runs on as the kernel has them (placed
      // off the vCPUs' CPUs): what health says is what /proc says.
      assert.equal(health.dataplane.threads, 1);
      const thread = dataplaneThreadCpus(Deno.pid);
      assert.ok(thread, "a thread named sure-dataplane");
      assert.deepEqual(health.dataplane.cpus, thread);
      const f = await fetch(`${node.url}/admin/functions/echo`);
      assert.equal(f.status, 200);
      await f.body?.cancel();
      // The node's own errors in C: JSON, with retry-after where the Hono path has it.
      const over = await fetch(`${node.url}/invoke/echo`, {
        method: "POST",
        body: "x".repeat(2048),
      });
      assert.equal(over.status, 413);
      assert.equal(over.headers.get("content-type"), "application/json");
      assert.equal((await over.json()).limit, 1024);
      const nf = await fetch(`${node.url}/invoke/nope`);
      assert.equal(nf.status, 404);
      assert.equal((await nf.json()).error, "not_found");
    });
  },
});

Deno.test({
  name: "dataplane: keep-alive, pipelined requests in order, 100-continue, 413 before the body",
  ignore: !hasKvm,
  async fn() {
    await withEcho(async (node) => {
      const req = (body: string) =>
        `POST /invoke/echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const text = await rawExchange(
        node.port,
        req("one") + req("two") + req("three"),
        (t) => answers(t) >= 3 && t.endsWith("three"),
      );
      const bodies = text.split("HTTP/1.1 ").filter((x) => x).map((a) => a.split("\r\n\r\n")[1]);
      assert.deepEqual(bodies, ["one", "two", "three"]);
      assert.match(text, /^HTTP\/1.1 200 OK\r\n/);

      const cont = await rawExchange(
        node.port,
        "POST /invoke/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        (t) => t.endsWith("ok") && answers(t) >= 2,
      );
      assert.match(cont, /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 /);

      const big = await rawExchange(
        node.port,
        "POST /invoke/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n",
        (t) => t.includes("}"),
      );
      assert.match(big, /^HTTP\/1.1 413 /);
      assert.match(big, /"error":"payload_too_large"/);
      assert.match(big, /\r\ncontent-type: application\/json\r\n/);

      const chunked = await rawExchange(
        node.port,
        "POST /invoke/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "400\r\n" + "z".repeat(1024) + "\r\n400\r\n" + "z".repeat(1024) + "\r\n0\r\n\r\n",
        (t) => t.includes("}"),
      );
      assert.match(chunked, /^HTTP\/1.1 413 /);

      const bad = await rawExchange(
        node.port,
        "GET /invoke/echo HTTP/1.1\r\n\r\n",
        (t) => t.includes("}"),
      );
      assert.match(bad, /^HTTP\/1.1 400 /); // no Host

      // No refusal keeps an instance: every one is idle again.
      const list = await (await fetch(`${node.url}/admin/functions/echo/instances`)).json();
      assert.ok(list.instances.length > 0);
      for (const i of list.instances) assert.equal(i.state, "idle", JSON.stringify(list));
    });
  },
});

Deno.test({
  name: "dataplane: metrics and the request log see what C answered; zero instances wait in C",
  ignore: !hasKvm,
  async fn() {
    await withEcho(async (node) => {
      // Once an instance idles (the first request may find it still starting and
      // wait, its body in the connection's buffer), bodies land in it directly.
      const warm = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "w" });
      assert.equal(await warm.text(), "w");
      const copiedIn = async () =>
        Number(
          /sure_dataplane_copied_bytes_total\{backend="sockets",direction="in"\} (\d+)\n/.exec(
            await (await fetch(`${node.url}/metrics`)).text(),
          )?.[1],
        );
      // Head and body in one write: the body arrives in the connection's input
      // buffer with the head, and the parser copies it into the idle instance's
      // request area: one copy, counted, and no second one by the node.
      const before = await copiedIn();
      for (let i = 0; i < 4; i++) {
        const text = await rawExchange(
          node.port,
          `POST /invoke/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nn${i}`,
          (t) => t.endsWith(`n${i}`),
        );
        assert.match(text, /^HTTP\/1.1 200 /);
      }
      assert.equal(await copiedIn(), before + 8);
      // A body that comes after its head is received straight into the area.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
      try {
        await conn.write(
          new TextEncoder().encode(
            "POST /invoke/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
          ),
        );
        await new Promise((r) => setTimeout(r, 200));
        await conn.write(new TextEncoder().encode("b".repeat(1000)));
        let got = "";
        const buf = new Uint8Array(65536);
        for (let n; !got.endsWith("b".repeat(1000)) && (n = await conn.read(buf)) !== null;) {
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
        assert.match(got, /^HTTP\/1.1 200 /);
      } finally {
        conn.close();
      }
      // Events arrive in batches: give the reader a moment.
      let text = "";
      for (let k = 0; k < 50; k++) {
        text = await (await fetch(`${node.url}/metrics`)).text();
        if (DONE6.test(text)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(text, DONE6);
      assert.equal(await copiedIn(), before + 8);
      const logged = node.records.filter((x) => x.msg === "request" && x.function === "echo");
      assert.equal(logged.length, 6);
      // At zero instances the request waits in C for the clone the node starts.
      const s = await fetch(`${node.url}/admin/functions/echo/scale`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ instances: 0 }),
      });
      assert.equal(s.status, 200, await s.text());
      const cold = await fetch(`${node.url}/invoke/echo`, { method: "POST", body: "cold" });
      assert.equal(cold.status, 200);
      assert.equal(await cold.text(), "cold");
    });
  },
});

Deno.test({
  name: "dataplane: chains run in C: pipelined, zero copies, faults explained, step restarted",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode({ dataplane: "sockets" });
    try {
      for (const f of ["upper", "reverse", "echo"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      await deployFunction(node, "faulty", await faultyImage(), 5000);
      const made = await fetch(`${node.url}/admin/chains`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "shout", steps: ["faulty", "upper", "reverse", "echo"] }),
      });
      assert.equal(made.status, 201, await made.text());
      const served = async () => (await (await fetch(`${node.url}/healthz`)).json()).dataplane;
      const before = await served();
      // Three pipelined requests on one connection, answered in order by C.
      const req = (b: string) =>
        `POST /invoke/shout HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
      const text = await rawExchange(
        node.port,
        req("abc") + req("hello") + req("xyz"),
        (t) => answers(t) >= 3 && t.endsWith("ZYX"),
      );
      const bodies = text.split("HTTP/1.1 ").filter((x) => x).map((x) => x.split("\r\n\r\n")[1]);
      assert.deepEqual(bodies, ["CBA", "OLLEH", "ZYX"]);
      assert.match(text, /traceparent: 00-[0-9a-f]{32}-/);
      const after = await served();
      assert.equal(after.requests - before.requests, 3);
      // No tunnel but the one of the /healthz that read this (each exchange
      // with the Hono app is a tunnel of its own).
      assert.equal(after.tunnelled - before.tunnelled, 1);
      // The body went into the pool and the answer came from it: no copy by the node.
      const stats = await (await fetch(`${node.url}/admin/chains/shout/stats`)).json();
      assert.equal(stats.copies.inBytes, 0);
      assert.equal(stats.copies.outBytes, 0);
      // A chunked body (length unknown at the head) is copied in once, and counted.
      const chunked = await rawExchange(
        node.port,
        "POST /invoke/shout HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
        (t) => t.endsWith("DCBA"),
      );
      assert.match(chunked, /^HTTP\/1.1 200 /);
      const s2 = await (await fetch(`${node.url}/admin/chains/shout/stats`)).json();
      assert.equal(s2.copies.inBytes, 4);
      // A fault in the first step: the control plane explains it, C answers it.
      const r = await fetch(`${node.url}/invoke/shout`, { method: "POST", body: "null" });
      assert.equal(r.status, 502);
      const err = await r.json();
      assert.equal(err.error, "function_fault");
      assert.equal(err.function, "faulty");
      assert.equal(err.fault.vector, 14);
      // The step is restarted: the chain serves again.
      let ok = 0;
      for (let k = 0; k < 100 && ok === 0; k++) {
        const again = await fetch(`${node.url}/invoke/shout`, { method: "POST", body: "fine" });
        const t = await again.text();
        if (again.status === 200) {
          assert.equal(t, "ENIF");
          ok++;
        } else await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(ok, 1);
      // Removed: its name is the Hono app's again (404).
      const del = await fetch(`${node.url}/admin/chains/shout`, { method: "DELETE" });
      assert.equal(del.status, 200, await del.text());
      const gone = await fetch(`${node.url}/invoke/shout`, { method: "POST", body: "x" });
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
    } finally {
      await node.close();
    }
  },
});
