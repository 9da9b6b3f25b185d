/**
 * The data isolation this node gives, said plainly (issue: "an honest model
 * where there is no PKU"). Each function instance and each chain step is its
 * own KVM micro-VM: that isolates functions from each other and from the
 * node. Within a chain, control is isolated per step (each ring writable only
 * by its producer, a request's capability needed to hand it on or answer it).
 * Data, by default, is chain-level: every step maps the chain's buffers, so a
 * step could read a request it does not hold.
 *
 * Where the VMs have protection keys, the gates (code the node, not the
 * image, puts in every guest) keep the library OS's own pages from the
 * function (the sidecar page, the gate's state and private data, a chain's
 * table, node pages and rings), and a chain may ask for request-level
 * isolation: each request in flight gets a key of its own (at most 11 at
 * once), opened by the gate only while a step holds that request. Without
 * keys those pages are the function's to write, only the node's own checks
 * (host-enforced limits, bounded counters, capabilities) stand, and a chain
 * that asks for request-level isolation is refused (409).
 */
export interface IsolationModel {
  /** What a chain's steps can see by default: the requests of their chain ("chain"). */
  level: "chain";
  /** Whether a chain may ask for request-level isolation ("isolation": "request"). */
  requestLevel: boolean;
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
  return {
    level: "chain",
    requestLevel: guestPku,
    keys: { guests: guestPku, fenced: guestPku ? FENCED_BY_KEYS : [] },
    reason: guestPku
      ? `guests have protection keys: the gates close the ${FENCED_BY_KEYS.join(", ")} to ` +
        `functions, and a chain may ask for request-level isolation (a key per request in ` +
        `flight, at most 11 at once); by default every step maps its chain's buffers`
      : `guests have no protection keys (PKU): the library OS's pages are the function's to ` +
        `write and the node's own checks stand, and every step of a chain maps the chain's ` +
        `buffers`,
  };
}
