/**
 * What the admin API answers about a function's instances
 * (GET /admin/functions/:name/instances, and after a scale). Kept apart from
 * the instance group so that the CLI can read the types without importing
 * the node (it imports types only).
 */
import type { ColdStart } from "../settings/settings.ts";
import type { Deployment } from "../store/store.ts";

export interface InstanceInfo {
  id: number;
  state: "idle" | "busy";
  startedAt: string;
  ageMs: number;
  idleMs: number;
  requests: number;
  startMs: number;
  start: ColdStart;
}

export interface GroupStatus {
  function: string;
  digest: string;
  minInstances: number;
  maxInstances: number;
  targetConcurrency: number;
  idleTimeout: number;
  coldStart: ColdStart;
  instances: InstanceInfo[];
  starting: number;
  queued: number;
  /** Most instances alive at once since the deploy. */
  peakInstances: number;
  /** Instances started because a request found none free. */
  coldStarts: number;
  /** Idle instances stopped because they did not go back to sleep after their answer. */
  runaways: number;
  requests: number;
  template: { residentBytes: number; clones: number } | null;
}

/** What the status shows of one live instance (the instance group's record of it). */
export interface MemberState {
  vm: { readonly id: number; readonly requests: number };
  busy: boolean;
  startedAt: number; // Date.now()
  lastUsed: number; // performance.now()
  startMs: number;
  start: ColdStart;
}

/** The group's counters that are not in the deployment or its instances. */
type Counts = Pick<
  GroupStatus,
  "starting" | "queued" | "peakInstances" | "coldStarts" | "runaways" | "requests"
>;

export function groupStatus(
  d: Deployment,
  members: MemberState[],
  template: { residentBytes: number; clones: number } | undefined,
  counts: Counts,
): GroupStatus {
  const now = performance.now();
  const wall = Date.now();
  return {
    function: d.name,
    digest: d.digest,
    minInstances: d.minInstances,
    maxInstances: d.maxInstances,
    targetConcurrency: d.targetConcurrency,
    idleTimeout: d.idleTimeout,
    coldStart: d.coldStart,
    instances: members.map((m) => ({
      id: m.vm.id,
      state: m.busy ? "busy" : "idle",
      startedAt: new Date(m.startedAt).toISOString(),
      ageMs: wall - m.startedAt,
      idleMs: m.busy ? 0 : Math.round(now - m.lastUsed),
      requests: m.vm.requests,
      startMs: Math.round(m.startMs * 1000) / 1000,
      start: m.start,
    })),
    ...counts,
    template: template ? { residentBytes: template.residentBytes, clones: template.clones } : null,
  };
}
