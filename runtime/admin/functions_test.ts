/**
 * The admin API through app.request(): real Deno KV in a temp dir, real
 * libsure image checker, real builder for the valid image.
 */
import assert from "node:assert/strict";
import {
  type DeployFields,
  deployForm,
  echoImage,
  hasKvm,
  hasLibsure,
  makeLowSegment,
  makePkruWriter,
  makeSectionsPastEnd,
  makeWritableCode,
  openTestApp,
  snapshotState,
  truncate,
} from "../../tests/helpers.ts";

const post = (form: FormData) => ({ method: "POST", body: form });

Deno.test({
  name: "admin: deploy, get, list, replace, delete",
  ignore: !hasLibsure,
  async fn() {
    const t = await openTestApp();
    try {
      const image = await echoImage();
      let res = await t.app.request("/admin/functions", post(deployForm({ name: "echo", image })));
      assert.equal(res.status, 201);
      const dep = await res.json();
      assert.equal(dep.name, "echo");
      assert.equal(dep.memory, 16);
      assert.equal(dep.timeout, 5000);
      assert.equal(dep.maxBody, 1048576);
      assert.match(dep.digest, /^[0-9a-f]{64}$/);

      res = await t.app.request("/admin/functions/echo");
      assert.deepEqual(await res.json(), dep);

      res = await t.app.request(
        "/admin/functions",
        post(deployForm({ name: "echo", image, memory: 32, timeout: 100, maxBody: 10 })),
      );
      assert.equal(res.status, 200);
      const replaced = await res.json();
      assert.equal(replaced.memory, 32);
      assert.equal(replaced.createdAt, dep.createdAt);

      res = await t.app.request("/admin/functions");
      const list = await res.json();
      assert.deepEqual(list.functions.map((f: { name: string }) => f.name), ["echo"]);

      res = await t.app.request("/admin/functions/echo", { method: "DELETE" });
      assert.equal(res.status, 200);
      res = await t.app.request("/admin/functions/echo", { method: "DELETE" });
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error, "not_found");
      res = await t.app.request("/admin/functions/echo");
      assert.equal(res.status, 404);
      assert.equal(t.scheduler.functions, 0);
      const files = [...Deno.readDirSync(`${t.dataDir}/images`)];
      assert.equal(files.length, 0, "image file removed with its last function");
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "admin: every invalid deploy answers 400 naming the problem and stores nothing",
  ignore: !hasLibsure,
  async fn() {
    const t = await openTestApp();
    try {
      const good = await echoImage();
      // One valid function first, so "nothing stored" is checked against real state.
      const ok = await t.app.request(
        "/admin/functions",
        post(deployForm({ name: "keep", image: good })),
      );
      assert.equal(ok.status, 201);
      const before = await snapshotState(t.dataDir);

      const cases: [string, DeployFields | FormData | string, string, RegExp][] = [
        ["bad name", { name: "Bad_Name", image: good }, "name", /must start with a-z/],
        ["name too long", { name: "a".repeat(64), image: good }, "name", /at most 63/],
        ["missing name", { image: good }, "name", /required/],
        ["memory not a number", { name: "x", memory: "lots", image: good }, "memory", /integer/],
        ["memory too small", { name: "x", memory: 4, image: good }, "memory", /at least 8/],
        ["memory too big", { name: "x", memory: 2048, image: good }, "memory", /at most 1024/],
        ["timeout zero", { name: "x", timeout: 0, image: good }, "timeout", /at least 1/],
        ["timeout fractional", { name: "x", timeout: "1.5", image: good }, "timeout", /integer/],
        ["maxBody too big", { name: "x", maxBody: 16777217, image: good }, "maxBody", /at most/],
        ["missing image", { name: "x" }, "image", /required/],
        ["image as text", { name: "x", image: "not a file" }, "image", /file upload/],
        [
          "not a sure image",
          { name: "x", image: new TextEncoder().encode("#!/bin/sh\necho hi\n") },
          "image",
          /./,
        ],
        ["truncated ELF", { name: "x", image: truncate(good) }, "image", /./],
        ["W+X segment", { name: "x", image: makeWritableCode(good) }, "image", /./],
        ["segment over the library OS", { name: "x", image: makeLowSegment(good) }, "image", /./],
        [
          "section headers past the end",
          { name: "x", image: makeSectionsPastEnd(good) },
          "image",
          /truncated section headers/,
        ],
        [
          "WRPKRU in the code",
          { name: "x", image: makePkruWriter(good) },
          "image",
          /function code holds WRPKRU at 0x[0-9a-f]+.*protection keys/,
        ],
      ];
      const memAsFile = deployForm({ name: "x", image: good });
      memAsFile.append("memory", new File(["16"], "m"));
      cases.push(["memory as a file", memAsFile, "memory", /text field/]);
      const extra = deployForm({ name: "x", image: good });
      extra.append("colour", "blue");
      cases.push(["unknown field", extra, "colour", /unknown field/]);
      cases.push(["JSON body", JSON.stringify({ name: "x" }), "", /multipart/]);

      for (const [what, input, field, msg] of cases) {
        const init = typeof input === "string"
          ? { method: "POST", body: input, headers: { "content-type": "application/json" } }
          : post(input instanceof FormData ? input : deployForm(input));
        const res = await t.app.request("/admin/functions", init);
        const body = await res.json();
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
        assert.equal(body.error, "validation_error", what);
        if (field) assert.equal(body.field, field, `${what}: ${JSON.stringify(body)}`);
        assert.match(body.message, msg, what);
        assert.equal(await snapshotState(t.dataDir), before, `${what} stored something`);
      }
      assert.equal(t.scheduler.functions, 1);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "admin: the checker's message reaches the client",
  ignore: !hasLibsure,
  async fn() {
    const t = await openTestApp();
    try {
      const res = await t.app.request(
        "/admin/functions",
        post(deployForm({ name: "x", image: makeWritableCode(await echoImage()) })),
      );
      const body = await res.json();
      assert.equal(res.status, 400);
      // The checker explains the problem in words (not just "invalid").
      assert.ok(body.message.length > "image: ".length + 10, body.message);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "healthz reports capabilities and counts",
  ignore: !hasLibsure,
  async fn() {
    const t = await openTestApp();
    try {
      const res = await t.app.request("/healthz");
      assert.equal(res.status, 200);
      const h = await res.json();
      assert.equal(h.status, hasKvm ? "ok" : "degraded");
      assert.equal(typeof h.version, "string");
      assert.equal(h.kvm.available, hasKvm);
      assert.equal(h.machine.kvm, hasKvm);
      assert.equal(typeof h.machine.protectionKeys, "boolean");
      assert.equal(typeof h.machine.afxdp, "boolean");
      assert.equal(h.functions, 0);
      assert.equal(h.instances, 0);
      const nf = await t.app.request("/nowhere");
      assert.equal(nf.status, 404);
      assert.equal((await nf.json()).error, "not_found");
    } finally {
      await t.close();
    }
  },
});
