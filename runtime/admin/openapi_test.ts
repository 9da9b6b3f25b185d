import assert from "node:assert/strict";
import { openApiDocument } from "./openapi.ts";

Deno.test("openapi: a 3.1 document listing every admin path, schemas from zod", () => {
  // Round-trip through JSON: what the endpoint serves must be plain JSON.
  const doc = JSON.parse(JSON.stringify(openApiDocument("1.2.3")));
  assert.equal(doc.openapi, "3.1.0");
  assert.equal(doc.info.version, "1.2.3");
  for (
    const p of [
      "/admin/functions",
      "/admin/functions/{name}",
      "/admin/chains",
      "/admin/chains/{name}",
      "/admin/chains/{name}/stats",
      "/admin/openapi.json",
    ]
  ) {
    assert.ok(doc.paths[p], `missing path ${p}`);
  }
  assert.ok(doc.paths["/admin/functions"].post.requestBody.content["multipart/form-data"]);
  assert.ok(doc.paths["/admin/functions/{name}"].delete);

  const form = doc.components.schemas.DeployForm;
  assert.deepEqual(form.required, ["name", "image"]);
  assert.equal(form.properties.name.pattern, "^[a-z][a-z0-9-]{0,62}$");
  assert.deepEqual(
    [
      form.properties.memory.minimum,
      form.properties.memory.maximum,
      form.properties.memory.default,
    ],
    [8, 1024, 16],
  );
  assert.equal(form.properties.timeout.maximum, 300000);
  assert.equal(form.properties.maxBody.maximum, 16777216);
  assert.equal(form.properties.image.contentMediaType, "application/octet-stream");

  const dep = doc.components.schemas.Deployment;
  for (const k of ["name", "digest", "memory", "timeout", "maxBody", "createdAt", "updatedAt"]) {
    assert.ok(dep.properties[k], `Deployment lacks ${k}`);
  }
  assert.ok(doc.components.schemas.Health.properties.kvm);
  // Every $ref points at a schema that exists.
  const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
  for (const r of refs) assert.ok(doc.components.schemas[r.split("/").pop()!], r);
});
