/**
 * The data isolation this node gives, said plainly (issue: "an honest model
 * where there is no PKU"). Each function instance and each chain step is its
 * own KVM micro-VM: that isolates functions from each other and from the
 * node. Within a chain, control is isolated per step (each ring writable only
 * by its producer, a request's capability needed to hand it on or answer it),
 * but data is not: every step maps the chain's buffers, so a step could read
 * a request it does not hold. Request-level data isolation needs protection
 * keys with library OS gates, which sure does not implement yet on any host,
 * so it is never claimed: a chain that asks for it is refused (409).
 */
export interface IsolationModel {
  /** What a chain's steps can see: the requests of their chain ("chain"). */
  level: "chain";
  requestLevel: false;
  reason: string;
}

export function isolationModel(pku: boolean): IsolationModel {
  return {
    level: "chain",
    requestLevel: false,
    reason: pku
      ? "this CPU has protection keys, but sure does not use them yet: every step of a chain " +
        "maps the chain's buffers"
      : "this CPU has no protection keys (PKU): every step of a chain maps the chain's buffers",
  };
}
