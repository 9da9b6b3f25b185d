import assert from "node:assert/strict";
import { type LiveNode, placedHere, placedOn } from "./placement.ts";

const nodes: LiveNode[] = [
  { name: "a", labels: { site: "north" } },
  { name: "b", labels: { site: "south" } },
  { name: "c", labels: { site: "north", gpu: "no" } },
];

Deno.test("fleet placement: every node, labels, replicas", () => {
  assert.deepEqual(placedOn("f", {}, nodes).sort(), ["a", "b", "c"]);
  assert.deepEqual(placedOn("f", { labels: { site: "north" } }, nodes).sort(), ["a", "c"]);
  assert.deepEqual(placedOn("f", { labels: { site: "east" } }, nodes), []);
  assert.equal(placedOn("f", { replicas: 2 }, nodes).length, 2);
  assert.equal(placedOn("f", { replicas: 9 }, nodes).length, 3);
});

Deno.test("fleet placement: every node agrees, whatever order it sees the others in", () => {
  for (const fn of ["echo", "hello", "resize", "x1", "x2", "x3"]) {
    const p = { replicas: 2 };
    const here = nodes.filter((n) =>
      placedHere(fn, p, n, [...nodes].reverse().filter((o) => o !== n))
    );
    assert.equal(here.length, 2, fn);
    assert.deepEqual(here.map((n) => n.name).sort(), placedOn(fn, p, nodes).sort());
  }
});

Deno.test("fleet placement: a node that dies moves only the functions it ran", () => {
  const fns = Array.from({ length: 200 }, (_, i) => `fn-${i}`);
  const before = new Map(fns.map((f) => [f, placedOn(f, { replicas: 1 }, nodes)[0]]));
  const alive = nodes.filter((n) => n.name !== "b");
  let moved = 0;
  for (const f of fns) {
    const now = placedOn(f, { replicas: 1 }, alive)[0];
    if (before.get(f) !== "b") assert.equal(now, before.get(f), f);
    else moved++;
  }
  // Spread: each of three nodes got a fair share of 200.
  assert.ok(moved > 30 && moved < 110, `b ran ${moved} of 200`);
});
