import assert from "node:assert/strict";
import { type AppDeps, createApp } from "../app.ts";
import { nullLogger } from "../log.ts";

/** The app's routes and document need no node behind them: nothing is called. */
async function document() {
  const app = createApp({
    version: "1.2.3",
    logger: nullLogger,
    auth: { token: null, plainAdmin: true },
  } as unknown as AppDeps);
  const res = await app.request("/admin/openapi.json");
  assert.equal(res.status, 200);
  return await res.json();
}

Deno.test("openapi: a 3.1 document generated from the routes, every admin path in it", async () => {
  const doc = await document();
  assert.equal(doc.openapi, "3.1.0");
  assert.equal(doc.info.version, "1.2.3");
  const ops = {
    "/admin/functions": ["get", "post"],
    "/admin/functions/{name}": ["get", "patch", "delete"],
    "/admin/functions/{name}/instances": ["get"],
    "/admin/functions/{name}/requests": ["get"],
    "/admin/functions/{name}/scale": ["post"],
    "/admin/functions/{name}/logs": ["get"],
    "/admin/functions/{name}/env": ["patch"],
    "/admin/functions/{name}/secrets/{key}": ["put", "delete"],
    "/admin/chains": ["get", "post"],
    "/admin/chains/{name}": ["get", "delete"],
    "/admin/chains/{name}/stats": ["get"],
    "/admin/openapi.json": ["get"],
    "/healthz": ["get"],
    "/metrics": ["get"],
    "/invoke/{name}": ["get", "head", "post", "put", "patch", "delete", "options"],
    "/events": ["post"],
    "/admin/triggers": ["get", "post"],
    "/admin/triggers/{id}": ["delete"],
    "/admin/events/dead": ["get"],
    "/admin/events/dead/{id}": ["delete"],
    "/admin/events/dead/{id}/replay": ["post"],
    "/admin/fleet/nodes": ["get"],
    "/admin/fleet/functions": ["get"],
  };
  assert.deepEqual(Object.keys(doc.paths).sort(), Object.keys(ops).sort());
  for (const [path, methods] of Object.entries(ops)) {
    assert.deepEqual(Object.keys(doc.paths[path]).sort(), methods.sort(), path);
    for (const m of methods) {
      const op = doc.paths[path][m];
      assert.ok(op.operationId, `${m} ${path} has an operationId`);
      // Every admin answer is described with a schema (only /metrics is plain text, /invoke bytes).
      if (path.startsWith("/admin") || path === "/healthz") {
        const ok = Object.entries(op.responses).find(([s]) => s.startsWith("2"))![1] as {
          content: Record<string, { schema: unknown }>;
        };
        assert.ok(Object.values(ok.content)[0].schema, `${m} ${path}: 2xx schema`);
      }
    }
  }
  // Every $ref points at a schema that exists.
  const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
  for (const r of refs) assert.ok(doc.components.schemas[r.split("/").pop()!], r);
});

Deno.test("openapi: the deploy form, from the settings' zod schemas", async () => {
  const doc = await document();
  assert.deepEqual(
    doc.paths["/admin/functions"].post.requestBody.content["multipart/form-data"].schema,
    { $ref: "#/components/schemas/DeployForm" },
  );
  const form = doc.components.schemas.DeployForm;
  assert.deepEqual(form.required, ["name", "image"]);
  assert.equal(form.properties.name.pattern, "^[a-z][a-z0-9-]{0,62}$");
  const mem = form.properties.memory;
  assert.deepEqual([mem.type, mem.minimum, mem.maximum, mem.default], ["integer", 8, 1024, 16]);
  assert.equal(form.properties.minInstances.type, "integer", "not nullable");
  assert.equal(form.properties.timeout.maximum, 300000);
  assert.equal(form.properties.maxBody.maximum, 16777216);
  assert.equal(form.properties.image.contentMediaType, "application/octet-stream");
});

Deno.test("openapi: answers are described as the node gives them (the drift of the old document)", async () => {
  const s = (await document()).components.schemas;
  const dep = s.Deployment;
  for (const k of ["name", "digest", "memory", "timeout", "maxBody", "createdAt", "updatedAt"]) {
    assert.ok(dep.required.includes(k), `Deployment requires ${k}`);
  }
  // Stored chains carry their times; answers are not closed to new fields.
  for (const k of ["name", "steps", "createdAt", "updatedAt"]) {
    assert.ok(s.Chain.required.includes(k), `Chain requires ${k}`);
  }
  assert.notEqual(s.Chain.additionalProperties, false);
  const errors = s.ChainStats.properties.errors;
  for (const k of ["fault", "timeout", "bogus", "loop", "overloaded", "rejected", "deadline"]) {
    assert.ok(errors.properties[k], `ChainStats.errors.${k}`);
  }
  assert.notEqual(errors.additionalProperties, false);
  // /healthz: what the machine offers, grouped apart from what the node is.
  assert.deepEqual(Object.keys(s.Health.properties.machine.properties).sort(), [
    "afxdp",
    "kvm",
    "protectionKeys",
  ]);
  assert.ok(s.Health.properties.kvm.properties.available);
  assert.equal(s.Health.properties.pku, undefined);
});
