/** The limits a function's deployment asks its instances' library sidecars to enforce. */
import type { SidecarLimits } from "../../ffi/mod.ts";
import type { FunctionSettings } from "../settings/settings.ts";

/**
 * concurrencyLimit bounds a function's requests in flight (running + queued)
 * at concurrencyLimit x maxInstances. A plain instance runs one request at a
 * time, so the node's queue enforces that (autoscale.ts admit) and the
 * sidecar gets no in-flight limit. inChain: a chain step has one instance,
 * which queues requests in its own rings, so its sidecar enforces
 * concurrencyLimit itself: the per-step limit.
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
