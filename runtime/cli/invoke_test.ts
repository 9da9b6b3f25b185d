/** `sure invoke`'s target and -H parsing (no node needed). */
import assert from "node:assert/strict";
import { headerFlags, invokePath } from "./invoke.ts";

Deno.test("invoke: the target is a name with the path and query the function sees", () => {
  assert.equal(invokePath("api"), "/invoke/api");
  assert.equal(invokePath("api/users/7"), "/invoke/api/users/7");
  assert.equal(invokePath("api?limit=3&x=a%20b"), "/invoke/api?limit=3&x=a%20b");
  assert.equal(invokePath("api/u?x=/y"), "/invoke/api/u?x=/y");
  assert.throws(() => invokePath("/users"), /missing function name/);
});

Deno.test("invoke: -H 'Name: value', repeatable; anything else names the flag", () => {
  assert.deepEqual(headerFlags(undefined), []);
  assert.deepEqual(headerFlags("Accept: application/json"), [["Accept", "application/json"]]);
  assert.deepEqual(headerFlags(["a: 1", "b:2:3", "c:"]), [["a", "1"], ["b", "2:3"], ["c", ""]]);
  for (const bad of ["no colon", ": v", "a b: v"]) {
    assert.throws(() => headerFlags(bad), /is not "Name: value"/, bad);
  }
});
