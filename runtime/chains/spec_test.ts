import assert from "node:assert/strict";
import { ChainSpecSchema } from "./spec.ts";

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
