/** SidecarTally: counters of destroyed instances stay in the total. */
import assert from "node:assert/strict";
import { emptySidecarStats, type SidecarStats } from "../../ffi/mod.ts";
import { SidecarTally } from "./sidecar_tally.ts";

const vm = (admitted: number | null) => ({
  sidecarStats: (): SidecarStats | null =>
    admitted === null ? null : { ...emptySidecarStats(), admitted, requests: admitted },
});

Deno.test("sidecar tally: folded counters plus the live ones; a destroyed VM reads null", () => {
  const t = new SidecarTally();
  const a = vm(3), b = vm(4);
  assert.equal(t.total([a, b]).admitted, 7);
  t.fold(a); // a is destroyed next: its counters stay
  assert.equal(t.total([b]).admitted, 7);
  t.fold(vm(null)); // nothing to keep
  assert.equal(t.total([b, vm(null)]).admitted, 7);
  t.fold(b);
  assert.equal(t.total([]).admitted, 7);
  assert.equal(t.total([]).requests, 7);
});
