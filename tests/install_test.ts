/**
 * `sure install` on machines with and without systemd: --print shows a unit
 * that `systemd-analyze verify` accepts and a settings file that `sure serve`
 * runs from as it is; a real install without systemd (or root) says what to
 * do instead; bad settings are usage errors before anything is written.
 */
import assert from "node:assert/strict";
import { configFile, envValue, readConfigFile, unitFile } from "../runtime/install/unit.ts";
import { installSettings } from "../runtime/cli/install.ts";
import { DENO, hasLibsure, ROOT } from "./helpers.ts";

async function sure(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}/main.ts`, ...args],
    env,
    ...(cwd ? { cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

const hasAnalyze = (() => {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "install: --print shows a unit systemd-analyze verifies and the settings it runs with",
  ignore: !hasAnalyze,
  async fn() {
    // Files named relative to where install runs: the service runs elsewhere.
    const tlsDir = await Deno.makeTempDir({ prefix: "sure-tls-" });
    await Deno.writeTextFile(`${tlsDir}/cert.pem`, "");
    await Deno.writeTextFile(`${tlsDir}/key.pem`, "");
    await Deno.writeTextFile(`${tlsDir}/hop.key`, ` ${"C0".repeat(32)}\n`);
    await Deno.writeTextFile(`${tlsDir}/fleet.key`, "d1".repeat(32));
    const r = await sure(
      [
        "install",
        "--print",
        "--port",
        "9090",
        "--host",
        "0.0.0.0",
        "--memory-budget",
        "2048",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        `${tlsDir}/key.pem`,
        "--node-name",
        "edge-1",
        "--peer",
        "edge-2=10.9.0.2:8080",
        "--peer",
        "edge-3=10.9.0.3:8080",
        "--peer-key-file",
        "hop.key",
        "--fleet",
        "nats://10.9.0.1:4222",
        "--labels",
        "site=north,tier=edge",
        "--fleet-key-file",
        `${tlsDir}/fleet.key`,
        "--dataplane",
        "af_xdp",
        "--iface",
        "eth1",
        "--addr",
        "10.9.0.7/16",
        "--vcpu-cpus",
        "1",
      ],
      {},
      tlsDir,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^# \/etc\/systemd\/system\/sure\.service\n/);
    assert.match(r.out, /^ExecStart=.* serve$/m);
    assert.match(r.out, /^EnvironmentFile=\/etc\/sure\/sure\.env$/m);
    assert.match(r.out, /^Restart=on-failure$/m);
    // A private /tmp, except where sure or its data live in /tmp.
    const base = await installSettings({ port: "9090" });
    assert.match(unitFile({ ...base, exec: ["/usr/local/bin/sure"] }), /^PrivateTmp=true$/m);
    assert.doesNotMatch(
      unitFile({ ...base, exec: ["/usr/bin/deno", "run", "-A", "/tmp/ci/main.ts"] }),
      /PrivateTmp/,
    );
    assert.doesNotMatch(
      unitFile({ ...base, exec: ["/usr/local/bin/sure"], dataDir: "/var/tmp/sure" }),
      /PrivateTmp/,
    );
    for (
      const line of [
        "SURE_PORT=9090",
        "SURE_HOST=0.0.0.0",
        "SURE_DATA_DIR=/var/lib/sure",
        "SURE_MEMORY_BUDGET=2048",
        `SURE_TLS_CERT=${tlsDir}/cert.pem`,
        `SURE_TLS_KEY=${tlsDir}/key.pem`,
        "SURE_NODE_NAME=edge-1",
        "SURE_PEERS=edge-2=10.9.0.2:8080,edge-3=10.9.0.3:8080",
        `SURE_PEER_KEY=${"C0".repeat(32)}`,
        "SURE_FLEET=nats://10.9.0.1:4222",
        "SURE_LABELS=site=north,tier=edge",
        `SURE_FLEET_KEY=${"d1".repeat(32)}`,
        "SURE_DATAPLANE=af_xdp",
        "SURE_IFACE=eth1",
        "SURE_ADDR=10.9.0.7/16",
        "SURE_VCPU_CPUS=1",
      ]
    ) {
      assert.ok(r.out.includes(`\n${line}\n`), `settings lack ${line}:\n${r.out}`);
    }
    await Deno.remove(tlsDir, { recursive: true });
    // The unit as install writes it, pointing at a settings file that exists.
    const dir = await Deno.makeTempDir({ prefix: "sure-unit-" });
    const s = { ...(await installSettings({ port: "9090" })), configPath: `${dir}/sure.env` };
    await Deno.writeTextFile(`${dir}/sure.env`, configFile(s));
    await Deno.writeTextFile(`${dir}/sure.service`, unitFile(s));
    const v = await new Deno.Command("systemd-analyze", {
      args: ["verify", `${dir}/sure.service`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(v.stderr) + new TextDecoder().decode(v.stdout);
    assert.equal(v.code, 0, said);
    assert.equal(said.trim(), "", "systemd-analyze has remarks");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "install: sure serve runs from the settings file as install writes it",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-installed-" });
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const token = "ab".repeat(32);
    // A node of a chain across nodes: its name, a peer, and the hop key from a file.
    await Deno.writeTextFile(`${dataDir}/hop.key`, `${"5a".repeat(32)}\n`);
    const s = await installSettings({
      port: String(port),
      "data-dir": dataDir,
      token,
      "node-name": "edge-1",
      peer: ["edge-2=10.9.0.2:8080"],
      "peer-key-file": `${dataDir}/hop.key`,
    });
    const env = readConfigFile(configFile(s));
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", `${ROOT}/main.ts`, "serve"],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let text = "";
    for (const st of [child.stdout, child.stderr]) {
      (async () => {
        for await (const c of st.pipeThrough(new TextDecoderStream())) text += c;
      })();
    }
    for (const end = Date.now() + 60_000; !/sure node listening/.test(text) && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      assert.match(text, new RegExp(`sure node listening on http://127\\.0\\.0\\.1:${port}`));
      assert.ok(text.includes(`"dataDir":"${dataDir}"`), text);
      // The token the settings name is the node's, and in the data dir for the local CLI.
      assert.equal((await Deno.readTextFile(`${dataDir}/admin.token`)).trim(), token);
      const ok = await fetch(`http://127.0.0.1:${port}/admin/functions`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      // The hop key the settings carry is the one hops are signed with.
      const h = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
      assert.equal(h.dataplane.hopAuth, "key", JSON.stringify(h));
    } finally {
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0, text);
    }
    // JSON lines on stdout, one record per line: what the journal keeps.
    for (const line of text.split("\n").filter((l) => l.startsWith("{"))) JSON.parse(line);
    await Deno.remove(dataDir, { recursive: true });
  },
});

