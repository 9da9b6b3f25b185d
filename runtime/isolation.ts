/**
 * The data isolation this node gives, said plainly (issue: "an honest model
 * where there is no PKU"). Each function instance and each chain step is its
 * own KVM micro-VM: that isolates functions from each other and from the
 * node. Within a chain, every step maps the chain's whole pool: a step could
 * read a request it does not hold. Request-level isolation needs protection
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
        "maps the chain's whole pool"
      : "this CPU has no protection keys (PKU): every step of a chain maps the chain's whole pool",
  };
}
