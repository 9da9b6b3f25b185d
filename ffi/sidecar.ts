/**
 * The library sidecar as seen from TypeScript: the limits written into an
 * instance's sidecar page, the counters read back from it (plain reads of
 * guest memory, no exit), and why an answer did not come from the handler.
 * Layouts come from the generated ffi/abi.ts (struct sure_sidecar_counters,
 * struct sure_host_record).
 */
import { LAT_BOUNDS_NS, LIMITS, REASON, STRUCTS } from "./abi.ts";
import { CStructs } from "./struct.ts";

export interface SidecarLimits {
  /** false: no admission control and no accounting in the guest. */
  enabled: boolean;
  /** Requests queued at the instance + the running one; 0: no limit. */
  maxInFlight: number;
  /** Requests per second (token bucket); 0: no limit. */
  ratePerSec: number;
  rateBurst: number;
  /** How long a request may wait before it runs, ms; 0: no limit. */
  deadlineMs: number;
}

export interface SidecarStats {
  requests: number;
  admitted: number;
  rejectedRate: number;
  rejectedInFlight: number;
  deadlineMissed: number;
  policyDenied: number;
  status4xx: number;
  status5xx: number;
  queueDepth: number;
  maxQueueDepth: number;
  /** Seconds spent in handlers, and in the sidecar itself. */
  handlerSeconds: number;
  sidecarSeconds: number;
  /**
   * Handler latency: runs per bucket; bucket i holds runs of at most
   * LATENCY_BOUNDS_SECONDS[i] (and more than the bound before it); the last
   * bucket is +Inf. The bounds are fixed, the same on every machine.
   */
  latencyBuckets: number[];
}

/** enum sure_reason: who answered. */
export type AnswerReason = keyof typeof REASON;
export const REASONS: AnswerReason[] = (Object.keys(REASON) as AnswerReason[]).sort((a, b) =>
  REASON[a] - REASON[b]
);

/** Upper bounds of the latency buckets in seconds (SURE_LAT_BOUNDS_NS); +Inf follows. */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = LAT_BOUNDS_NS.map((ns) => ns / 1e9);

type CountersLayout = typeof STRUCTS.sure_sidecar_counters;

/** A reusable struct sure_sidecar_counters for sure_instance_sidecar_stats. */
export function sidecarCounters(): CStructs<CountersLayout> {
  return new CStructs(STRUCTS.sure_sidecar_counters);
}

export function decodeSidecarStats(c: CStructs<CountersLayout>): SidecarStats {
  return {
    requests: c.u64("requests"),
    admitted: c.u64("admitted"),
    rejectedRate: c.u64("rejected_rate"),
    rejectedInFlight: c.u64("rejected_inflight"),
    deadlineMissed: c.u64("deadline_missed"),
    policyDenied: c.u64("policy_denied"),
    status4xx: c.u64("status_4xx"),
    status5xx: c.u64("status_5xx"),
    queueDepth: c.u64("queue_depth"),
    maxQueueDepth: c.u64("max_queue_depth"),
    handlerSeconds: c.u64("handler_ns") / 1e9,
    sidecarSeconds: c.u64("sidecar_ns") / 1e9,
    latencyBuckets: c.u64s("latency_hist", LIMITS.latBuckets),
  };
}

/** The sum of two snapshots (an instance's counters folded into its function's). */
export function addSidecarStats(a: SidecarStats, b: SidecarStats): SidecarStats {
  return {
    requests: a.requests + b.requests,
    admitted: a.admitted + b.admitted,
    rejectedRate: a.rejectedRate + b.rejectedRate,
    rejectedInFlight: a.rejectedInFlight + b.rejectedInFlight,
    deadlineMissed: a.deadlineMissed + b.deadlineMissed,
    policyDenied: a.policyDenied + b.policyDenied,
    status4xx: a.status4xx + b.status4xx,
    status5xx: a.status5xx + b.status5xx,
    queueDepth: a.queueDepth + b.queueDepth,
    maxQueueDepth: Math.max(a.maxQueueDepth, b.maxQueueDepth),
    handlerSeconds: a.handlerSeconds + b.handlerSeconds,
    sidecarSeconds: a.sidecarSeconds + b.sidecarSeconds,
    // Fixed bounds: buckets of any two instances (or nodes) add up.
    latencyBuckets: a.latencyBuckets.map((x, i) => x + (b.latencyBuckets[i] ?? 0)),
  };
}

export function emptySidecarStats(): SidecarStats {
  return decodeSidecarStats(sidecarCounters());
}

/** One request as an instance's sidecar recorded it (the last 32 are kept). */
export interface RequestRecord {
  /** How long ago the sidecar took it, and how long the handler ran. */
  ageMs: number;
  durationUs: number;
  traceId: string;
  spanId: string;
  status: number;
  reason: AnswerReason;
}

type RecordLayout = typeof STRUCTS.sure_host_record;

/** Room for the most records an instance keeps (struct sure_host_record[]). */
export function recordBuffer(): CStructs<RecordLayout> {
  return new CStructs(STRUCTS.sure_host_record, LIMITS.reqRecords);
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function decodeRecords(r: CStructs<RecordLayout>, n: number): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (let i = 0; i < n && i < r.count; i++) {
    out.push({
      ageMs: r.u64("age_ns", i) / 1e6,
      durationUs: r.u64("duration_ns", i) / 1e3,
      traceId: hex(r.raw("trace_id", 16, i)),
      spanId: hex(r.raw("span_id", 8, i)),
      status: r.u16("status", i),
      reason: REASONS[r.u8("reason", i)] ?? "handler",
    });
  }
  return out;
}
