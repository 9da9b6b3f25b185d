/**
 * ffi/abi.ts is generated from libsure's C headers; this test fails when the
 * headers changed and the file was not regenerated (`make -C libsure abi`),
 * so TypeScript can never read a layout the C side no longer has.
 */
import assert from "node:assert/strict";
import { LIMITS, STRUCTS } from "./abi.ts";

const root = new URL("..", import.meta.url).pathname;

Deno.test("ffi/abi.ts is what libsure/tools/abi_gen.c prints from the headers today", async () => {
  // Built with the library (make host): a fresh build from the headers as they are now.
  const build = await new Deno.Command("make", {
    args: ["-s", "-C", `${root}libsure`, "build/abi_gen"],
  }).output();
  assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
  const gen = await new Deno.Command(`${root}libsure/build/abi_gen`).output();
  assert.equal(gen.code, 0);
  const committed = await Deno.readTextFile(`${root}ffi/abi.ts`);
  assert.equal(
    committed,
    new TextDecoder().decode(gen.stdout),
    "ffi/abi.ts is stale: run `make -C libsure abi`",
  );
});

Deno.test("abi.ts: layouts are self-consistent (fields inside their struct)", () => {
  for (const [name, layout] of Object.entries(STRUCTS)) {
    for (const [field, offset] of Object.entries(layout)) {
      if (field === "size") continue;
      // A flexible array member (sure_head.field) starts right at the end.
      assert.ok(offset <= layout.size, `${name}.${field} at ${offset} past size ${layout.size}`);
    }
  }
  assert.equal(LIMITS.nodes, LIMITS.chainMaxSteps + 1);
});
