/**
 * One executable: `npm run dist` (scripts/dist.sh) makes
 * dist/sure-linux-x86_64; copied into an empty directory and run with a bare
 * environment (PATH=/usr/bin:/bin, no node_modules, no checkout) it unpacks
 * itself once, serves, takes a deployment of a prebuilt image, answers an
 * invoke (where KVM is), builds a function where gcc is, and says what to
 * install where it is not. Prints the file's size and its first and later
 * start times (not asserted: timings are for the note).
 */
import assert from "node:assert/strict";
import { echoImage, hasKvm, hasLibsure, ROOT } from "./helpers.ts";

const FILE = `${ROOT}/dist/sure-linux-x86_64`;

async function run(cmd: string, args: string[], env: Record<string, string>, cwd: string) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    clearEnv: true,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

Deno.test({
  name:
    "dist: one file serves, deploys, invokes and builds in an empty directory, bare environment",
  ignore: !hasLibsure,
  async fn() {
    const made = await new Deno.Command("bash", {
      args: [`${ROOT}/scripts/dist.sh`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
    const dir = await Deno.makeTempDir({ prefix: "sure-dist-" });
    try {
      await Deno.copyFile(FILE, `${dir}/sure`);
      await Deno.chmod(`${dir}/sure`, 0o755);
      await Deno.mkdir(`${dir}/home`);
      const env = { PATH: "/usr/bin:/bin", HOME: `${dir}/home` };
      const size = (await Deno.stat(`${dir}/sure`)).size;

      let t0 = performance.now();
      let r = await run(`${dir}/sure`, ["--version"], env, dir);
      const first = performance.now() - t0;
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
      t0 = performance.now();
      r = await run(`${dir}/sure`, ["--version"], env, dir);
      const later = performance.now() - t0;
      assert.equal(r.code, 0, r.err);
      console.log(
        `dist: ${(size / 1048576).toFixed(1)} MiB; first start (unpack) ${first.toFixed(0)} ms, ` +
          `later ${later.toFixed(0)} ms`,
      );

      // Serves, with its data beside it.
      const node = new Deno.Command(`${dir}/sure`, {
        args: ["serve", "--port", "0", "--data-dir", `${dir}/data`],
        env,
        clearEnv: true,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let log = "";
      for (const s of [node.stdout, node.stderr]) {
        (async () => {
          for await (const c of s.pipeThrough(new TextDecoderStream())) log += c;
        })();
      }
      try {
        let url = "";
        for (const end = Date.now() + 60_000; !url && Date.now() < end;) {
          url = /"msg":"sure node listening on (http:\/\/[^"]+)"/.exec(log)?.[1] ?? "";
          if (!url) await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(url, log);
        const token = (await Deno.readTextFile(`${dir}/data/admin.token`)).trim();
        const form = new FormData();
        form.append("name", "echo");
        form.append("image", new File([await echoImage()], "echo.sure"));
        const dep = await fetch(`${url}/admin/functions`, {
          method: "POST",
          body: form,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(dep.status, 201, await dep.text());
        if (hasKvm) {
          const inv = await fetch(`${url}/invoke/echo`, { method: "POST", body: "one file" });
          assert.equal(inv.status, 200);
          assert.equal(await inv.text(), "one file");
        }
      } finally {
        node.kill("SIGTERM");
        await node.status;
      }

      // Builds a function where gcc is ...
      await Deno.mkdir(`${dir}/fn`);
      await Deno.copyFile(`${ROOT}/functions/echo/echo.c`, `${dir}/fn/echo.c`);
      r = await run(`${dir}/sure`, ["build", "fn"], env, dir);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trim(), `${dir}/fn/build/fn.sure`);
      // ... and says what to install where it is not: a PATH with only what
      // the launcher itself needs.
      await Deno.mkdir(`${dir}/tools`);
      for (const t of ["sh", "tar", "gzip", "awk", "tail", "mktemp", "id", "mkdir", "mv", "rm"]) {
        const at = ["/usr/bin", "/bin"].map((d) => `${d}/${t}`).find((p) => {
          try {
            return Deno.statSync(p).isFile;
          } catch {
            return false;
          }
        });
        if (at) await Deno.symlink(at, `${dir}/tools/${t}`);
      }
      r = await run(`${dir}/sure`, ["build", "fn"], { ...env, PATH: `${dir}/tools` }, dir);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /not found: building a function needs a C toolchain; install gcc/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
