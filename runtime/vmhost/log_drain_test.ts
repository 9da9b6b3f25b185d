/** LogDrain: the same labels for a function's instances, templates and chain steps. */
import assert from "node:assert/strict";
import { memoryLogger } from "../log.ts";
import { LogHub } from "../logs/hub.ts";
import { LogDrain } from "./log_drain.ts";

Deno.test("log drain: lines go to the node's log and to the function's lines in the hub", () => {
  const { logger, records } = memoryLogger();
  const hub = new LogHub();
  const lines = ["one", "two"];
  new LogDrain("f", logger, hub).drain({ drainLog: () => lines.splice(0) }, 3);
  new LogDrain("g", logger, hub, "c").drain({ drainLog: () => ["init"] }, "template");
  assert.deepEqual(hub.recent("f").map((l) => [l.line, l.instance, l.chain]), [
    ["one", 3, undefined],
    ["two", 3, undefined],
  ]);
  assert.deepEqual(hub.recent("g").map((l) => [l.line, l.instance, l.chain]), [
    ["init", "template", "c"],
  ]);
  assert.deepEqual(records.map((r) => [r.level, r.msg, r.function, r.instance, r.chain]), [
    ["info", "one", "f", 3, undefined],
    ["info", "two", "f", 3, undefined],
    ["info", "init", "g", "template", "c"],
  ]);
});
