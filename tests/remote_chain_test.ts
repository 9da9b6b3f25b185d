/**
 * Chains across nodes, for real: two nodes in two network namespaces, each
 * joined by a veth pair to this test's own namespace, which routes between
 * them and is the client (a third namespace). Both apply one manifest; node
 * a runs upper and echo, node b runs reverse. A request on a goes upper (a)
 * -> reverse (b) -> echo (a): two hops over TCP between the data planes, the
 * bytes received straight into each node's pool. Hops are taken only from the
 * chain's nodes, and only with the MAC of the hop key the nodes share
 * (computed here with WebCrypto too, so libsure's HMAC is checked against
 * another one); a node that is down fails the request at once with a 502
 * naming it. Needs KVM and root (namespaces, veth); else SKIP.
 *
 * The same runs on both libsure backends: sockets (kernel TCP), and af_xdp,
 * where each node's Z-stack owns an address of its own (10.231.<n>.3) on its
 * veth end, the client and every hop speak to those, and the hops cross this
 * namespace as a router, both ends in the Z-stacks.
 */
import assert from "node:assert/strict";
import { buildImage, DENO, hasKvm } from "./helpers.ts";
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

/** Namespace i: veth sxi0 (here, 10.231.<i+1>.1) <-> sxi1 (there), routed through here. */
const PAIR = nodePair("x", 231);
const { ns: NS, addr: ADDR, stack: STACK, port: PORT, hopKey: HOP_KEY } = PAIR;
const makeNetworks = () => makeVethNamespaces(PAIR.nets);
const cleanNetworks = () => cleanVethNamespaces(PAIR.nets);

/** x-sure-hop-mac as libsure makes it: HMAC-SHA256 of the hop's parts, each ended by a NUL. */
async function hopMac(key: string, parts: string[]): Promise<string> {
  const raw = new Uint8Array(key.match(/../g)!.map((h) => parseInt(h, 16)));
  const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const msg = new TextEncoder().encode(["sure-hop-1", ...parts].map((p) => p + "\0").join(""));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, msg));
  return Array.from(mac).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `sure serve` inside namespace i (every request logged). */
const startNode = (i: number, dataDir: string, backend: Backend): Promise<Node> =>
  startPairNode(PAIR, i, dataDir, backend, { SURE_REQUEST_LOG: "1" });

async function deploy(node: Node, name: string, image: Uint8Array<ArrayBuffer>) {
  const r = await deployOn(node, name, image);
  assert.equal(r.status, 201, r.text);
}

const MANIFEST = {
  name: "across",
  steps: [
    { function: "upper", node: "a" },
    { function: "reverse", node: "b" },
    { function: "echo", node: "a" },
  ],
};

