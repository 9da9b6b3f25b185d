import assert from "node:assert/strict";
import { ChainSpecSchema } from "./spec.ts";

Deno.test("chain spec: routes name other steps, once each, under names functions can have", () => {
  const issues = (routes: unknown) => {
    const r = ChainSpecSchema.safeParse({ name: "c", steps: ["echo", "upper"], routes });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  assert.deepEqual(issues({ echo: ["upper"] }), []);
  assert.deepEqual(issues({ echo: ["echo"] }), [
    "routes.echo.0: echo cannot hand a request to itself",
  ]);
  assert.deepEqual(issues({ echo: ["upper", "upper"] }), ["routes.echo.1: upper is listed twice"]);
  assert.deepEqual(issues({ echo: ["reverse"] }), ["routes.echo.0: reverse is not a step"]);
  // A step that is neither form says what a step is; the size named is the one that decides.
  for (const steps of [[1], [{ fn: "a" }]]) {
    const r = ChainSpecSchema.safeParse({ name: "c", steps });
    assert.ok(!r.success);
    assert.match(r.error.issues[0].message, /must be a function name or \{"function"/);
  }
  const big = ChainSpecSchema.safeParse({
    name: "c",
    steps: ["echo"],
    reserve: 16 << 20,
    pool: { buffers: 16 },
  });
  assert.ok(!big.success);
  assert.equal(big.error.issues[0].path.join("."), "reserve");
  assert.match(big.error.issues[0].message, /\(reserve\) needs 8192 buffers/);
  // A list longer than any chain is refused before it is stored.
  assert.equal(issues({ echo: Array(10000).fill("upper") }).length, 1);
});

Deno.test("chain spec: steps name their nodes all or none", () => {
  const ok = (steps: unknown[]) => ChainSpecSchema.safeParse({ name: "c", steps }).success;
  assert.ok(ok(["upper", "echo"]));
  assert.ok(ok([{ function: "upper", node: "a" }, { function: "echo", node: "b" }]));
  const mixed = ChainSpecSchema.safeParse({
    name: "c",
    steps: ["upper", { function: "reverse", node: "b" }, { function: "echo" }],
  });
  assert.ok(!mixed.success);
  const paths = mixed.error.issues.map((i) => i.path.join("."));
  assert.deepEqual(paths, ["steps.0", "steps.2"]);
  assert.match(mixed.error.issues[0].message, /step 1 names b/);
});
