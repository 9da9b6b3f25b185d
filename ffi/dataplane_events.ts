/**
 * What libsure's data plane tells the control plane (struct sure_dp_event,
 * libsure.h), decoded from the batch one `sure_dataplane_events` call fills:
 * a plain decode of fixed fields, kept apart from the calls so that it can be
 * measured and tested without a data plane.
 */
import { DP_EVENT, LIMITS, type STRUCTS } from "./abi.ts";
import type { CStructs } from "./struct.ts";

/** Most events one events() call returns. */
export const EVENT_BATCH = 256;

export type DataplaneEvent =
  | {
    kind: "done";
    route: number;
    tag: number;
    /** A chain's request: its attachment id (else 0); rc 1: it ended in a hand-off loop. */
    chain: number;
    rc: number;
    status: number;
    code: string;
    /**
     * The requests it stands for: 1, or more where the data plane folds
     * answers (Dataplane.foldDone); seconds, waitSeconds and the bytes are
     * then their sums.
     */
    count: number;
    /** Folded: the requests by seconds in the fold's buckets (the last past every bound). */
    buckets?: number[];
    seconds: number;
    waitSeconds: number;
    bytesIn: number;
    bytesOut: number;
    requestId: string;
    traceId: string;
  }
  | { kind: "need"; route: number }
  | {
    kind: "dead";
    route: number;
    tag: number;
    rc: number;
    token: bigint;
    requestId: string;
    traceId: string;
    seconds: number;
  }
  | { kind: "retired"; route: number; tag: number }
  /** An idle instance that never went back to sleep: stopped, the control plane's again. */
  | { kind: "runaway"; route: number; tag: number }
  | {
    /** A chain's step died or was stopped: restart it; token: a request to explain (else 0n). */
    kind: "stepDown";
    route: number;
    /** The chain's attachment id. */
    chain: number;
    step: number;
    rc: number;
    token: bigint;
    requestId: string;
    traceId: string;
    seconds: number;
  };

const dec = new TextDecoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return dec.decode(end < 0 ? b : b.subarray(0, end));
}

/**
 * The first n events of e. ids false: a DONE event's requestId and traceId
 * are left "" (decoding them is most of an event's cost, and nobody reads
 * them where libsure writes the request log).
 */
export function decodeEvents(
  e: CStructs<typeof STRUCTS.sure_dp_event>,
  n: number,
  ids = true,
): DataplaneEvent[] {
  const out: DataplaneEvent[] = [];
  for (let i = 0; i < n; i++) {
    const kind = e.u32("kind", i);
    const route = e.u32("route", i);
    if (kind === DP_EVENT.need) {
      out.push({ kind: "need", route });
      continue;
    }
    const tag = e.u32("tag", i);
    if (kind === DP_EVENT.runaway) {
      out.push({ kind: "runaway", route, tag });
      continue;
    }
    if (kind === DP_EVENT.retired) {
      out.push({ kind: "retired", route, tag });
      continue;
    }
    let traceId = "", requestId = "";
    if (ids || kind !== DP_EVENT.done) {
      const t = e.raw("trace_id", 16, i);
      for (let k = 0; k < 16; k++) traceId += HEX[t[k]];
      requestId = cString(e.raw("request_id", 132, i));
    }
    if (kind === DP_EVENT.stepDown || kind === DP_EVENT.dead) {
      // What a step's death and an instance's death both carry: a request to explain.
      const failed = {
        route,
        rc: e.i32("rc", i),
        token: e.u64n("token", i),
        requestId,
        traceId,
        seconds: e.u64("total_ns", i) / 1e9,
      };
      out.push(
        kind === DP_EVENT.dead ? { kind: "dead", tag, ...failed } : {
          kind: "stepDown",
          chain: e.u32("chain", i),
          step: e.u32("status", i),
          ...failed,
        },
      );
      continue;
    }
    const nb = e.u32("nbuckets", i);
    out.push({
      kind: "done",
      route,
      tag,
      chain: e.u32("chain", i),
      rc: e.i32("rc", i),
      status: e.u32("status", i),
      count: e.u32("count", i),
      buckets: nb ? e.u32s("buckets", Math.min(nb, LIMITS.dpFoldBounds + 1), i) : undefined,
      // Most answers carry no error code: no decode for those.
      code: e.u8("code", i) === 0 ? "" : cString(e.raw("code", 32, i)),
      seconds: e.u64("total_ns", i) / 1e9,
      waitSeconds: e.u64("wait_ns", i) / 1e9,
      bytesIn: e.u64("bytes_in", i),
      bytesOut: e.u64("bytes_out", i),
      requestId,
      traceId,
    });
  }
  return out;
}
