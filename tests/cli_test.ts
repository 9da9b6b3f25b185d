/**
 * The `sure` CLI as a user runs it: `deno run -A main.ts ...` in a subprocess,
 * talking over a real socket to a node started by the test.
 */
import assert from "node:assert/strict";
import {
  DENO,
  deployFunction,
  echoImage,
  faultyImage,
  hasKvm,
  hasLibsure,
  ROOT,
  startTestNode,
  tokenFor,
} from "./helpers.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as the node's owner runs it: with the token of the node it talks to. */
async function sure(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const at = args.indexOf("--node");
  const token = tokenFor(at >= 0 ? args[at + 1] : env.SURE_NODE ?? "");
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}/main.ts`, ...args],
    env: token && !("SURE_TOKEN" in env) ? { SURE_TOKEN: token, ...env } : env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli: help documents every command; bad command lines exit 2", async () => {
  const help = await sure(["help"]);
  assert.equal(help.code, 0);
  const commands = ["dev", "serve", "build", "deploy", "ls", "rm", "invoke", "health"];
  for (const cmd of [...commands, "instances", "scale", "logs", "env", "secret", "chain"]) {
    assert.match(help.stdout, new RegExp(`^  ${cmd} `, "m"), `help lacks ${cmd}`);
  }
  const deployHelp = await sure(["deploy", "--help"]);
  assert.equal(deployHelp.code, 0);
  const deployFlags = [
    "--name",
    "--memory",
    "--timeout",
    "--max-body",
    "--node",
    "--env",
    "--secret",
  ];
  const scaling = ["--min", "--max", "--target", "--idle-timeout", "--rate-limit", "--sidecar"];
  for (const flag of [...deployFlags, ...scaling]) {
    assert.ok(deployHelp.stdout.includes(flag), `deploy --help lacks ${flag}`);
  }
  const serveHelp = await sure(["help", "serve"]);
  for (const flag of ["--port", "--data-dir", "--host", "--memory-budget", "--dataplane-io"]) {
    assert.ok(serveHelp.stdout.includes(flag), `serve help lacks ${flag}`);
  }

  let r = await sure(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  r = await sure(["ls", "--colour"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--colour/);
  r = await sure(["deploy", "/nonexistent/x.sure"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/nonexistent\/x.sure: no such file or folder/);
  const image = await Deno.makeTempFile({ suffix: ".sure" });
  r = await sure(["deploy", image]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--name is required/);
  r = await sure(["serve", "--dataplane-io", "kqueue"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--dataplane-io must be epoll or io_uring, not kqueue/);
  r = await sure(["deploy", image, "--name", "x", "--memory", "lots"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--memory must be a whole number/);
  await Deno.remove(image);

  // A folder with a bad sure.json: the field is named, nothing is built or sent (no node here).
  const dir = await Deno.makeTempDir({ prefix: "sure-cli-bad-" });
  try {
    await Deno.writeTextFile(`${dir}/sure.json`, JSON.stringify({ timeout: 1000, maxBdy: 10 }));
    r = await sure(["deploy", dir, "--node", "http://127.0.0.1:9"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sure\.json: maxBdy: unknown field/);
    assert.doesNotMatch(r.stderr, /cannot reach/);
    r = await sure(["build", dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sure\.json: maxBdy: unknown field/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "cli: a client command against no node fails clearly",
  async fn() {
    const r = await sure(["ls", "--node", "http://127.0.0.1:9"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the node at http:\/\/127\.0\.0\.1:9/);
  },
});

Deno.test({
  name: "cli: deploy, ls, invoke, rm and health against a running node",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    const tmp = await Deno.makeTempDir({ prefix: "sure-cli-" });
    try {
      const imagePath = `${tmp}/echo.sure`;
      await Deno.writeFile(imagePath, await echoImage());
      const env = { SURE_NODE: node.url, SURE_TOKEN: node.token };

      let r = await sure(["deploy", imagePath, "--name", "echo", "--memory", "32"], env);
      assert.equal(r.code, 0, r.stderr);
      const dep = JSON.parse(r.stdout);
      assert.equal(dep.name, "echo");
      assert.equal(dep.memory, 32);

      r = await sure(["ls"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME\s+MEMORY/m);
      assert.match(r.stdout, /^echo\s+32MiB\s+5000ms/m);

      r = await sure(["invoke", "echo", "--data", "hi there"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hi there");

      const bodyFile = `${tmp}/body.bin`;
      await Deno.writeTextFile(bodyFile, "from a file");
      // --node flag instead of the environment.
      r = await sure(["invoke", "echo", "--file", bodyFile, "--node", node.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "from a file");

      // A path and query below the name, a method, headers, and the answer's head.
      r = await sure(
        ["invoke", "echo/a/b?c=1", "-X", "PUT", "-H", "X-Test: yes", "--data", "put", "-i"],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^HTTP 200 OK\n/);
      assert.match(r.stdout, /\ncontent-type: application\/octet-stream\n/);
      assert.match(r.stdout, /\n\nput$/);
      r = await sure(["invoke", "echo", "-H", "no colon"], env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /is not "Name: value"/);

      r = await sure(["invoke", "nope", "--data", "x"], env);
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stderr).error, "not_found");

      r = await sure(["deploy", imagePath, "--name", "Bad!"], env);
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stderr).field, "name");

      r = await sure(["health"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).functions, 1);

      // Scaling: settings and a count in one command, then the instance list.
      r = await sure(["scale", "echo", "2", "--max", "3", "--idle-timeout", "600000"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^echo: 2 instance\(s\).*max 3 .*idle-timeout 600000ms/m);
      r = await sure(["instances", "echo", "--json"], env);
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(r.stdout);
      assert.equal(st.instances.length, 2);
      assert.equal(st.maxInstances, 3);
      r = await sure(["instances", "echo"], env);
      assert.match(r.stdout, /^ID\s+STATE\s+AGE\s+IDLE\s+REQUESTS\s+START/m);
      assert.match(r.stdout, /^\d+\s+idle\s+.*clone /m);
      r = await sure(["scale", "echo", "9"], env);
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stderr).field, "instances");
      r = await sure(["scale", "echo"], env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /give N or at least one setting/);
      r = await sure(["scale", "echo", "--rate-limit", "100", "--deadline", "50", "--json"], env);
      assert.equal(r.code, 0, r.stderr);
      r = await sure(["ls", "--json"], env);
      const echo = JSON.parse(r.stdout).find((f: { name: string }) => f.name === "echo");
      assert.equal(echo.rateLimit, 100);
      assert.equal(echo.deadline, 50);

      r = await sure(["rm", "echo"], env);
      assert.equal(r.code, 0, r.stderr);
      r = await sure(["rm", "echo"], env);
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stderr).error, "not_found");
      r = await sure(["ls", "--json"], env);
      assert.deepEqual(JSON.parse(r.stdout), []);
    } finally {
      await node.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli: deploy a folder with its sure.json; flags override it",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    const tmp = await Deno.makeTempDir({ prefix: "sure-cli-folder-" });
    try {
      const dir = `${tmp}/some-folder`;
      await Deno.mkdir(dir);
      await Deno.copyFile(`${ROOT}/functions/echo/echo.c`, `${dir}/echo.c`);
      await Deno.writeTextFile(
        `${dir}/sure.json`,
        JSON.stringify({ name: "cfg-echo", timeout: 1000, maxBody: 65536 }),
      );
      const env = { SURE_NODE: node.url, SURE_TOKEN: node.token };
      const settings = async () => {
        const res = await fetch(`${node.url}/admin/functions/cfg-echo`);
        assert.equal(res.status, 200);
        return await res.json();
      };

      let r = await sure(["deploy", dir], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).name, "cfg-echo");
      let dep = await settings();
      assert.equal(dep.timeout, 1000);
      assert.equal(dep.maxBody, 65536);
      assert.equal(dep.memory, 16);
      r = await sure(["ls"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^cfg-echo\s+16MiB\s+1000ms\s+65536\s/m);
      r = await sure(["invoke", "cfg-echo", "--data", "folder"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "folder");

      // A flag overrides one setting; the others still come from the file.
      r = await sure(["deploy", dir, "--timeout", "2000"], env);
      assert.equal(r.code, 0, r.stderr);
      dep = await settings();
      assert.equal(dep.timeout, 2000);
      assert.equal(dep.maxBody, 65536);

      // A bad manifest deploys nothing: the deployment stays as it was.
      await Deno.writeTextFile(`${dir}/sure.json`, JSON.stringify({ timeout: 0 }));
      r = await sure(["deploy", dir], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /timeout: must be at least 1/);
      dep = await settings();
      assert.equal(dep.timeout, 2000);
      r = await sure(["ls", "--json"], env);
      assert.deepEqual(JSON.parse(r.stdout).map((f: { name: string }) => f.name), ["cfg-echo"]);
    } finally {
      await node.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli: logs prints a function's own lines and follows new ones",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      const env = { SURE_NODE: node.url, SURE_TOKEN: node.token };
      await deployFunction(node, "faulty", await faultyImage());
      const say = async (body: string) => {
        const r = await fetch(`${node.url}/invoke/faulty`, { method: "POST", body });
        assert.equal(await r.text(), "ok");
      };
      await say("log:hello there");
      let r = await sure(["logs", "faulty"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\S+ \[\d+\] hello there$/m);
      r = await sure(["logs", "faulty", "--json"], env);
      assert.equal(JSON.parse(r.stdout.trim().split("\n").at(-1)!).line, "hello there");
      r = await sure(["logs", "nope"], env);
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stderr).error, "not_found");

      const child = new Deno.Command(DENO, {
        args: ["run", "-A", "--quiet", `${ROOT}/main.ts`, "logs", "faulty", "-f", "--tail", "0"],
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const deadline = Date.now() + 20_000;
      // One read outstanding at a time: a read that lost the race keeps its chunk.
      let pending = reader.read();
      // Keep logging until the follower has printed a line (it may connect late).
      while (!seen.includes("second line") && Date.now() < deadline) {
        await say("log:second line");
        const next = await Promise.race([
          pending,
          new Promise<null>((r) => setTimeout(() => r(null), 500)),
        ]);
        if (next) {
          if (next.done) break;
          seen += next.value;
          pending = reader.read();
        }
      }
      child.kill("SIGINT");
      await child.status;
      await reader.cancel().catch(() => {});
      await child.stderr.cancel();
      assert.match(seen, /\[\d+\] second line/);
      assert.ok(!seen.includes("hello there"), "--tail 0: no backlog");
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "cli: build prints the image path; a compile error prints the compiler output",
  ignore: !hasLibsure,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "sure-cli-build-" });
    try {
      const out = `${tmp}/echo.sure`;
      let r = await sure(["build", `${ROOT}/functions/echo`, "-o", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), out);
      assert.ok(Deno.statSync(out).size > 0);

      // A copy of echo with a syntax error in its source.
      const broken = `${tmp}/broken`;
      await Deno.mkdir(broken);
      for (const e of Deno.readDirSync(`${ROOT}/functions/echo`)) {
        if (e.isFile) {
          await Deno.copyFile(`${ROOT}/functions/echo/${e.name}`, `${broken}/${e.name}`);
        }
      }
      const src = [...Deno.readDirSync(broken)].find((e) => e.name.endsWith(".c"))!.name;
      await Deno.writeTextFile(`${broken}/${src}`, "int handle(void *r) { return @; }\n");
      r = await sure(["build", broken]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli: chain apply, ls, show, stats and rm against a node",
  ignore: !hasKvm,
  async fn() {
    const node = await startTestNode();
    try {
      const image = await Deno.makeTempFile({ suffix: ".sure" });
      await Deno.writeFile(image, await echoImage());
      for (const name of ["echo", "echo2"]) {
        const d = await sure(["deploy", image, "--name", name, "--node", node.url]);
        assert.equal(d.code, 0, d.stderr);
      }
      const manifest = await Deno.makeTempFile({ suffix: ".json" });
      await Deno.writeTextFile(
        manifest,
        JSON.stringify({ name: "twice", steps: ["echo", "echo2"] }),
      );
      let r = await sure(["chain", "apply", manifest, "--node", node.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created chain twice/);
      r = await sure(["chain", "ls", "--node", node.url]);
      assert.match(r.stdout, /^twice\s+running\s+echo -> echo2$/m);
      r = await sure(["invoke", "twice", "--data", "hi", "--node", node.url]);
      assert.equal(r.stdout, "hi");
      r = await sure(["chain", "stats", "twice", "--node", node.url]);
      assert.equal(JSON.parse(r.stdout).completed, 1);
      r = await sure(["chain", "show", "twice", "--node", node.url]);
      assert.deepEqual(JSON.parse(r.stdout).steps, ["echo", "echo2"]);
      r = await sure(["chain", "frob", "--node", node.url]);
      assert.equal(r.code, 2);
      r = await sure(["chain", "rm", "twice", "--node", node.url]);
      assert.equal(r.code, 0, r.stderr);
      r = await sure(["chain", "show", "twice", "--node", node.url]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /chain twice does not exist/);
    } finally {
      await node.close();
    }
  },
});
