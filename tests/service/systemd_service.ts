/**
 * sure as a systemd service, under a real systemd as PID 1 (scripts/test.sh
 * boots one in the nested-KVM guest with `run.sh --systemd`; the file is not
 * named *_test.ts so that the ordinary Deno phase, which has no systemd, does
 * not pick it up). `sure install` starts the node from its unit; it logs JSON
 * lines to the journal, takes a deployment and answers it; killed with
 * SIGKILL, systemd starts it again and its deployments are back and served;
 * installed over itself with another setting, it restarts with that setting;
 * `sure uninstall` stops it and keeps the data (installed again, the node
 * serves what it had), `--purge` removes it.
 * Prints how long the restart took (not asserted).
 */
import assert from "node:assert/strict";
import { DENO, echoImage, hasKvm, ROOT } from "../helpers.ts";

const underSystemd = (() => {
  try {
    return Deno.readTextFileSync("/proc/1/comm").trim() === "systemd" && Deno.uid() === 0;
  } catch {
    return false;
  }
})();

const PORT = 18231;
const URL = `http://127.0.0.1:${PORT}`;
// A space and a $: the settings file quotes and escapes it, and systemd must read it back as is.
const DATA = "/var/lib/sure service-test $HOME";
const TOKEN = "5e".repeat(32);
const auth = { authorization: `Bearer ${TOKEN}` };

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

const sure = (...args: string[]) => run(DENO, ["run", "-A", "--quiet", `${ROOT}/main.ts`, ...args]);

async function mainPid(): Promise<number> {
  const r = await run("systemctl", ["show", "-p", "MainPID", "--value", "sure.service"]);
  return Number(r.out.trim()) || 0;
}

