import assert from "node:assert/strict";
import { type FunctionLogLine, LogHub } from "./hub.ts";

Deno.test("log hub: keeps the last lines per function and hands new ones to followers", () => {
  const hub = new LogHub();
  for (let i = 0; i < 1005; i++) hub.add("f", `line ${i}`, { instance: 1 });
  hub.add("g", "other");
  const kept = hub.recent("f");
  assert.equal(kept.length, 1000);
  assert.equal(kept[0].line, "line 5");
  assert.deepEqual(hub.recent("f", 2).map((l) => l.line), ["line 1003", "line 1004"]);
  const seen: FunctionLogLine[] = [];
  const stop = hub.follow("f", (l) => seen.push(l));
  hub.add("g", "not mine");
  hub.add("f", "new", { chain: "c", instance: 7 });
  stop();
  hub.add("f", "after");
  assert.deepEqual(seen.map((l) => [l.line, l.chain, l.instance]), [["new", "c", 7]]);
  hub.drop("f");
  assert.deepEqual(hub.recent("f"), []);
  assert.equal(hub.recent("g").length, 2);
});
