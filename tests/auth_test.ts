/**
 * The locked admin API on real nodes: the token a node makes at first start
 * (a 0600 file in its data dir), what needs it (/admin, /metrics, /events, a
 * private function's invocation, on both data planes) and what does not
 * (/healthz, public functions), the clear 401/403 JSON answers, TLS for the
 * admin API beyond loopback, and the CLI finding the token on its own.
 */
import assert from "node:assert/strict";
import { startNode } from "../runtime/node.ts";
import {
  buildImage,
  DENO,
  deployForm,
  echoImage,
  fetchWithoutToken,
  hasKvm,
  hasLibsure,
  ROOT,
  startTestNode,
} from "./helpers.ts";

const quiet = () => {};

async function errorOf(
  res: Response,
): Promise<{ error: string; message: string; adminUrl?: string }> {
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  return await res.json();
}

Deno.test({
  name: "auth: the admin API needs the node's token (0600, kept across restarts); health does not",
  ignore: !hasLibsure,
  async fn() {
    let node = await startTestNode();
    try {
      const file = `${node.dataDir}/admin.token`;
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      assert.match((await Deno.readTextFile(file)).trim(), /^[0-9a-f]{64}$/);
      assert.equal((await Deno.readTextFile(file)).trim(), node.token);

      for (
        const [method, path] of [
          ["GET", "/admin/functions"],
          ["POST", "/admin/functions"],
          ["GET", "/admin/chains"],
          ["GET", "/admin/openapi.json"],
          ["GET", "/metrics"],
          ["POST", "/events"],
        ]
      ) {
        const none = await fetchWithoutToken(`${node.url}${path}`, { method });
        assert.equal(none.status, 401, `${method} ${path}: ${none.status}`);
        assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="sure"');
        const e = await errorOf(none);
        assert.equal(e.error, "unauthorized");
        assert.match(e.message, /admin\.token/);
        for (const wrong of [`Bearer ${"0".repeat(64)}`, `Bearer ${node.token}x`, node.token]) {
          const r = await fetchWithoutToken(`${node.url}${path}`, {
            method,
            headers: { authorization: wrong },
          });
          assert.equal(r.status, 401, `${method} ${path} with ${wrong.slice(0, 12)}`);
          assert.match((await errorOf(r)).message, /not this node's admin token|needs/);
        }
      }
      const ok = await fetchWithoutToken(`${node.url}/admin/functions`, {
        headers: { authorization: `bearer ${node.token}` },
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const health = await fetchWithoutToken(`${node.url}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();

      // Restarted on the same data dir: the same token. A token file others
      // could read is tightened to 0600.
      const { dataDir, token } = node;
      await node.close();
      await Deno.chmod(file, 0o644);
      node = await startTestNode({ dataDir });
      assert.equal(node.token, token);
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      assert.ok(node.records.some((r) => /readable by others/.test(String(r.msg))));
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "auth: a token file that holds no token stops the node at start, naming the file",
  ignore: !hasLibsure,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "sure-auth-" });
    await Deno.writeTextFile(`${dataDir}/admin.token`, "hunter2\n", { mode: 0o600 });
    await assert.rejects(
      startNode({ port: 0, dataDir, logger: quiet }),
      /admin\.token does not hold an admin token/,
    );
    await Deno.remove(dataDir, { recursive: true });
  },
});

for (const dataplane of ["sockets", "hono"] as const) {
  Deno.test({
    name: `auth: a private function needs the token to be invoked (--dataplane ${dataplane})`,
    ignore: !hasKvm,
    async fn() {
      const node = await startTestNode({ dataplane });
      try {
        const image = await echoImage();
        for (const [name, access] of [["open", "public"], ["closed", "private"]]) {
          const res = await fetch(`${node.url}/admin/functions`, {
            method: "POST",
            body: deployForm({ name, image, access }),
          });
          assert.equal(res.status, 201, await res.text());
        }
        const listed = await (await fetch(`${node.url}/admin/functions/closed`)).json();
        assert.equal(listed.access, "private");
        const call = (name: string, headers: Record<string, string> = {}) =>
          fetchWithoutToken(`${node.url}/invoke/${name}`, { method: "POST", body: "hi", headers });
        let r = await call("open");
        assert.equal(r.status, 200);
        assert.equal(await r.text(), "hi");
        r = await call("closed");
        assert.equal(r.status, 401);
        assert.match((await errorOf(r)).message, /function closed is private/);
        r = await call("closed", { authorization: `Bearer ${"f".repeat(64)}` });
        assert.equal(r.status, 401);
        await r.body?.cancel();
        r = await call("closed", { authorization: `Bearer ${node.token}` });
        assert.equal(r.status, 200);
        assert.equal(await r.text(), "hi");
        // Several on one connection, refused and served in turn.
        for (let i = 0; i < 3; i++) {
          assert.equal((await call("closed")).status, 401);
          const ok = await call("closed", { authorization: `Bearer ${node.token}` });
          assert.equal(ok.status, 200);
          await ok.body?.cancel();
        }
        // The token never reaches a private function (it is the node's admin
        // credential); a public one sees the caller's Authorization, its own business.
        const mirror = await buildImage("tests/fixtures/functions/http-mirror");
        for (const [name, access] of [["seen", "public"], ["unseen", "private"]]) {
          const res = await fetch(`${node.url}/admin/functions`, {
            method: "POST",
            body: deployForm({ name, image: mirror, access }),
          });
          assert.equal(res.status, 201, await res.text());
        }
        const auth = { authorization: `Bearer ${node.token}`, "x-other": "1" };
        r = await call("unseen", auth);
        let saw = await r.text();
        assert.equal(r.status, 200, saw);
        assert.match(saw, /^header x-other: 1$/m);
        assert.doesNotMatch(saw, /authorization|Bearer/i);
        r = await call("seen", { authorization: "Bearer users-own", "x-other": "1" });
        saw = await r.text();
        assert.equal(r.status, 200, saw);
        assert.match(saw, /^header authorization: Bearer users-own$/m);
      } finally {
        await node.close();
      }
    },
  });
}

/** A self-signed certificate for 127.0.0.1 and localhost (PEM files). */
async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`, key = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      // A server's own certificate, not a CA's (rustls refuses a CA as the end entity).
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return { cert, key };
}

Deno.test({
  name: "auth: beyond loopback the admin API is served only over TLS (or --insecure)",
  ignore: !hasLibsure,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sure-tls-" });
    try {
      // Neither TLS nor --insecure: the node does not start, and says what to do.
      await assert.rejects(
        startNode({ port: 0, hostname: "0.0.0.0", dataDir: `${dir}/a`, logger: quiet }),
        /beyond loopback.*--tls-cert and --tls-key.*--insecure/,
      );
      const tls = await selfSigned(dir);
      const node = await startNode({
        port: 0,
        hostname: "0.0.0.0",
        dataDir: `${dir}/b`,
        logger: quiet,
        dataplane: "hono",
        tls: { ...tls, port: 0 },
      });
      try {
        const auth = { authorization: `Bearer ${node.token}` };
        const plainUrl = `http://127.0.0.1:${node.port}`;
        // Plain HTTP: a clear 403 naming the TLS listener, token or not.
        const plain = await fetchWithoutToken(`${plainUrl}/admin/functions`, { headers: auth });
        assert.equal(plain.status, 403);
        const e = await errorOf(plain);
        assert.equal(e.error, "tls_required");
        const adminPort = new URL(node.adminUrl!).port;
        assert.match(e.adminUrl ?? "", new RegExp(`^https://0\\.0\\.0\\.0:${adminPort}$`));
        // Health stays public over plain HTTP.
        const h = await fetchWithoutToken(`${plainUrl}/healthz`);
        assert.equal(h.status, 200);
        await h.body?.cancel();
        // Over TLS: the token is still required.
        const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(tls.cert)] });
        try {
          const tlsUrl = `https://127.0.0.1:${adminPort}`;
          const none = await fetchWithoutToken(`${tlsUrl}/admin/functions`, { client });
          assert.equal(none.status, 401);
          await none.body?.cancel();
          const ok = await fetchWithoutToken(`${tlsUrl}/admin/functions`, {
            client,
            headers: auth,
          });
          assert.equal(ok.status, 200);
          await ok.body?.cancel();
        } finally {
          client.close();
        }
      } finally {
        await node.close();
      }
      // --insecure: plain HTTP beyond loopback, still with the token.
      const open = await startNode({
        port: 0,
        hostname: "0.0.0.0",
        dataDir: `${dir}/c`,
        logger: quiet,
        dataplane: "hono",
        insecure: true,
      });
      try {
        const url = `http://127.0.0.1:${open.port}/admin/functions`;
        const none = await fetchWithoutToken(url);
        assert.equal(none.status, 401);
        await none.body?.cancel();
        const ok = await fetchWithoutToken(url, {
          headers: { authorization: `Bearer ${open.token}` },
        });
        assert.equal(ok.status, 200);
        await ok.body?.cancel();
      } finally {
        await open.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "auth: the CLI finds the token in the data dir, SURE_TOKEN or --token",
  ignore: !hasLibsure,
  async fn() {
    const node = await startTestNode();
    try {
      const sure = async (args: string[], env: Record<string, string>) => {
        const out = await new Deno.Command(DENO, {
          args: ["run", "-A", "--quiet", `${ROOT}/main.ts`, ...args, "--node", node.url],
          env: { SURE_TOKEN: "", ...env },
          cwd: await Deno.makeTempDir({ prefix: "sure-cli-" }), // no ./.sure here
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
      };
      let r = await sure(["ls"], { SURE_DATA_DIR: node.dataDir });
      assert.equal(r.code, 0, r.err);
      r = await sure(["ls"], { SURE_TOKEN: node.token });
      assert.equal(r.code, 0, r.err);
      r = await sure(["ls", "--token", node.token], {});
      assert.equal(r.code, 0, r.err);
      r = await sure(["ls"], {});
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.err).error, "unauthorized");
      r = await sure(["ls", "--token", "0".repeat(64)], { SURE_DATA_DIR: node.dataDir });
      assert.equal(r.code, 1);
      assert.match(JSON.parse(r.err).message, /not this node's admin token/);
    } finally {
      await node.close();
    }
  },
});