/** Waits (up to ms) for the node to answer /healthz with 200. */
async function healthy(ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    try {
      const r = await fetch(`${URL}/healthz`);
      await r.body?.cancel();
      if (r.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function journal(): Promise<string[]> {
  const r = await run("journalctl", ["-u", "sure.service", "-o", "cat", "--no-pager"]);
  return r.out.split("\n").filter((l) => l.trim() !== "");
}

const t00 = performance.now();
/** Prints how far the test got and when (the guest is slow: where does time go). */
const step = (what: string) =>
  console.log(`service: ${what} at ${((performance.now() - t00) / 1000).toFixed(1)} s`);

Deno.test({
  name: "service: installed under systemd, killed, started again with its deployments back",
  ignore: !underSystemd || !hasKvm,
  async fn() {
    await Deno.remove(DATA, { recursive: true }).catch(() => {});
    // A node of a chain across nodes: the hop key is read from its file at install.
    const hopKey = await Deno.makeTempFile();
    await Deno.writeTextFile(hopKey, "7c".repeat(32));
    let r = await sure(
      "install",
      ...["--port", String(PORT), "--data-dir", DATA, "--token", TOKEN],
      ...["--node-name", "edge-1", "--peer", "edge-2=10.9.0.2:8080", "--peer-key-file", hopKey],
    );
    await Deno.remove(hopKey);
    assert.equal(r.code, 0, r.out + r.err);
    try {
      assert.ok(await healthy(180_000), (await journal()).join("\n"));
      step("installed and healthy");
      const h = await (await fetch(`${URL}/healthz`)).json();
      assert.equal(h.dataplane.hopAuth, "key", JSON.stringify(h));
      assert.equal((await Deno.stat(DATA)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat("/etc/sure/sure.env")).mode! & 0o777, 0o600);

      const form = new FormData();
      form.append("name", "echo");
      form.append("image", new File([await echoImage()], "echo.sure"));
      const dep = await fetch(`${URL}/admin/functions`, {
        method: "POST",
        body: form,
        headers: auth,
      });
      assert.equal(dep.status, 201, await dep.text());
      let inv = await fetch(`${URL}/invoke/echo`, { method: "POST", body: "before" });
      assert.equal(await inv.text(), "before");
      assert.equal(inv.status, 200);
      step("deployed and invoked");

      // A crash: SIGKILL, so nothing of the node's own shutdown runs.
      const first = await mainPid();
      assert.ok(first > 0, "systemd names no main PID");
      const t0 = performance.now();
      Deno.kill(first, "SIGKILL");
      let second = 0;
      for (const end = Date.now() + 60_000; Date.now() < end;) {
        second = await mainPid();
        if (second !== 0 && second !== first) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(second !== 0 && second !== first, "systemd did not start the node again");
      assert.ok(await healthy(180_000), (await journal()).join("\n"));
      const restarted = performance.now() - t0;
      r = await run("systemctl", ["show", "-p", "NRestarts", "--value", "sure.service"]);
      assert.equal(r.out.trim(), "1");

      // Its deployments are back, and served.
      const list = await fetch(`${URL}/admin/functions`, { headers: auth });
      assert.equal(list.status, 200);
      const names = JSON.stringify(await list.json());
      assert.match(names, /"echo"/);
      inv = await fetch(`${URL}/invoke/echo`, { method: "POST", body: "after" });
      assert.equal(await inv.text(), "after");
      assert.equal(inv.status, 200);
      console.log(`service: SIGKILL to healthy again under systemd in ${restarted.toFixed(0)} ms`);
      step("restarted and invoked");

      // The journal holds the node's log as JSON lines, both runs of it.
      const lines = await journal();
      const records = lines.map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          throw new Error(`a journal line that is not JSON: ${l}`);
        }
      });
      const listening = records.filter((x) => /sure node listening/.test(String(x.msg)));
      assert.equal(listening.length, 2, lines.join("\n"));

      // Installed again over the running node, with another setting: it restarts
      // with it (enable --now alone would leave the new file unread).
      const before = await mainPid();
      r = await sure(
        "install",
        ...["--port", String(PORT), "--data-dir", DATA, "--token", TOKEN],
        ...["--memory-budget", "640"],
      );
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /restarted/);
      assert.ok(await healthy(180_000), (await journal()).join("\n"));
      assert.notEqual(await mainPid(), before);
      const h2 = await (await fetch(`${URL}/healthz`)).json();
      assert.equal(h2.memory.budgetBytes, 640 * 1048576, JSON.stringify(h2.memory));
      assert.equal(h2.dataplane.hopAuth, "address", "the hop key was not given again");
      inv = await fetch(`${URL}/invoke/echo`, { method: "POST", body: "reinstalled" });
      assert.equal(await inv.text(), "reinstalled");
      step("installed over itself, restarted with the new settings");
    } finally {
      r = await sure("uninstall");
      assert.equal(r.code, 0, r.out + r.err);
    }
    step("uninstalled");
    // uninstall stopped the node and kept its data: installed again, the node
    // has its deployment; uninstall --purge then removes the data.
    assert.ok(!(await healthy(500)), "the node still answers after uninstall");
    await assert.rejects(Deno.stat("/etc/systemd/system/sure.service"));
    await assert.rejects(Deno.stat("/etc/sure/sure.env"));
    assert.ok((await Deno.stat(`${DATA}/admin.token`)).isFile);
    r = await sure("install", "--port", String(PORT), "--data-dir", DATA, "--token", TOKEN);
    assert.equal(r.code, 0, r.out + r.err);
    try {
      assert.ok(await healthy(180_000), (await journal()).join("\n"));
      const inv = await fetch(`${URL}/invoke/echo`, { method: "POST", body: "again" });
      assert.equal(await inv.text(), "again");
      step("installed again, invoked");
    } finally {
      r = await sure("uninstall", "--purge");
      assert.equal(r.code, 0, r.out + r.err);
    }
    await assert.rejects(Deno.stat(DATA));
    assert.ok(!(await healthy(500)), "the node still answers after uninstall --purge");
  },
});
