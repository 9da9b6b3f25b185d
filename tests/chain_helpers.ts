/**
 * What the chain tests share: making a chain, invoking it, reading its stats
 * and waiting for its pool to be whole again.
 */
import assert from "node:assert/strict";
import type { TestNode } from "./helpers.ts";

export async function chain(node: TestNode, spec: Record<string, unknown>, expect = 201) {
  const res = await fetch(`${node.url}/admin/chains`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spec),
  });
  const body = await res.text();
  assert.equal(res.status, expect, body);
  return JSON.parse(body);
}

export async function invoke(node: TestNode, name: string, body: string | Uint8Array<ArrayBuffer>) {
  const res = await fetch(`${node.url}/invoke/${name}`, { method: "POST", body });
  return {
    status: res.status,
    bytes: new Uint8Array(await res.arrayBuffer()),
    headers: res.headers,
  };
}

export const text = (b: Uint8Array) => new TextDecoder().decode(b);

export async function stats(node: TestNode, name: string) {
  const res = await fetch(`${node.url}/admin/chains/${name}/stats`);
  assert.equal(res.status, 200);
  return await res.json();
}

/** The pool is whole again once nothing is in flight (zeroed buffers are back). */
export async function assertPoolFull(node: TestNode, name: string) {
  for (let i = 0; i < 50; i++) {
    const s = await stats(node, name);
    if (s.pool.free === s.pool.buffers && s.pool.slotsInFlight === 0) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = await stats(node, name);
  assert.fail(`pool not full: ${JSON.stringify(s.pool)}`);
}
