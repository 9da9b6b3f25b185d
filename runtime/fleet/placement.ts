/**
 * Which nodes run a function: the live nodes (those with a heartbeat in the
 * status bucket) that carry its labels, and of those, with `replicas`, the N
 * that rank highest by rendezvous hashing of (function, node). Every node
 * computes the same answer from the same view, with no coordination; when a
 * node dies or joins, only the functions whose top N it is in move.
 */
import type { LabelSet, Placement } from "./records.ts";

export interface LiveNode {
  name: string;
  labels: LabelSet;
}

function matches(placement: Placement, labels: LabelSet): boolean {
  for (const [k, v] of Object.entries(placement.labels ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** FNV-1a, 32 bits: a stable, well-spread score for a (function, node) pair. */
function score(fn: string, node: string): number {
  let h = 0x811c9dc5;
  const s = `${fn}\u0000${node}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // One more mixing round: FNV's low bits alone spread short keys poorly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** The names of the nodes that should run `fn`, best first. */
export function placedOn(fn: string, placement: Placement, nodes: LiveNode[]): string[] {
  const ok = nodes.filter((n) => matches(placement, n.labels)).map((n) => n.name);
  ok.sort((a, b) => score(fn, b) - score(fn, a) || (a < b ? -1 : 1));
  return placement.replicas === undefined ? ok : ok.slice(0, placement.replicas);
}

/**
 * Whether this node runs `fn`. It always counts itself as live (its own
 * heartbeat may not have reached the bucket yet, or the fleet may be out of
 * reach: then it keeps judging from the last view it had).
 */
export function placedHere(
  fn: string,
  placement: Placement,
  self: LiveNode,
  others: LiveNode[],
): boolean {
  const nodes = [self, ...others.filter((n) => n.name !== self.name)];
  return placedOn(fn, placement, nodes).includes(self.name);
}
