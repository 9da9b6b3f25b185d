/**
 * Chains end to end on real KVM: functions hand a request on through the
 * chain's shared pool; the node copies the body in once and the answer out
 * once; faults, timeouts and a full pool fail only what they must, and the
 * pool's buffers always come back.
 */
import assert from "node:assert/strict";
import { stats as libsureStats } from "../ffi/mod.ts";
import {
  buildImage,
  deployForm,
  deployFunction,
  emptyVmsSettled,
  faultyImage,
  hasKvm,
  resourceCounts,
  startTestNode,
  type TestNode,
  withoutGuestKeys,
} from "./helpers.ts";
import { assertPoolFull, chain, invoke, stats, text } from "./chain_helpers.ts";
import { vcpuNice } from "../runtime/scheduler/placement.ts";

/**
 * By default libsure's data plane is in front: it receives a body of known
 * length straight into the pool and writes the answer from it, so the node
 * copies nothing either way. scripts/test_phases.sh runs this file again
 * with the Hono gateway (SURE_DATAPLANE=hono), which copies each once.
 */
const viaDataplane = (Deno.env.get("SURE_DATAPLANE") ?? "sockets") === "sockets";
const nodeCopies = (bytes: number) => viaDataplane ? 0 : bytes;

/** Deploys the `faulty` fixture (5 s timeout) and makes the chain spec names. */
async function faultyChain(node: TestNode, spec: Record<string, unknown>) {
  await deployFunction(node, "faulty", await faultyImage(), 5000);
  await chain(node, spec);
}

async function withNode(fn: (node: TestNode) => Promise<void>) {
  const node = await startTestNode();
  try {
    for (const f of ["upper", "reverse", "echo"]) {
      await deployFunction(node, f, await buildImage(`functions/${f}`));
    }
    await fn(node);
  } finally {
    await node.close();
  }
}

Deno.test({
  name: "chains: three functions answer in order; the copy counters count every copy",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await chain(node, { name: "shout", steps: ["upper", "reverse", "echo"] });
      const bodies = ["hello chain", "abc", "x".repeat(5000)];
      let inBytes = 0, outBytes = 0;
      for (const b of bodies) {
        const r = await invoke(node, "shout", b);
        assert.equal(r.status, 200);
        assert.equal(text(r.bytes), b.toUpperCase().split("").reverse().join(""));
        inBytes += b.length;
        outBytes += r.bytes.byteLength;
      }
      const s = await assertPoolFull(node, "shout");
      assert.equal(s.copies.inBytes, nodeCopies(inBytes));
      assert.equal(s.copies.outBytes, nodeCopies(outBytes));
      // upper writes its answer into the other extent (a copy of every body's
      // length); reverse and echo work in place and copy nothing.
      assert.equal(s.copies.handoffBytes, inBytes);
      assert.equal(s.handoffs, bodies.length * 3); // two hand-offs + the answer, per request
      assert.equal(s.completed, bodies.length);
      assert.deepEqual(s.steps.map((x: { handled: number }) => x.handled), [3, 3, 3]);
    });
  },
});

Deno.test({
  name: "chains: a chain whose steps all work in place copies no byte between them",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await chain(node, { name: "flip", steps: ["reverse", "echo"] });
      const bodies = ["in place", "y".repeat(9000)];
      for (const b of bodies) {
        const r = await invoke(node, "flip", b);
        assert.equal(text(r.bytes), b.split("").reverse().join(""));
      }
      const s = await assertPoolFull(node, "flip");
      assert.equal(s.copies.handoffBytes, 0);
      assert.equal(s.copies.inBytes, nodeCopies(bodies.join("").length));
      assert.equal(s.copies.outBytes, nodeCopies(bodies.join("").length));
      assert.equal(s.handoffs, bodies.length * 2);
    });
  },
});

Deno.test({
  name: "chains: a 1 MiB body goes through, and 200 concurrent requests leave the pool full",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await chain(node, { name: "big", steps: ["reverse", "echo"] });
      const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
      const r = await invoke(node, "big", big);
      assert.equal(r.status, 200);
      assert.equal(r.bytes.byteLength, big.byteLength);
      assert.deepEqual(r.bytes, big.slice().reverse());

      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => invoke(node, "big", `req-${i}`)),
      );
      answers.forEach((a, i) => {
        assert.equal(a.status, 200);
        assert.equal(text(a.bytes), `req-${i}`.split("").reverse().join(""));
      });
      await assertPoolFull(node, "big");
    });
  },
});

