import assert from "node:assert/strict";
import { DirectForwarder } from "./forward_direct.ts";
import { ForwardFailedError, FunctionTimeoutError } from "../errors.ts";
import { FORWARDED_BY } from "../gateway/send_on.ts";
import { closedPort } from "../../tests/helpers.ts";

Deno.test("direct forward: the far node's answer, marked with it; refused nodes are skipped", async () => {
  const seen: { path: string; headers: Headers }[] = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const u = new URL(req.url);
    seen.push({ path: u.pathname + u.search, headers: req.headers });
    const body = await req.text();
    return new Response(`got ${body}`, { status: 201, headers: { "x-fn": "1" } });
  });
  const f = new DirectForwarder("a");
  try {
    const live = `127.0.0.1:${srv.addr.port}`;
    const dead = `127.0.0.1:${closedPort()}`;
    const req = new Request("http://x/invoke/echo/p?q=1", { method: "POST", body: "hi" });
    // Whichever comes first in turn, the refused one is skipped.
    for (let k = 0; k < 2; k++) {
      const res = await f.send(
        "echo",
        req.clone(),
        new TextEncoder().encode("hi"),
        "req-1",
        [{ node: "down", addr: dead }, { node: "b", addr: live }],
        5000,
      );
      assert.ok(res);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("x-sure-node"), "b");
      assert.equal(res.headers.get("x-fn"), "1");
      assert.equal(await res.text(), "got hi");
    }
    assert.equal(seen[0].path, "/invoke/echo/p?q=1");
    assert.equal(seen[0].headers.get(FORWARDED_BY), "a");
    assert.equal(seen[0].headers.get("x-request-id"), "req-1");
    // Nobody to dial: null, so the caller goes over NATS.
    const none = await f.send("echo", req.clone(), undefined, "r", [
      { node: "down", addr: dead },
    ], 5000);
    assert.equal(none, null);
    assert.equal(f.inFlight, 0);
  } finally {
    f.close();
    await srv.shutdown();
  }
});

Deno.test("direct forward: a node that dies with requests in flight fails them at once, naming it", async () => {
  // A node that takes connections and never answers; then its port goes too
  // (the connections it took stay open, as a dead machine's would).
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c);
    } catch { /* closed */ }
  })();
  const f = new DirectForwarder("a");
  const target = [{ node: "b", addr: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}` }];
  try {
    const send = (ms: number) =>
      f.send("slow", new Request("http://x/invoke/slow"), undefined, "r", target, ms);
    // One that never answers: the bound given.
    await assert.rejects(send(200), (e: Error) => e instanceof FunctionTimeoutError);
    const pending = send(30000);
    while (f.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    // Its heartbeat expired, but its port still answers: cut off from NATS, not dead.
    await f.suspect("b");
    assert.equal(f.inFlight, 1);
    // Now its port is gone too: dead.
    listener.close();
    await accepting;
    const t0 = performance.now();
    await f.suspect("b");
    await assert.rejects(pending, (e: Error) => {
      assert.ok(e instanceof ForwardFailedError, String(e));
      assert.deepEqual(e.details(), { node: "b" });
      assert.match(e.message, /node b, which ran slow, stopped answering/);
      return true;
    });
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(f.inFlight, 0);
  } finally {
    f.close();
    try {
      listener.close();
    } catch { /* closed above */ }
    for (const c of held) c.close();
  }
});
