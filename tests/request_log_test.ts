/**
 * The request log of a node that logs to its console, where libsure writes
 * the line of each request its data plane answers (dp_reqlog.c) and the
 * control plane those it answers itself (after a death): one line per
 * request, the console logger's format to the key (so that one reader reads
 * both), on stdout below 500 and on stderr from 500, after the lines the
 * request's function logged. Runs `sure dev` as its own process (the
 * console is what is tested) with the faulty fixture deployed next to the
 * examples.
 */
import assert from "node:assert/strict";
import { buildImage, DENO, hasKvm, registerNodeToken, ROOT } from "./helpers.ts";

/** The keys of a request's line (runtime/log.ts consoleLogger, request_log.ts), in order. */
const KEYS = ["ts", "level", "requestId", "function", "status", "durationMs", "traceId", "msg"];

interface Line {
  stream: "out" | "err";
  at: number;
  rec: Record<string, unknown>;
  keys: string[];
}

/** The JSON lines of a stream, in order (other lines are skipped). */
function jsonLines(text: string, stream: "out" | "err"): Line[] {
  const out: Line[] = [];
  text.split("\n").forEach((l, at) => {
    if (!l.startsWith("{")) return;
    const rec = JSON.parse(l) as Record<string, unknown>;
    out.push({ stream, at, rec, keys: Object.keys(rec) });
  });
  return out;
}

Deno.test({
  name: "request log: libsure writes the console logger's line of each request it answers",
  ignore: !hasKvm,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-reqlog-" });
    const port = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = (l.addr as Deno.NetAddr).port;
      l.close();
      return p;
    })();
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", `${ROOT}/main.ts`, "dev", "--port", String(port), "--data-dir", dataDir],
      env: { SURE_REQUEST_LOG: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let out = "", err = "";
    const reading = Promise.all([
      (async () => {
        for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) out += c;
      })(),
      (async () => {
        for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) err += c;
      })(),
    ]);
    const url = `http://127.0.0.1:${port}`;
    let t0 = 0, t1 = 0;
    try {
      for (const end = Date.now() + 120_000; !/sure node listening/.test(out + err);) {
        assert.ok(Date.now() < end, `the node did not start: ${out}${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      registerNodeToken(url, (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
      const form = new FormData();
      form.append("name", "faulty");
      form.append("timeout", "300");
      const image = await buildImage("tests/fixtures/functions/faulty");
      form.append("image", new File([image], "faulty.sure"));
      const dep = await fetch(`${url}/admin/functions`, { method: "POST", body: form });
      assert.equal(dep.status, 201, await dep.text());

      t0 = Date.now();
      const call = async (name: string, body: string, id: string) => {
        const r = await fetch(`${url}/invoke/${name}`, {
          method: "POST",
          body,
          headers: { "x-request-id": id },
        });
        return { status: r.status, text: await r.text() };
      };
      assert.equal((await call("faulty", "log:hello-from-faulty", "rl-log")).status, 200);
      assert.equal((await call("faulty", "status:503", "rl-503")).status, 503);
      assert.equal((await call("faulty", "loop", "rl-loop")).status, 504);
      assert.equal((await call("faulty", "null", "rl-null")).status, 502);
      assert.equal((await call("shout", "hey", "rl-chain")).text, "YEH");
      t1 = Date.now();
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reading;
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
    const lines = [...jsonLines(out, "out"), ...jsonLines(err, "err")];
    const request = (id: string) => {
      const got = lines.filter((l) => l.rec.msg === "request" && l.rec.requestId === id);
      assert.equal(got.length, 1, `one line for ${id}: ${JSON.stringify(got)}`);
      return got[0];
    };
    const ok = request("rl-log");
    // The console logger's keys, in its order.
    assert.deepEqual(ok.keys, KEYS);
    assert.equal(ok.stream, "out");
    assert.equal(ok.rec.level, "info");
    assert.equal(ok.rec.function, "faulty");
    assert.equal(ok.rec.status, 200);
    assert.equal(typeof ok.rec.durationMs, "number");
    assert.ok((ok.rec.durationMs as number) >= 0 && (ok.rec.durationMs as number) < 10_000);
    assert.match(String(ok.rec.traceId), /^[0-9a-f]{32}$/);
    assert.match(String(ok.rec.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const ts = Date.parse(String(ok.rec.ts));
    assert.ok(ts >= t0 - 1000 && ts <= t1 + 1000, `ts ${ok.rec.ts} is the time it was answered`);
    // After the line the function logged for it.
    const said = lines.find((l) =>
      l.stream === "out" && JSON.stringify(l.rec).includes("hello-from-faulty") &&
      l.rec.msg !== "request"
    );
    assert.ok(said, "the function's own line is logged");
    assert.ok(said.at < ok.at, "the request's line follows its function's");

    const chosen = request("rl-503");
    assert.equal(chosen.stream, "err");
    assert.equal(chosen.rec.level, "warn");
    assert.equal(chosen.rec.status, 503);
    assert.ok(!("error" in chosen.rec), "a status the function chose is no error of the node's");

    const late = request("rl-loop");
    assert.equal(late.stream, "err");
    assert.equal(late.rec.status, 504);
    assert.equal(late.rec.error, "function_timeout");
    assert.ok((late.rec.durationMs as number) >= 300);
    assert.deepEqual(late.keys, [...KEYS.slice(0, -1), "error", "msg"]);

    // Answered by the control plane (it explains the death): its logger's line, the same keys.
    const died = request("rl-null");
    assert.equal(died.stream, "err");
    assert.equal(died.rec.status, 502);
    assert.equal(died.rec.error, "function_fault");
    assert.deepEqual(died.keys, late.keys);

    const chain = request("rl-chain");
    assert.equal(chain.rec.chain, "shout");
    assert.equal(chain.rec.status, 200);
    assert.deepEqual(chain.keys, ok.keys.map((k) => k === "function" ? "chain" : k));
  },
});