Deno.test({
  name: "chains: a fault mid-chain fails only that request, names the function, pool comes back",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await faultyChain(node, { name: "crashy", steps: ["echo", "faulty", "upper"] });
      assert.equal(text((await invoke(node, "crashy", "fine")).bytes), "FINE");
      const r = await invoke(node, "crashy", "null");
      assert.equal(r.status, 502);
      const err = JSON.parse(text(r.bytes));
      assert.equal(err.error, "function_fault");
      assert.equal(err.function, "faulty");
      assert.equal(err.fault.vector, 14);
      assert.equal(err.fault.address, "0x0");
      // The step is replaced; the chain keeps serving.
      const again = await invoke(node, "crashy", "after");
      assert.equal(again.status, 200, text(again.bytes));
      assert.equal(text(again.bytes), "AFTER");
      const s = await assertPoolFull(node, "crashy");
      assert.equal(s.errors.fault, 1);
    });
  },
});

Deno.test({
  name: "chains: a loop mid-chain answers 504 after the chain's timeout; the next request works",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await faultyChain(node, { name: "slow", steps: ["faulty", "echo"], timeout: 300 });
      const t0 = performance.now();
      const r = await invoke(node, "slow", "loop");
      assert.equal(r.status, 504, text(r.bytes));
      assert.ok(performance.now() - t0 >= 290);
      const again = await invoke(node, "slow", "ok now");
      assert.equal(again.status, 200, text(again.bytes));
      assert.equal(text(again.bytes), "ok now");
      await assertPoolFull(node, "slow");
    });
  },
});

Deno.test({
  name: "chains: requests queued for a step that is stopped wait for its next instance",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await faultyChain(node, { name: "queue", steps: ["faulty", "echo"], timeout: 3000 });
      // Step 0 spins on the first request; the next three wait in its ring
      // behind it, untaken, when its timeout stops the step. They come half
      // way through it, so that their own timeouts leave the step's next
      // instance 1.5 s to serve them (under an emulated CPU a clone and three
      // requests took more than the 0.2 s that sending them at once left).
      const stuck = invoke(node, "queue", "loop");
      await new Promise((r) => setTimeout(r, 1500));
      const waiting = ["one", "two", "three"].map((b) => invoke(node, "queue", b));
      const r = await stuck;
      assert.equal(r.status, 504, text(r.bytes));
      for (const [i, w] of (await Promise.all(waiting)).entries()) {
        assert.equal(w.status, 200, text(w.bytes));
        assert.equal(text(w.bytes), ["one", "two", "three"][i]);
      }
      await assertPoolFull(node, "queue");
    });
  },
});

Deno.test({
  name: "chains: a hand-off goes on while the step that made it runs a long request next",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await faultyChain(node, { name: "pipe", steps: ["faulty", "echo"], timeout: 3000 });
      assert.equal((await invoke(node, "pipe", "warm")).status, 200);
      // Where the steps share one CPU (two cores: the node gives the vCPUs
      // one), step 0 rings no WAKE for its hand-offs and the host wakes echo
      // when step 0 sleeps. Here step 0 takes `hi` between two busy requests
      // and does not sleep for 400 ms after it: `hi` must not wait for that.
      const first = invoke(node, "pipe", "busy:100");
      await new Promise((r) => setTimeout(r, 20));
      const t0 = performance.now();
      const hi = invoke(node, "pipe", "hi").then((r) => ({ ...r, ms: performance.now() - t0 }));
      await new Promise((r) => setTimeout(r, 20));
      const long = invoke(node, "pipe", "busy:400").then((r) => ({
        ...r,
        ms: performance.now() - t0,
      }));
      const [a, b, c] = await Promise.all([first, hi, long]);
      assert.deepEqual([a.status, b.status, c.status], [200, 200, 200]);
      assert.equal(text(b.bytes), "hi");
      assert.ok(c.ms >= 400, `busy:400 took ${c.ms} ms`);
      assert.ok(b.ms < 300, `hi took ${b.ms} ms, behind the long request (done at ${c.ms} ms)`);
      await assertPoolFull(node, "pipe");
    });
  },
});