Deno.test("install: without systemd or root it says what to do; bad settings are usage errors", async () => {
  let r = await sure(["install"]);
  assert.equal(r.code, 1);
  assert.match(r.err, Deno.uid() === 0 ? /does not run systemd.*--print/ : /needs root/);
  r = await sure(["uninstall"]);
  assert.equal(r.code, 1);
  for (
    const [args, why] of [
      [["--port", "70000"], /--port/],
      [["--tls-cert", "/x.pem"], /--tls-cert and --tls-key go together/],
      [["--data-dir", "relative/dir"], /absolute/],
      [["--dataplane", "carrier-pigeon"], /--dataplane must be sockets, af_xdp or hono/],
      [["--token", "hunter2"], /--token must be 64 hex digits/],
      // What serve would refuse at start, refused before anything is written.
      [["--peer", "b=host:80"], /--peer b=host:80: expected NAME=ADDR:PORT/],
      [["--peer-key-file", "/nonexistent/hop.key"], /--peer-key-file \/nonexistent\/hop\.key/],
      [["--labels", "a=b"], /--labels goes with --fleet/],
      [["--fleet", "nats://10.0.0.1:4222"], /--fleet needs --node-name/],
      [["--node-name", "Edge 1"], /--node-name: Edge 1 is not a node name/],
      [["--dataplane", "af_xdp"], /--dataplane af_xdp needs --iface/],
      [["--vcpu-cpus", "9-1"], /--vcpu-cpus/],
      [["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"], /--tls-cert/],
      [["--tls-cert", "/", "--tls-key", "/"], /--tls-cert \/: not a file/],
      // A line break would start another variable in the settings file.
      [["--host", "127.0.0.1\nSURE_ADMIN_TOKEN=x"], /--host: a line break/],
      [["--data-dir", "/var/lib/sure\nSURE_INSECURE=1"], /--data-dir: a line break/],
      [["--iface", "eth1", "--addr", "10.0.0.7"], /--iface goes with --dataplane af_xdp/],
    ] as const
  ) {
    r = await sure(["install", "--print", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}${r.err}`);
    assert.match(r.err, why);
  }
});

Deno.test("install: a setting with a space, quotes or a $ is written so that it reads back as is", () => {
  for (const v of ["/var/lib/sure", "/var/lib/my sure", 'a "b" \\c', "$HOME `x` ${Y}", "", "é"]) {
    const text = `SURE_X=${envValue(v)}\n`;
    assert.equal(readConfigFile(text).SURE_X, v, text);
  }
  assert.throws(() => envValue("a\nSURE_TOKEN=x"), /line break/);
});

Deno.test("install: each key file is read once, so the key it checks is the key it writes", async () => {
  // A FIFO gives its bytes to one reader: a second read of it would wait for
  // a writer that never comes, and the call would not end.
  const dir = await Deno.makeTempDir();
  try {
    const hex = "ab".repeat(32);
    for (const flag of ["peer-key-file", "fleet-key-file"]) {
      const fifo = `${dir}/${flag}`;
      const made = await new Deno.Command("mkfifo", { args: ["-m", "600", fifo] }).output();
      assert.ok(made.success, "mkfifo");
      const writer = Deno.writeTextFile(fifo, `${hex}\n`);
      const fleet = flag === "fleet-key-file"
        ? { fleet: "nats://10.0.0.1:4222", "node-name": "edge-1" }
        : {};
      const settings = installSettings({ [flag]: fifo, ...fleet });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), 5_000));
      const first = await Promise.race([settings, late]);
      clearTimeout(timer);
      await writer;
      if (first === "late") {
        // A second reader waits: an empty write ends its wait, then fail.
        await Deno.writeTextFile(fifo, "");
        await settings.catch(() => {});
        assert.fail(`--${flag}: read more than once`);
      }
      const s = first;
      const env = flag === "peer-key-file" ? "SURE_PEER_KEY" : "SURE_FLEET_KEY";
      assert.deepEqual(s.vars.find(([k]) => k === env), [env, hex]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
