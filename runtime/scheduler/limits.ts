/** The limits a function's deployment asks its instances' library sidecars to enforce. */
import type { SidecarLimits } from "../../ffi/mod.ts";
import type { FunctionSettings } from "../settings/settings.ts";

/**
 * inChain: a chain step's instance queues requests in its own rings, so its
 * sidecar enforces concurrencyLimit; a plain instance runs one request at a
 * time and the node's queue enforces it (runtime/scheduler/pool.ts).
 */
export function sidecarLimits(d: FunctionSettings, inChain: boolean): SidecarLimits {
  return {
    enabled: d.sidecar === "on",
    maxInFlight: inChain ? d.concurrencyLimit : 0,
    ratePerSec: d.rateLimit,
    rateBurst: d.rateBurst,
    deadlineMs: d.deadline,
  };
}