/** CPU time (ms) of this process's threads whose name starts with prefix, by thread id. */
function threadCpuMs(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      const stat = Deno.readTextFileSync(`/proc/self/task/${t.name}/stat`);
      const name = /\((.*)\)/.exec(stat)?.[1] ?? "";
      if (!name.startsWith(prefix)) continue;
      // After the name: state is field 3, utime and stime fields 14 and 15 (USER_HZ ticks).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(t.name, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

Deno.test({
  name: "chains: idle steps sleep: their vCPU threads take no CPU between requests",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await chain(node, { name: "idle", steps: ["upper", "reverse", "echo"] });
      assert.equal(text((await invoke(node, "idle", "abc")).bytes), "CBA");
      await new Promise((r) => setTimeout(r, 200)); // past every step's 50 us of polling
      const before = threadCpuMs("sure-step");
      assert.ok(before.size >= 3, `step threads: ${[...before.keys()]}`);
      await new Promise((r) => setTimeout(r, 1000));
      const after = threadCpuMs("sure-step");
      // A step that cannot sleep (its wait fails, say) spins: a whole CPU
      // shared by the three, hundreds of ms each in this second.
      for (const [tid, ms] of after) {
        const used = ms - (before.get(tid) ?? 0);
        assert.ok(used <= 30, `step thread ${tid} used ${used} ms of CPU in 1 s idle`);
      }
    });
  },
});

/** The nice values of this process's threads whose name starts with prefix (field 19 of stat). */
function threadNices(prefix: string): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      const stat = Deno.readTextFileSync(`/proc/self/task/${t.name}/stat`);
      const name = /\((.*)\)/.exec(stat)?.[1] ?? "";
      if (name.startsWith(prefix)) {
        out.push(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
      }
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

Deno.test({
  name:
    "chains: steps keep the node's weight; plain instances' vCPU threads weigh more on CPUs of their own",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await chain(node, { name: "weights", steps: ["upper", "reverse", "echo"] });
      assert.equal(text((await invoke(node, "weights", "abc")).bytes), "CBA");
      const own = Number(Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ")[16]);
      // Raised only as root (CAP_SYS_NICE); elsewhere the node's weight, as for the steps.
      const want = Deno.uid() === 0 && vcpuNice("auto") !== 0 ? vcpuNice("auto") : own;
      const plain = threadNices("sure-vcpu"), steps = threadNices("sure-step");
      assert.ok(plain.length >= 3 && steps.length >= 3, `threads: ${plain} ${steps}`);
      assert.deepEqual(new Set(plain), new Set([want]), `plain: ${plain}`);
      assert.deepEqual(new Set(steps), new Set([own]), `steps: ${steps}`);
    });
  },
});

Deno.test({
  name: "chains: an exhausted pool answers 503 with Retry-After at once, then recovers",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      // 16 buffers = 8 requests in flight; the first loops and holds the rest behind it.
      await faultyChain(node, {
        name: "tiny",
        steps: ["faulty"],
        pool: { buffers: 16, bufferSize: 4096 },
        maxBody: 4096,
        timeout: 500,
      });
      const held = Array.from({ length: 8 }, () => invoke(node, "tiny", "loop"));
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      const r = await invoke(node, "tiny", "one more");
      assert.equal(r.status, 503, text(r.bytes));
      assert.equal(r.headers.get("retry-after"), "1");
      assert.ok(performance.now() - t0 < 250, "503 must not wait");
      const results = await Promise.all(held);
      assert.ok(results.every((x) => x.status === 504 || x.status === 502));
      await assertPoolFull(node, "tiny");
      assert.equal((await invoke(node, "tiny", "hi")).status, 200);
    });
  },
});

