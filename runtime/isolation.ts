/**
 * The data isolation this node gives, said plainly (issue: "an honest model
 * where there is no PKU"). Each function instance and each chain step is its
 * own KVM micro-VM: that isolates functions from each other and from the
 * node. Within a chain, control is isolated per step (each ring writable only
 * by its producer, a request's capability needed to hand it on or answer it),
 * but data is not: every step maps the chain's buffers, so a step could read
 * a request it does not hold. Request-level data isolation needs buffers
 * opened per request by the gates, which sure does not do yet on any host, so
 * it is never claimed: a chain that asks for it is refused (409).
 *
 * Where guests have protection keys, the gates (code the node, not the image,
 * puts in every guest) keep the library OS's own pages from the function: the
 * sidecar page (its limits, counters and request records), the gate's state
 * and its private data. Without keys those pages are the function's to write,
 * and only the node's own checks (host-enforced limits, bounded counters)
 * stand.
 */
export interface IsolationModel {
  /** What a chain's steps can see: the requests of their chain ("chain"). */
  level: "chain";
  requestLevel: false;
  /** Protection keys in guests: whether the gates use them, and what they close. */
  keys: { guests: boolean; fenced: string[] };
  reason: string;
}

/** What the gates close to a function where guests have protection keys. */
export const FENCED_BY_KEYS = [
  "sidecar page",
  "gate state",
  "gate private data and stack",
  "a chain's table, pool header, node pages and rings",
];

export function isolationModel(guestPku: boolean): IsolationModel {
  const chains = "every step of a chain maps the chain's buffers (per-request buffer keys " +
    "are not built)";
  return {
    level: "chain",
    requestLevel: false,
    keys: { guests: guestPku, fenced: guestPku ? FENCED_BY_KEYS : [] },
    reason: guestPku
      ? `guests have protection keys: the gates close the ${FENCED_BY_KEYS.join(", ")} to ` +
        `functions; but ${chains}`
      : `guests have no protection keys (PKU), so the library OS's pages are the function's ` +
        `to write and the node's own checks stand; and ${chains}`,
  };
}
