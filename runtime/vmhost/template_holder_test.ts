/** TemplateHolder on fake VMs: one build, budget first, failures forgotten, closing. */
import assert from "node:assert/strict";
import { MemoryBudgetError } from "../errors.ts";
import { memoryLogger, nullLogger } from "../log.ts";
import { LogHub } from "../logs/hub.ts";
import { MemoryBudget } from "../scheduler/budget.ts";
import { FakeVms } from "./fake_vms.ts";
import { LogDrain } from "./log_drain.ts";
import { TemplateHolder } from "./template_holder.ts";

const IMAGE = new Uint8Array(8);
const OPTS = { memMib: 16, ioCap: 4096 };

function holder(vms: FakeVms, budget?: MemoryBudget, hub?: LogHub) {
  return new TemplateHolder({
    name: "f",
    build: () => vms.template(IMAGE, OPTS),
    reserve: budget ? () => budget.reserve(1000, "the template of f") : undefined,
    logger: nullLogger,
    logs: new LogDrain("f", nullLogger, hub),
  });
}

Deno.test("template holder: concurrent users share one build; init's lines are read once", async () => {
  const vms = new FakeVms({ initLog: ["init done"] });
  const hub = new LogHub();
  const budget = new MemoryBudget(4000);
  const h = holder(vms, budget, hub);
  assert.equal(h.ready, undefined);
  const [a, b] = await Promise.all([h.get(), h.get()]);
  assert.equal(a, b);
  assert.equal(vms.templates.length, 1);
  assert.equal(h.ready, a);
  assert.equal(budget.usedBytes, 1000);
  await (await h.get()).clone(1000);
  assert.deepEqual(hub.recent("f").map((l) => [l.line, l.instance]), [["init done", "template"]]);
  h.destroy();
  assert.equal(a.alive, false);
  assert.equal(h.ready, undefined);
  assert.equal(budget.usedBytes, 0);
  h.destroy(); // twice: nothing more is given back
  assert.equal(budget.usedBytes, 0);
});

Deno.test("template holder: a failed build gives its memory back and the next get builds again", async () => {
  let fail = true;
  const vms = new FakeVms({ failStart: () => (fail ? new Error("init crashed") : undefined) });
  const budget = new MemoryBudget(4000);
  const h = holder(vms, budget);
  await assert.rejects(h.get(), /init crashed/);
  assert.equal(budget.usedBytes, 0);
  fail = false;
  await h.get();
  assert.equal(budget.usedBytes, 1000);
  h.destroy();
});

Deno.test("template holder: no room in the budget: refused before building", async () => {
  const vms = new FakeVms();
  const h = holder(vms, new MemoryBudget(999));
  await assert.rejects(h.get(), MemoryBudgetError);
  assert.equal(vms.templates.length, 0);
});

Deno.test("template holder: a build that ends after close is destroyed, not kept", async () => {
  const vms = new FakeVms();
  const budget = new MemoryBudget(4000);
  const h = holder(vms, budget);
  const building = h.get();
  h.close();
  await assert.rejects(building, /being replaced/);
  assert.equal(vms.templates[0].alive, false);
  assert.equal(budget.usedBytes, 0);
});

Deno.test("template holder: without reserve (a chain reserved it) nothing is taken", async () => {
  const { logger, records } = memoryLogger();
  const vms = new FakeVms();
  const h = new TemplateHolder({
    name: "step",
    build: () => vms.template(IMAGE, OPTS),
    logger,
    logs: new LogDrain("step", logger),
  });
  await h.get();
  assert.ok(records.some((r) => r.msg === "template ready"));
  h.destroy();
});