Deno.test({
  name: "chains: bad definitions are 400 naming the field, name clashes 409, nothing stored",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      const bad: [Record<string, unknown>, string][] = [
        [{ name: "Bad", steps: ["echo"] }, "name"],
        [{ name: "c1", steps: [] }, "steps"],
        [{ name: "c1", steps: ["echo", "echo"] }, "steps.1"],
        [{ name: "c1", steps: ["nope"] }, "steps.0"],
        [{ name: "c1", steps: ["echo"], routes: { echo: ["upper"] } }, "routes.echo.0"],
        [
          { name: "c1", steps: ["echo"], pool: { buffers: 16, bufferSize: 1000 } },
          "pool.bufferSize",
        ],
        [{ name: "c1", steps: ["echo"], extra: 1 }, "extra"],
      ];
      for (const [spec, field] of bad) {
        const err = await chain(node, spec, 400);
        assert.equal(err.field, field, JSON.stringify(err));
      }
      assert.equal((await chain(node, { name: "echo", steps: ["upper"] }, 409)).error, "conflict");
      await chain(node, { name: "c2", steps: ["echo"] });
      const del = await fetch(`${node.url}/admin/functions/echo`, { method: "DELETE" });
      assert.equal(del.status, 409);
      await del.body?.cancel();
      const list = await (await fetch(`${node.url}/admin/chains`)).json();
      assert.deepEqual(list.chains.map((c: { name: string }) => c.name), ["c2"]);
    });
  },
});

Deno.test({
  name: "chains: a restarted node brings its chains back",
  ignore: !hasKvm,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-chain-restart-" });
    let node = await startTestNode({ dataDir });
    try {
      for (const f of ["upper", "reverse"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      await chain(node, { name: "back", steps: ["upper", "reverse"] });
      await node.close();
      node = await startTestNode({ dataDir });
      const r = await invoke(node, "back", "abc");
      assert.equal(text(r.bytes), "CBA");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "chains: conditional routing sends letters to upper and the rest to hexdump",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      for (const f of ["route-text", "hexdump"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      const manifest = JSON.parse(
        await Deno.readTextFile(new URL("../chains/text-router.json", import.meta.url)),
      );
      await chain(node, manifest);
      const words = await invoke(node, "text-router", "hello world");
      assert.equal(text(words.bytes), "HELLO WORLD");
      const bin = await invoke(node, "text-router", new Uint8Array([0, 1, 2, 255]));
      assert.equal(text(bin.bytes), "00000000  00 01 02 ff\n");
      const s = await stats(node, "text-router");
      assert.deepEqual(s.steps.map((x: { handled: number }) => x.handled), [2, 1, 1]);
    });
  },
});

Deno.test({
  name: "chains: routes that loop answer 508 after the hop limit, blaming nobody",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await chain(node, {
        name: "circle",
        steps: ["upper", "reverse"],
        routes: { upper: ["reverse"], reverse: ["upper"] },
      });
      const r = await invoke(node, "circle", "round");
      assert.equal(r.status, 508, text(r.bytes));
      // Said in JSON, as every error the node answers.
      const err = JSON.parse(text(r.bytes));
      assert.equal(err.error, "loop_detected");
      assert.equal(err.chain, "circle");
      assert.match(err.message, /routes loop/);
      const s = await assertPoolFull(node, "circle");
      assert.equal(s.errors.loop, 1);
      assert.equal(s.errors.bogus, 0);
      assert.equal(s.descriptors.bogus, 0);
      assert.equal((await invoke(node, "circle", "again")).status, 508);
    });
  },
});

Deno.test({
  name: "chains: a bogus descriptor fails that request (502 naming the sender), others go on",
  ignore: !hasKvm,
  // The fixture writes its outgoing ring itself: only possible without guest
  // keys (with them the ring is the gate's; chain_forgery_test.ts).
  fn: () =>
    withoutGuestKeys(async () => {
      await withNode(async (node) => {
        await deployFunction(
          node,
          "chain-bogus",
          await buildImage("tests/fixtures/functions/chain-bogus"),
        );
        await chain(node, { name: "liar", steps: ["chain-bogus", "upper"] });
        assert.equal(text((await invoke(node, "liar", "fine")).bytes), "FINE");
        const r = await invoke(node, "liar", "bogus");
        assert.equal(r.status, 502, text(r.bytes));
        const err = JSON.parse(text(r.bytes));
        assert.equal(err.error, "bogus_descriptor");
        assert.equal(err.function, "chain-bogus");
        const after = await invoke(node, "liar", "still fine");
        assert.equal(after.status, 200, text(after.bytes));
        assert.equal(text(after.bytes), "STILL FINE");
        const s = await assertPoolFull(node, "liar");
        assert.equal(s.errors.bogus, 1);
      });
    }),
});

