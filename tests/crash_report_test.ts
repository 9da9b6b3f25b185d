/**
 * Crash reports a person can read, on real KVM: a fault names the function,
 * source file and line of the faulting instruction (symbolised on the host
 * from the image's debug info) in the 502 body, the node's log and the
 * function's own log; sure_abort's reason comes back in the 502, cleaned
 * and bounded; a non-zero return from handle() is a 500 that says so, and
 * the instance keeps serving. The same for a chain's step.
 */
import assert from "node:assert/strict";
import {
  buildImage,
  deployFunction,
  hasKvm,
  ROOT,
  startTestNode,
  type TestNode,
} from "./helpers.ts";

const crashyImage = () => buildImage("tests/fixtures/functions/crashy");

/** The line of header.c that faults (found by its marker, so edits may move it). */
async function crashLine(): Promise<number> {
  const src = await Deno.readTextFile(`${ROOT}/tests/fixtures/functions/crashy/header.c`);
  return src.split("\n").findIndex((l) => l.includes("CRASH HERE")) + 1;
}

async function invoke(node: TestNode, name: string, body: string) {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

/** The function's own log lines (what `sure logs` shows). */
async function functionLog(node: TestNode, fn: string): Promise<string[]> {
  const res = await fetch(`${node.url}/admin/functions/${fn}/logs`);
  assert.equal(res.status, 200);
  return (await res.text()).split("\n").filter((l) => l).map((l) => JSON.parse(l).line);
}

async function instances(node: TestNode, fn: string) {
  const res = await fetch(`${node.url}/admin/functions/${fn}/instances`);
  assert.equal(res.status, 200);
  return (await res.json()).instances as { id: number; requests: number }[];
}

Deno.test({
  name:
    "crash reports: fault names function, file and line; abort gives its reason; rc != 0 is a 500",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "crashy", await crashyImage(), 5000);
      const line = await crashLine();

      // A fault: 502 naming parse_header in header.c at the marked line.
      let r = await invoke(node, "crashy", "fault");
      assert.equal(r.status, 502, r.text);
      let err = r.json();
      assert.equal(err.error, "function_fault");
      assert.equal(err.fault.name, "#PF");
      assert.deepEqual(
        { function: err.at.function, file: err.at.file, line: err.at.line },
        { function: "parse_header", file: "header.c", line },
      );
      assert.equal(err.at.address, err.fault.rip);
      const words =
        `function crashy faulted (page fault at 0x0) in parse_header (header.c:${line})`;
      assert.equal(err.message, words);
      const died = node.records.find((x) => x.msg.startsWith("instance died"));
      assert.ok(died, "no log line for the death");
      assert.equal(died.msg, `instance died: ${words}`);
      assert.ok((await functionLog(node, "crashy")).includes(words), "not in the function's log");

      // sure_abort("disk on fire"): the reason is in the 502.
      r = await invoke(node, "crashy", "abort");
      assert.equal(r.status, 502, r.text);
      err = r.json();
      assert.equal(err.error, "function_aborted");
      assert.equal(err.reason, "disk on fire");
      assert.equal(err.message, "function crashy called sure_abort: disk on fire");

      // Control bytes and 400 bytes of reason: printable ASCII, at most 255.
      r = await invoke(node, "crashy", "dirty");
      assert.equal(r.status, 502, r.text);
      err = r.json();
      assert.equal(err.error, "function_aborted");
      assert.match(err.reason, /^[\x20-\x7e]{255}$/);
      assert.ok(err.reason.startsWith("bad?"), err.reason);
      const raw = [...r.text].filter((ch) => ch < " " || ch > "~");
      assert.deepEqual(raw, [], "bytes outside printable ASCII in the body");

      // abort() and exit(3) say so.
      r = await invoke(node, "crashy", "libc");
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json().message, "function crashy called abort()");
      r = await invoke(node, "crashy", "exit");
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json().message, "function crashy called exit(3)");

      // handle() returned 3: a 500 saying so; its output and status are dropped.
      assert.equal((await invoke(node, "crashy", "warm")).status, 200);
      const before = await instances(node, "crashy");
      assert.equal(before.length, 1);
      r = await invoke(node, "crashy", "fail");
      assert.equal(r.status, 500, r.text);
      err = r.json();
      assert.equal(err.error, "function_failed");
      assert.equal(err.message, "function crashy: handle() returned 3");
      assert.equal(err.rc, 3);
      assert.ok(!r.text.includes("must not be seen"));
      // Not a crash: the same instance answers the next request.
      r = await invoke(node, "crashy", "after");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, "ok after");
      const after = await instances(node, "crashy");
      assert.deepEqual(after.map((i) => i.id), before.map((i) => i.id));
      assert.equal(after[0].requests, before[0].requests + 2);
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "crash reports: a chain step's fault, abort and failure read the same way",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      await deployFunction(node, "echo", await buildImage("functions/echo"));
      await deployFunction(node, "crashy", await crashyImage(), 5000);
      const res = await fetch(`${node.url}/admin/chains`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "wreck", steps: ["echo", "crashy"] }),
      });
      assert.equal(res.status, 201, await res.text());
      const line = await crashLine();

      let r = await invoke(node, "wreck", "fault");
      assert.equal(r.status, 502, r.text);
      let err = r.json();
      assert.equal(err.error, "function_fault");
      assert.equal(err.function, "crashy");
      assert.equal(err.at.function, "parse_header");
      assert.equal(err.at.file, "header.c");
      assert.equal(err.at.line, line);
      assert.ok(
        (await functionLog(node, "crashy")).some((l) => l.includes(`(header.c:${line})`)),
        "not in the step function's log",
      );

      r = await invoke(node, "wreck", "abort");
      assert.equal(r.status, 502, r.text);
      err = r.json();
      assert.equal(err.error, "function_aborted");
      assert.equal(err.reason, "disk on fire");

      r = await invoke(node, "wreck", "fail");
      assert.equal(r.status, 500, r.text);
      err = r.json();
      assert.equal(err.error, "function_failed");
      assert.equal(err.message, "function crashy: handle() returned 3");

      r = await invoke(node, "wreck", "fine");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, "ok fine");
    } finally {
      await node.close();
    }
  },
});