async function applyChain(node: Node) {
  const res = await fetch(`${node.url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(MANIFEST),
  });
  assert.equal(res.status, 201, await res.text());
}

for (const backend of ["sockets", "af_xdp"] as const) {
  Deno.test({
    name:
      `remote chains (${backend}): a step on another node runs there; hops carry the bytes and the trace`,
    ignore: !canRun,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await makeNetworks();
      const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
      const nodes: Node[] = [];
      try {
        nodes.push(await startNode(0, dirs[0], backend), await startNode(1, dirs[1], backend));
        const [a, b] = nodes;
        await deploy(a, "upper", await buildImage("functions/upper"));
        await deploy(a, "echo", await buildImage("functions/echo"));
        await deploy(b, "reverse", await buildImage("functions/reverse"));
        await applyChain(b);
        await applyChain(a);

        // upper (a) -> reverse (b) -> echo (a), the caller's trace continued.
        const trace = "0af7651916cd43dd8448eb211c80319c";
        const res = await fetch(`${a.url}/invoke/across`, {
          method: "POST",
          body: "hello nodes",
          headers: { traceparent: `00-${trace}-b7ad6b7169203331-01` },
        });
        const body = await res.text();
        assert.equal(
          res.status,
          200,
          `${body}\n--- a:\n${a.lines().slice(-3000)}\n--- b:\n${b.lines().slice(-3000)}`,
        );
        assert.equal(body, "SEDON OLLEH");
        assert.match(res.headers.get("traceparent") ?? "", new RegExp(`^00-${trace}-`));
        const hopCount = (n: Node, dir: string) =>
          metric(
            n,
            new RegExp(`sure_dataplane_chain_hops_total\\{[^}]*direction="${dir}"\\} (\\d+)`),
          );
        assert.equal(await hopCount(a, "out"), 1);
        assert.equal(await hopCount(b, "in"), 1);
        // Each node ran its own steps, in place.
        const statsOf = async (n: Node) =>
          (await (await fetch(`${n.url}/admin/chains/across/stats`)).json()).steps.map((
            s: { handled: number } | null,
          ) => s?.handled ?? 0);
        assert.deepEqual(await statsOf(a), [1, 0, 1]);
        assert.deepEqual(await statsOf(b), [0, 1, 0]);
        // b's request log has the caller's trace id.
        for (let k = 0; k < 30 && !b.lines().includes(trace); k++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(b.lines().includes(`"traceId":"${trace}"`), "b logged the caller's trace");

        // Hops to the same node go on the connection an earlier one left open:
        // one, or two if the peer closed a kept one just as it was taken.
        for (let k = 0; k < 5; k++) {
          const again = await fetch(`${a.url}/invoke/across`, { method: "POST", body: `n${k}` });
          assert.equal(await again.text(), `${k}N`);
        }
        assert.equal(await hopCount(a, "out"), 6);
        const opened = await metric(
          a,
          /sure_dataplane_hop_connections_total\{[^}]*\} (\d+)/,
        );
        assert.ok(opened >= 1 && opened <= 2, `${opened} connections opened for 6 hops`);
        console.log(`remote chains (${backend}): ${opened} connections opened for 6 hops`);

        // HEAD, with a body (HTTP allows one): an answer to HEAD has no body, but
        // a hop's answer carries the request's bytes on, so the hop goes as GET
        // and the bytes come back; the client's answer has their length, no body.
        const conn = await Deno.connect({ hostname: new URL(a.url).hostname, port: PORT });
        const giveUp = setTimeout(() => conn.close(), 20_000);
        await conn.write(
          new TextEncoder().encode(
            "HEAD /invoke/across HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n" +
              "connection: close\r\n\r\nab",
          ),
        );
        let head = "";
        try {
          for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
            head += chunk;
          }
        } catch { /* closed by giveUp */ }
        clearTimeout(giveUp);
        try {
          conn.close();
        } catch { /* closed already */ }
        assert.match(head, /^HTTP\/1\.1 200 /, head);
        assert.match(head, /\r\ncontent-length: 2\r\n/i, head);
        assert.ok(head.endsWith("\r\n\r\n"), `no body: ${JSON.stringify(head)}`);
        assert.equal(await hopCount(a, "out"), 7);

        if (backend === "af_xdp") {
          // A plain function through the Z-stack, a body of many segments each way.
          const big = new Uint8Array(256 * 1024).map((_, k) => (k * 7) & 255);
          const echo = await fetch(`${a.url}/invoke/echo`, { method: "POST", body: big });
          assert.equal(echo.status, 200);
          assert.deepEqual(new Uint8Array(await echo.arrayBuffer()), big);
          const h = (await (await fetch(`${a.url}/healthz`)).json()).dataplane;
          assert.equal(h.backend, "af_xdp");
          assert.equal(h.stack.iface, "sx01");
          assert.equal(h.stack.listen, `${STACK[0]}:${PORT}`);
          assert.ok(h.stack.rxFrames > 0 && h.stack.txFrames > 0, JSON.stringify(h.stack));
          const frames = await metric(a, /sure_zstack_frames_total\{direction="in"\} (\d+)/);
          assert.ok(frames >= h.stack.rxFrames, `${frames} frames`);
          const wire = await metric(a, /sure_zstack_copied_bytes_total\{kind="wire"\} (\d+)/);
          assert.ok(wire >= big.length, `${wire} bytes copied into TX frames`);
          const rto = await metric(a, /sure_zstack_retransmit_timeouts_total (\d+)/);
          assert.ok(rto >= h.stack.retransmitTimeouts, `${rto} retransmission timeouts`);
          // The mode is the port's choice (generic on veth with multi-buffer
          // AF_XDP, which Linux has from 6.6); without multi-buffer no packet
          // comes in more than one frame.
          assert.ok(["native", "generic"].includes(h.stack.xdp), JSON.stringify(h.stack));
          assert.equal(h.stack.xdp === "generic", h.stack.multiBuffer, JSON.stringify(h.stack));
          const chained = await metric(a, /sure_zstack_packets_chained_total (\d+)/);
          if (!h.stack.multiBuffer) assert.equal(chained, 0);
          // Every TCP segment the stack sent had its checksum finished by
          // whoever /healthz names (the kernel where it takes AF_XDP TX
          // metadata), none by the other.
          assert.ok(["kernel", "stack"].includes(h.stack.txChecksums), JSON.stringify(h.stack));
          const other = h.stack.txChecksums === "kernel" ? "stack" : "kernel";
          const by = (who: string) =>
            metric(a, new RegExp(`sure_zstack_checksums_total\\{by="${who}"\\} (\\d+)`));
          assert.ok((await by(h.stack.txChecksums)) > 0, "checksums finished");
          assert.equal(await by(other), 0);
        }

        // A request that comes in on b is led by a, which runs the first step:
        // b sends it there and passes the answer back, saying who served it.
        // b's data plane sends it itself, with no JavaScript on the way (on
        // af_xdp from its Z-stack, to a's).
        const sentBy = (n: Node) =>
          metric(n, /sure_dataplane_forwards_total\{[^}]*outcome="sent"\} (\d+)/);
        const sent0 = await sentBy(b);
        const viaB = await fetch(`${b.url}/invoke/across`, { method: "POST", body: "from b" });
        assert.equal(viaB.status, 200, await viaB.clone().text());
        assert.equal(await viaB.text(), "B MORF");
        assert.equal(viaB.headers.get("x-sure-node"), "a");
        assert.equal(await sentBy(b) - sent0, 1);
        // One that says a node already sent it on is never sent on again: b's
        // manifest and the sender's would disagree on who leads (a 500 saying so).
        const looped = await fetch(`${b.url}/invoke/across`, {
          method: "POST",
          body: "x",
          headers: { "x-sure-chain-entry": "1" },
        });
        assert.equal(looped.status, 500);
        assert.match((await looped.json()).message, /apply the same manifest/);
        assert.equal(await sentBy(b) - sent0, 1);

        // A hop is taken only from the chain's nodes: not from this client.
        const forged = await fetch(`${b.url}/invoke/across`, {
          method: "POST",
          body: "x",
          headers: { "x-sure-hop": "0 1 0 1" },
        });
        assert.equal(forged.status, 403);
        assert.equal((await forged.json()).error, "forbidden");

        const health = (await (await fetch(`${b.url}/healthz`)).json()).dataplane;
        assert.equal(health.hopAuth, "key");

        // From a chain's node, a hop needs the MAC of the nodes' hop key: without
        // it, or with a wrong one, it is refused; with it, b runs its step and
        // hands the request back. And it must name a hand-off the manifest has
        // and that lands on a step the receiver runs: every other one is a 400.
        // (Only the kernel's address of a node can be used by curl: on sockets it
        // is the node's address as a peer.)
        const hopFromA = async (hop: string, mac: string | undefined) => {
          const id = `hop-test-${crypto.randomUUID()}`;
          const sign = mac ?? await hopMac(HOP_KEY, ["across", hop, id, "POST", "/", "", "2"]);
          const out = await new Deno.Command("ip", {
            args: ["netns", "exec", NS[0], "curl", "-s", "-D", "-", "-w", "\n%{http_code}"]
              .concat(["-H", `x-sure-hop: ${hop}`, "-H", `x-request-id: ${id}`])
              .concat(["-H", `x-sure-hop-mac: ${sign}`, "--data", "ab", `${b.url}/invoke/across`]),
            stdout: "piped",
          }).output();
          const text = new TextDecoder().decode(out.stdout);
          return { status: text.slice(text.lastIndexOf("\n") + 1), text };
        };
        if (backend === "sockets") {
          const refusedBefore = await metric(
            b,
            /sure_dataplane_chain_hops_total\{[^}]*direction="refused"\} (\d+)/,
          );
          for (const mac of ["", "0".repeat(64), await hopMac("11".repeat(32), ["across"])]) {
            const r = await hopFromA("0 1 200 1", mac);
            assert.equal(r.status, "403", r.text);
            assert.match(r.text, /hop key/);
          }
          const ok = await hopFromA("0 1 200 1", undefined);
          assert.equal(ok.status, "200", ok.text);
          assert.match(ok.text, /x-sure-hop-next: 1 2 \d+ \d+/i);
          assert.match(ok.text, /\r\n\r\nba\n200$/, "b's step (reverse) ran on the hop's bytes");
          const badHops = ["0 2 0 1", "1 2 0 1", "9 1 0 1", "0 1 0 99999", "0 1", "x y z w"];
          // Only digits and single spaces: no sign, no other blank, even under a valid MAC.
          for (const hop of [...badHops, "+0 1 200 1", "0  1 200 1", "0 1 200 1 1"]) {
            const r = await hopFromA(hop, undefined);
            assert.equal(r.status, "400", `x-sure-hop: ${hop}: ${r.text}`);
          }
          assert.equal(
            await metric(b, /sure_dataplane_chain_hops_total\{[^}]*direction="refused"\} (\d+)/),
            refusedBefore + 3,
          );
        }

        // b goes down: a fails the request at once, naming it.
        b.child.kill("SIGKILL");
        await b.child.status;
        const t0 = performance.now();
        const down = await fetch(`${a.url}/invoke/across`, { method: "POST", body: "again" });
        const ms = performance.now() - t0;
        assert.equal(down.status, 502);
        const err = await down.json();
        assert.equal(err.error, "peer_unreachable");
        assert.equal(err.node, "b");
        const bAddr = (backend === "af_xdp" ? STACK : ADDR)[1];
        assert.ok(err.message.includes(`node b (${bAddr}:8080)`), err.message);
        assert.ok(ms < 1500, `the 502 took ${ms} ms`);

        // A program that takes b's port once b is gone cannot answer for b: a
        // hop's answer needs the MAC of the hop key too, so a forged hand-back
        // fails the request (502 naming b) instead of steering it on.
        if (backend === "sockets") {
          const impostor = new Deno.Command("ip", {
            args: [
              "netns",
              "exec",
              NS[1],
              DENO,
              "eval",
              `Deno.serve({ hostname: "${
                ADDR[1]
              }", port: ${PORT}, onListen() { console.log("up") } }, () => new Response("forged", { headers: { "x-sure-hop-next": "1 2 200 2" } }))`,
            ],
            stdout: "piped",
            stderr: "null",
          }).spawn();
          try {
            const up = impostor.stdout.pipeThrough(new TextDecoderStream()).getReader();
            assert.match((await up.read()).value ?? "", /up/);
            const forged = await fetch(`${a.url}/invoke/across`, { method: "POST", body: "x" });
            const err = await forged.json();
            assert.equal(forged.status, 502, JSON.stringify(err));
            assert.equal(err.error, "peer_unreachable");
            assert.match(err.message, /without a MAC made with the hop key/);
            up.releaseLock();
          } finally {
            impostor.kill("SIGKILL");
            await impostor.status;
          }
        }
      } finally {
        for (const n of nodes) {
          try {
            n.child.kill("SIGTERM");
          } catch { /* already gone */ }
          await n.child.status;
        }
        await cleanNetworks();
        for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
      }
    },
  });
}