Deno.test({
  name: "chains: the thumbnail pipeline turns a PPM into a half-size PGM; bad input is a 400",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      for (const f of ["ppm-decode", "rgb-gray", "gray-resize", "pgm-encode"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      const manifest = JSON.parse(
        await Deno.readTextFile(new URL("../chains/thumbnail.json", import.meta.url)),
      );
      await chain(node, manifest);
      // 4x2: red, green, blue, white over a black row.
      const header = new TextEncoder().encode("P6\n# test\n4 2\n255\n");
      const pixels = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, ...new Array(12).fill(0)];
      const ppm = new Uint8Array([...header, ...pixels]);
      const r = await invoke(node, "thumbnail", ppm);
      assert.equal(r.status, 200, text(r.bytes));
      // Luma (77R + 150G + 29B) >> 8, then 2x2 boxes: (76 + 149) / 4, (28 + 255) / 4.
      assert.deepEqual(
        r.bytes,
        new Uint8Array([...new TextEncoder().encode("P5\n2 1\n255\n"), 56, 71]),
      );
      // The same image as text (P3) gives the same thumbnail.
      const p3 = `P3\n4 2\n255\n${pixels.join(" ")}\n`;
      assert.deepEqual((await invoke(node, "thumbnail", p3)).bytes, r.bytes);

      const bad = await invoke(node, "thumbnail", "hello");
      assert.equal(bad.status, 400);
      assert.equal(text(bad.bytes), "ppm-decode: not a PPM image (expected P6 or P3)\n");
      const cut = await invoke(node, "thumbnail", ppm.slice(0, ppm.byteLength - 5));
      assert.equal(cut.status, 400);
      assert.match(text(cut.bytes), /truncated/);
      const s = await assertPoolFull(node, "thumbnail");
      assert.deepEqual(s.steps.map((x: { handled: number }) => x.handled), [4, 2, 2, 2]);
    });
  },
});

Deno.test({
  name: "chains: deleting a chain destroys its VMs and pool (no instance, thread or fd left)",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await invoke(node, "echo", "warm"); // the functions' own pools are warm already
      await emptyVmsSettled();
      const before = { ...libsureStats(), ...resourceCounts() };
      await chain(node, { name: "gone", steps: ["upper", "reverse", "echo"] });
      assert.equal(libsureStats().instances, before.instances + 3);
      assert.equal(text((await invoke(node, "gone", "abc")).bytes), "CBA");
      const res = await fetch(`${node.url}/admin/chains/gone`, { method: "DELETE" });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      await emptyVmsSettled();
      const after = { ...libsureStats(), ...resourceCounts() };
      assert.equal(after.instances, before.instances);
      assert.equal(after.vcpuThreads, before.vcpuThreads);
      assert.equal(after.guestBytes, before.guestBytes);
      // Its eventfds, pool and table: gone (sockets of keep-alive connections come and go).
      assert.equal(after.nonSocketFds, before.nonSocketFds);
      assert.equal((await invoke(node, "gone", "abc")).status, 404);
    });
  },
});

Deno.test({
  name: "chains: a step whose init crashes is refused with 502 and nothing is stored",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      await deployFunction(
        node,
        "initfault",
        await buildImage("tests/fixtures/functions/initfault"),
      );
      const err = await chain(node, { name: "broken", steps: ["echo", "initfault"] }, 502);
      assert.equal(err.error, "function_start_failed");
      // The step that did not start is named, not the chain as a function.
      assert.equal(err.chain, "broken");
      assert.equal(err.step, 1);
      assert.equal(err.function, "initfault");
      assert.match(err.message, /step 1 \(function initfault\) could not start/);
      const list = await (await fetch(`${node.url}/admin/chains`)).json();
      assert.deepEqual(list.chains, []);
      assert.equal((await invoke(node, "broken", "x")).status, 404);
    });
  },
});

/** The answer of chain fragile while its step 1 (flip) cannot start: at once, naming it. */
function assertStepDown(r: { status: number; bytes: Uint8Array }, sentAt: number) {
  const ms = performance.now() - sentAt;
  assert.equal(r.status, 502, text(r.bytes));
  const err = JSON.parse(text(r.bytes));
  assert.equal(err.error, "function_start_failed");
  assert.equal(err.chain, "fragile");
  assert.equal(err.step, 1);
  assert.equal(err.function, "flip");
  assert.match(err.message, /could not start/);
  assert.ok(ms < 5000, `answered after ${ms} ms, not at once`);
}

