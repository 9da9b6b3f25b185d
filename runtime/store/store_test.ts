import assert from "node:assert/strict";
import { Store } from "./store.ts";
import { sha256 } from "./images.ts";
import { defaultSettings } from "../settings/settings.ts";

const cfg = { ...defaultSettings(), memory: 16, timeout: 5000, maxBody: 1024 };
const bytesA = new TextEncoder().encode("image A");
const bytesB = new TextEncoder().encode("image B");

async function imageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/images`)) out.push(e.name);
  return out.sort();
}

Deno.test("store: deploy, replace, share and remove with content-addressed images", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sure-store-" });
  const store = await Store.open(dir);
  try {
    const a = await store.deploy("one", bytesA, cfg);
    assert.equal(a.previous, null);
    assert.equal(a.deployment.digest, await sha256(bytesA));
    assert.equal(a.deployment.size, bytesA.byteLength);
    assert.deepEqual(await imageFiles(dir), [`${a.deployment.digest}.sure`]);
    assert.deepEqual(await store.readImage(a.deployment.digest), bytesA);

    // A second function with the same bytes shares the file.
    await store.deploy("two", bytesA, { ...cfg, memory: 32 });
    assert.equal((await imageFiles(dir)).length, 1);

    // Replacing "one" keeps A (still used by "two") and adds B.
    const b = await store.deploy("one", bytesB, cfg);
    assert.equal(b.previous?.digest, a.deployment.digest);
    assert.equal(b.deployment.createdAt, a.deployment.createdAt);
    assert.equal((await imageFiles(dir)).length, 2);

    // Removing "two" drops A, which nothing references any more.
    const gone = await store.remove("two");
    assert.equal(gone?.memory, 32);
    assert.deepEqual(await imageFiles(dir), [`${b.deployment.digest}.sure`]);
    assert.equal(await store.remove("two"), null);
    assert.deepEqual((await store.list()).map((d) => d.name), ["one"]);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: state survives a reopen; crash leftovers are cleaned", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sure-store-" });
  let store = await Store.open(dir);
  const { deployment } = await store.deploy("keep", bytesA, cfg);
  await store.close();
  // What a crash between writing an image and recording it would leave.
  await Deno.writeFile(`${dir}/images/${"f".repeat(64)}.sure`, bytesB);
  await Deno.writeFile(`${dir}/images/.tmp-partial`, bytesB);

  store = await Store.open(dir);
  try {
    assert.deepEqual(await store.get("keep"), deployment);
    assert.deepEqual(await imageFiles(dir), [`${deployment.digest}.sure`]);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: concurrent deploys and removes stay consistent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sure-store-" });
  const store = await Store.open(dir);
  try {
    await Promise.all([
      store.deploy("a", bytesA, cfg),
      store.deploy("b", bytesA, cfg),
      store.remove("a"),
      store.deploy("c", bytesB, cfg),
      store.remove("c"),
    ]);
    assert.deepEqual((await store.list()).map((d) => d.name), ["b"]);
    assert.deepEqual(await imageFiles(dir), [`${await sha256(bytesA)}.sure`]);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image paths only accept sha256 digests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sure-store-" });
  const store = await Store.open(dir);
  try {
    assert.throws(() => store.images.path("../../etc/passwd"), /bad image digest/);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
