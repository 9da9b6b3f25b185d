import assert from "node:assert/strict";
import { ForwardTable, type ForwardView } from "./forward_table.ts";
import { closedPort } from "../../tests/helpers.ts";

Deno.test("forward table: only changes reach the data plane; a node that drops out and is gone is dead", async () => {
  const sets: string[] = [], dead: string[] = [];
  const warned: string[] = [];
  const table = new ForwardTable({
    set: (name, timeoutMs, targets, isPrivate) => {
      if (name === "bad") throw new Error("EINVAL");
      const list = targets.map((t) => `${t.node}=${t.addr}`).join(" ");
      sets.push(`${name}${isPrivate ? " private" : ""} ${timeoutMs} ${list}`);
    },
    dead: (node) => dead.push(node),
  }, (_level, msg) => warned.push(msg));
  const live = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const b = { node: "b", addr: `127.0.0.1:${(live.addr as Deno.NetAddr).port}` };
    const c = { node: "c", addr: `127.0.0.1:${closedPort()}` };
    const view = (m: Record<string, typeof b[]>, priv: string[] = []): ForwardView =>
      new Map(
        Object.entries(m).map((
          [n, targets],
        ) => [n, { timeoutMs: 8000, targets, isPrivate: priv.includes(n) }]),
      );

    table.publish(view({ echo: [b, c], rev: [c] }));
    assert.deepEqual(sets, [`echo 8000 b=${b.addr} c=${c.addr}`, `rev 8000 c=${c.addr}`]);
    table.publish(view({ echo: [b, c], rev: [c] }));
    assert.equal(sets.length, 2, "nothing changed: nothing published");
    // c's heartbeat expired: it drops out of every list, is probed, and is
    // dead (its port is gone); b drops out of none.
    table.publish(view({ echo: [b], rev: [] }));
    assert.deepEqual(sets.slice(2), [`echo 8000 b=${b.addr}`, `rev 8000 `]);
    for (let i = 0; i < 50 && dead.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(dead, ["c"]);
    // b leaves the list but still answers (it drains, or stopped running echo): not dead.
    // A function gone from the fleet is cleared.
    table.publish(view({}));
    assert.deepEqual(sets.slice(4), [`echo 1 `, `rev 1 `]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(dead, ["c"]);
    // A refusal is logged and tried again on the next publish.
    table.publish(view({ bad: [b] }));
    table.publish(view({ bad: [b] }));
    assert.equal(warned.filter((w) => /cannot forward bad/.test(w)).length, 2);
    // A function made private (same nodes, same timeout) is a change.
    table.publish(view({ sec: [b] }));
    table.publish(view({ sec: [b] }, ["sec"]));
    assert.deepEqual(sets.slice(-2), [`sec 8000 b=${b.addr}`, `sec private 8000 b=${b.addr}`]);
  } finally {
    live.close();
  }
});
