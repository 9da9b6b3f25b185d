/**
 * GET /admin/chains/{name}/stats: what a chain in service has done, read
 * from its runtime and its pool (zero-copy counters, pool use, per-step
 * hand-off latency from the guests' TSC stamps).
 */
import { z } from "@hono/zod-openapi";
import type { ChainRuntime } from "../chains/runtime.ts";
import { stepNames } from "../chains/spec.ts";

const count = () => z.number().int();

export const ChainStatsSchema = z.object({
  chain: z.string(),
  requests: count(),
  inFlight: count(),
  // Open (not strict): the runtime may count new kinds of failure.
  errors: z.object({
    fault: count().describe("A step faulted"),
    timeout: count().describe("A request ran past the chain's timeout"),
    bogus: count().describe("A step handed on a bogus descriptor"),
    loop: count().describe("A request handed on more times than the chain allows"),
    overloaded: count().describe("The chain's queue was full"),
    rejected: count().describe("A step's sidecar refused the request (rate or concurrency)"),
    deadline: count().describe("A request waited past a step's deadline"),
    unavailable: count().describe(
      "A step could not start: the request was answered 502 at once (see `unavailable`)",
    ),
  }).catchall(count()),
  unavailable: z.object({
    step: count(),
    function: z.string(),
    reason: z.string(),
    since: z.string().describe("ISO 8601 time of the first failed start"),
  }).nullable().describe(
    "The step that cannot start (its last start failed): new requests are answered 502 " +
      "function_start_failed at once until one of the node's retries, or a deploy, starts it",
  ),
  copies: z.object({
    inBytes: count().describe("Bytes the node copied into the pool (request bodies)"),
    outBytes: count().describe("Bytes the node copied out (responses)"),
    handoffBytes: count().describe(
      "Bytes the steps' answers put into the other extent instead of working in place, as " +
        "the steps' guest library reports them (untrusted; kept monotonic and bounded by the node)",
    ),
  }),
  handoffs: count().describe(
    "Descriptors the chain's functions handed on, as their guest library reports them " +
      "(untrusted; kept monotonic by the node)",
  ),
  completed: count(),
  descriptors: z.object({
    bogus: count().describe(
      "Descriptors the node itself found forged (without the request's capability) or broken, " +
        "each on a ring only one step can write: that step was stopped",
    ),
    unconfirmed: count().describe(
      "Steps' reports of a bogus descriptor that the node, reading the ring itself, found no " +
        "evidence for: nobody was stopped and no request failed",
    ),
  }),
  runaways: count().describe(
    "Steps the node stopped for running with nothing to do (awake, nothing queued, no request " +
      "held) for 2 s; each was restarted",
  ),
  pool: z.object({
    buffers: count(),
    free: count(),
    inUse: count(),
    slotsInFlight: count(),
  }),
  steps: z.array(
    z.object({
      function: z.string(),
      handled: count(),
      handoffs: count(),
      stale: count().describe("Stale descriptors this step dropped (guest-reported)"),
      bogus: count().describe("Bogus descriptors this step reported (guest-reported)"),
      handoffLatency: z.object({
        meanNs: z.number(),
        p50Ns: z.number().describe("Upper bound of the median's log2 bucket"),
      }).describe(
        "Producer push to this step's pop, guest TSC stamps (queueing included; guest-reported, " +
          "no more hand-offs than the chain's requests could make, none longer than the instance's life)",
      ),
    }).nullable().describe("null while the step has no instance"),
  ),
}).openapi("ChainStats");

export function chainStats(rt: ChainRuntime): z.infer<typeof ChainStatsSchema> {
  const s = rt.chain.stats();
  return {
    chain: rt.name,
    requests: rt.requests,
    inFlight: rt.inFlight,
    errors: { ...rt.errors },
    unavailable: rt.unavailable ?? null,
    copies: { inBytes: s.copiedIn, outBytes: s.copiedOut, handoffBytes: s.handoffBytes },
    handoffs: s.handoffs,
    completed: s.completed,
    descriptors: { bogus: s.bogus, unconfirmed: s.unconfirmed },
    runaways: s.runaways,
    pool: {
      buffers: s.buffers,
      free: s.freeBuffers,
      inUse: s.buffers - s.freeBuffers,
      slotsInFlight: s.slotsInFlight,
    },
    steps: stepNames(rt.spec).map((fn, i) => {
      const st = rt.chain.stepStats(i);
      if (!st) return null;
      const total = st.hist.reduce((a, b) => a + b, 0);
      const hz = st.tscHz || 1e9;
      let b = 0;
      for (let acc = 0; b < 32; b++) {
        acc += st.hist[b];
        if (acc * 2 >= total) break;
      }
      return {
        function: fn,
        handled: st.handled,
        handoffs: st.handoffs,
        stale: st.stale,
        bogus: st.bogus,
        handoffLatency: {
          meanNs: total ? (st.handoffTscSum / total / hz) * 1e9 : 0,
          p50Ns: total ? (2 ** (b + 1) / hz) * 1e9 : 0,
        },
      };
    }),
  };
}
