import assert from "node:assert/strict";
import { importFleetKey, openSecrets, sealSecrets } from "./seal.ts";

Deno.test("fleet secrets: sealed per function, opened only with the key and the same name", async () => {
  const key = await importFleetKey("0f".repeat(32));
  const other = await importFleetKey("f0".repeat(32));
  const sealed = await sealSecrets(key, "echo", { TOKEN: "hunter2" });
  assert.ok(!sealed.includes("hunter2"));
  assert.notEqual(sealed, await sealSecrets(key, "echo", { TOKEN: "hunter2" }), "nonce reused");
  assert.deepEqual(await openSecrets(key, "echo", sealed), { TOKEN: "hunter2" });
  await assert.rejects(openSecrets(other, "echo", sealed), /do not open/);
  await assert.rejects(openSecrets(key, "other", sealed), /do not open/);
  await assert.rejects(openSecrets(undefined, "echo", sealed), /lacks/);
  await assert.rejects(openSecrets(key, "echo", "v1.AAAA.AAAA"), /do not open/);
  await assert.rejects(openSecrets(key, "echo", "garbage"), /not in a form/);
  // Nothing to seal needs no key.
  assert.equal(await sealSecrets(undefined, "echo", {}), "");
  assert.deepEqual(await openSecrets(undefined, "echo", ""), {});
  await assert.rejects(sealSecrets(undefined, "echo", { A: "1" }), /no fleet key/);
  await assert.rejects(importFleetKey("abc"), /64 hex digits/);
});