Deno.test({
  name:
    "chains: a redeploy whose init crashes says which chain broke; it answers 502 naming the step at once, and a good redeploy brings it back",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      const echo = await buildImage("functions/echo");
      await deployFunction(node, "flip", echo);
      // A long timeout: a request left waiting for the step would take 30 s.
      await chain(node, { name: "fragile", steps: ["upper", "flip"], timeout: 30000 });
      assert.equal(text((await invoke(node, "fragile", "ab")).bytes), "AB");

      // A body still arriving (into the pool, on the data plane) while the step goes down.
      const slow = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
      const enc = new TextEncoder();
      await slow.write(
        enc.encode(
          "POST /invoke/fragile HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n" +
            "Connection: close\r\n\r\nabcd",
        ),
      );
      const bad = await fetch(`${node.url}/admin/functions`, {
        method: "POST",
        body: deployForm({
          name: "flip",
          image: await buildImage("tests/fixtures/functions/initfault"),
        }),
      });
      const dep = await bad.json();
      assert.equal(bad.status, 200, JSON.stringify(dep));
      assert.equal(dep.warnings?.length, 1, JSON.stringify(dep));
      assert.match(dep.warnings[0], /chain fragile: step 1 \(flip\) could not start/);
      const t1 = performance.now();
      await slow.write(enc.encode("efgh"));
      let answer = "";
      const buf = new Uint8Array(4096);
      for (let n; (n = await slow.read(buf)) !== null;) {
        answer += new TextDecoder().decode(buf.subarray(0, n));
      }
      slow.close();
      const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
      assertStepDown({ status: Number(answer.split(" ")[1]), bytes: enc.encode(body) }, t1);

      for (const body of ["x", "y".repeat(100_000)]) {
        const t0 = performance.now();
        assertStepDown(await invoke(node, "fragile", body), t0);
      }
      let s = await stats(node, "fragile");
      assert.equal(s.unavailable?.function, "flip", JSON.stringify(s.unavailable));
      assert.equal(s.unavailable.step, 1);
      assert.ok(s.errors.unavailable >= 2, JSON.stringify(s.errors));

      await deployFunction(node, "flip", echo);
      assert.equal(text((await invoke(node, "fragile", "cd")).bytes), "CD");
      s = await assertPoolFull(node, "fragile");
      assert.equal(s.unavailable, null);
    });
  },
});

