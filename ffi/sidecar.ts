/**
 * The library sidecar as seen from TypeScript: the limits written into an
 * instance's sidecar page, the counters read back from it (plain reads of
 * guest memory, no exit), and why an answer did not come from the handler.
 * Layouts mirror struct sure_sidecar and sure_instance_sidecar_stats().
 */

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
  /** Handler latency: count per log2 bucket; bucket i holds [2^i, 2^(i+1)) TSC ticks. */
  latencyBuckets: number[];
  /** TSC ticks per second, to read the buckets. */
  tscHz: number;
}

/** enum sure_reason: who answered. */
export type AnswerReason = "handler" | "rate" | "inflight" | "deadline";
export const REASONS: AnswerReason[] = ["handler", "rate", "inflight", "deadline"];

export const SIDECAR_STATS = 45; // SURE_SIDECAR_STATS

export function decodeSidecarStats(v: BigUint64Array): SidecarStats {
  const n = Array.from(v, Number);
  const hz = n[12] || 1e9;
  return {
    requests: n[0],
    admitted: n[1],
    rejectedRate: n[2],
    rejectedInFlight: n[3],
    deadlineMissed: n[4],
    policyDenied: n[5],
    status4xx: n[6],
    status5xx: n[7],
    queueDepth: n[8],
    maxQueueDepth: n[9],
    handlerSeconds: n[10] / hz,
    sidecarSeconds: n[11] / hz,
    latencyBuckets: n.slice(13, 45),
    tscHz: n[12],
  };
}

/** The sum of two snapshots (an instance's counters folded into its pool's). */
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
    // Buckets are TSC ticks: both sides of one host share the rate.
    latencyBuckets: a.latencyBuckets.map((x, i) => x + (b.latencyBuckets[i] ?? 0)),
    tscHz: a.tscHz || b.tscHz,
  };
}

export function emptySidecarStats(): SidecarStats {
  return decodeSidecarStats(new BigUint64Array(SIDECAR_STATS));
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

export const RECORD_BYTES = 48; // sizeof(struct sure_host_record)
export const MAX_RECORDS = 32; // SURE_REQ_RECORDS

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function decodeRecords(buf: Uint8Array, n: number): RequestRecord[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RequestRecord[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_BYTES;
    out.push({
      ageMs: Number(v.getBigUint64(o, true)) / 1e6,
      durationUs: Number(v.getBigUint64(o + 8, true)) / 1e3,
      traceId: hex(buf.subarray(o + 16, o + 32)),
      spanId: hex(buf.subarray(o + 32, o + 40)),
      status: v.getUint16(o + 40, true),
      reason: REASONS[buf[o + 42]] ?? "handler",
    });
  }
  return out;
}