Deno.test({
  name:
    "chains: a node restarted with a chain whose step cannot start serves it refusing 502 naming the step, and a good deploy brings it back",
  ignore: !hasKvm,
  async fn() {
    let node = await startTestNode();
    const dataDir = node.dataDir;
    try {
      const echo = await buildImage("functions/echo");
      await deployFunction(node, "upper", await buildImage("functions/upper"));
      await deployFunction(node, "flip", echo);
      await chain(node, { name: "fragile", steps: ["upper", "flip"], timeout: 30000 });
      await deployFunction(
        node,
        "flip",
        await buildImage("tests/fixtures/functions/initfault"),
      );
      await node.close();
      node = await startTestNode({ dataDir });
      const t0 = performance.now();
      assertStepDown(await invoke(node, "fragile", "ab"), t0);
      assert.equal((await stats(node, "fragile")).unavailable?.function, "flip");
      await deployFunction(node, "flip", echo);
      assert.equal(text((await invoke(node, "fragile", "ab")).bytes), "AB");
      assert.equal((await assertPoolFull(node, "fragile")).unavailable, null);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "chains: a chain past the node's memory budget is a 503 saying so, and nothing is stored",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode({ scheduler: { memoryBudgetBytes: 40 * 1048576 } });
    try {
      for (const f of ["upper", "echo"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      const err = await chain(node, { name: "big", steps: ["upper", "echo"] }, 503);
      assert.equal(err.error, "memory_budget_exhausted");
      assert.match(err.message, /chain big/);
      const list = await (await fetch(`${node.url}/admin/chains`)).json();
      assert.deepEqual(list.chains, []);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name:
    "chains: a stored chain a restarted node cannot bring back answers 503 saying why, and keeps its functions",
  ignore: !hasKvm,
  async fn() {
    let node = await startTestNode();
    const dataDir = node.dataDir;
    try {
      for (const f of ["upper", "echo"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      await chain(node, { name: "roomy", steps: ["upper", "echo"] });
      await node.close();
      // Back with a budget that holds no chain: it stays stored, not running.
      node = await startTestNode({ dataDir, scheduler: { memoryBudgetBytes: 40 * 1048576 } });
      const r = await invoke(node, "roomy", "ab");
      assert.equal(r.status, 503, text(r.bytes));
      const err = JSON.parse(text(r.bytes));
      assert.equal(err.error, "chain_unavailable");
      assert.equal(err.chain, "roomy");
      assert.match(err.message, /memory budget/);
      const st = await fetch(`${node.url}/admin/chains/roomy/stats`);
      assert.equal(st.status, 503);
      assert.equal((await st.json()).error, "chain_unavailable");
      // The admin API says it is stored and does not run, and why.
      const got = await (await fetch(`${node.url}/admin/chains/roomy`)).json();
      assert.equal(got.status.state, "down");
      assert.match(got.status.reason, /memory budget/);
      assert.ok(Date.parse(got.status.since) > 0, got.status.since);
      const list = await (await fetch(`${node.url}/admin/chains`)).json();
      assert.deepEqual(list.chains.map((c: { status: { state: string } }) => c.status.state), [
        "down",
      ]);
      const del = await fetch(`${node.url}/admin/functions/echo`, { method: "DELETE" });
      assert.equal(del.status, 409, await del.text());
      // Removed, it is gone for good; the functions are free again.
      const rm = await fetch(`${node.url}/admin/chains/roomy`, { method: "DELETE" });
      assert.equal(rm.status, 200, await rm.text());
      assert.equal((await invoke(node, "roomy", "ab")).status, 404);
      const del2 = await fetch(`${node.url}/admin/functions/echo`, { method: "DELETE" });
      assert.equal(del2.status, 200, await del2.text());
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "chains: a stored chain that could not come back runs once another chain frees its memory",
  ignore: !hasKvm,
  async fn() {
    const reserved = async (n: TestNode) =>
      (await (await fetch(`${n.url}/healthz`)).json()).memory.reservedBytes as number;
    let node = await startTestNode();
    const dataDir = node.dataDir;
    try {
      for (const f of ["upper", "echo"]) {
        await deployFunction(node, f, await buildImage(`functions/${f}`));
      }
      const before = await reserved(node);
      await chain(node, { name: "first", steps: ["upper", "echo"] });
      const one = (await reserved(node)) - before;
      await chain(node, { name: "second", steps: ["upper", "echo"] });
      await node.close();
      // Back with room for one of them: "first" comes back (in name order), "second" does not.
      node = await startTestNode({
        dataDir,
        scheduler: { memoryBudgetBytes: before + one + Math.floor(one / 2) },
      });
      const status = async (name: string) =>
        (await (await fetch(`${node.url}/admin/chains/${name}`)).json()).status;
      assert.equal((await status("first")).state, "running");
      assert.equal((await status("second")).state, "down");
      assert.equal((await invoke(node, "second", "ab")).status, 503);
      const rm = await fetch(`${node.url}/admin/chains/first`, { method: "DELETE" });
      assert.equal(rm.status, 200, await rm.text());
      // Its memory is free: the one that was down runs, without anyone asking.
      assert.deepEqual(await status("second"), { state: "running" });
      const r = await invoke(node, "second", "ab");
      assert.equal(r.status, 200, text(r.bytes));
      assert.equal(text(r.bytes), "AB");
      assert.ok(
        node.records.some((x) => x.msg === "chain second runs again"),
        "no log line says it came back",
      );
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "chains: replacing a chain under load answers every request (200 or 503), never crashes",
  ignore: !hasKvm,
  async fn() {
    await withNode(async (node) => {
      const spec = { name: "hot", steps: ["upper", "echo"] };
      await chain(node, spec);
      const big = "y".repeat(200_000); // slow to arrive: the body is read while the chain changes
      const load = Array.from({ length: 60 }, (_, i) => invoke(node, "hot", i % 2 ? big : `r${i}`));
      await chain(node, spec, 200);
      await chain(node, { ...spec, steps: ["reverse", "echo"] }, 200);
      for (const r of await Promise.all(load)) {
        assert.ok(r.status === 200 || r.status === 503, `status ${r.status}: ${text(r.bytes)}`);
      }
      assert.equal(text((await invoke(node, "hot", "abc")).bytes), "cba");
      await assertPoolFull(node, "hot");
    });
  },
});
