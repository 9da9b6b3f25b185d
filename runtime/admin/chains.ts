/**
 * Admin API for chains: /admin/chains[/:name[/stats]]. The definition schema
 * lives in runtime/chains/spec.ts (shared with manifest files).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { ChainManager } from "../chains/manager.ts";
import type { ChainRuntime } from "../chains/runtime.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { NAME_RE } from "./functions.ts";

export const ChainStatsSchema = z.object({
  chain: z.string(),
  requests: z.number().int(),
  inFlight: z.number().int(),
  errors: z.object({
    fault: z.number().int(),
    timeout: z.number().int(),
    bogus: z.number().int(),
    loop: z.number().int(),
    overloaded: z.number().int(),
  }),
  copies: z.object({
    inBytes: z.number().int().describe("Bytes the node copied into the pool (request bodies)"),
    outBytes: z.number().int().describe("Bytes the node copied out (responses)"),
    handoffBytes: z.number().int().describe("Bytes copied by hand-offs: always 0"),
  }),
  handoffs: z.number().int().describe("Descriptors the chain's functions handed on"),
  completed: z.number().int(),
  pool: z.object({
    buffers: z.number().int(),
    free: z.number().int(),
    inUse: z.number().int(),
    slotsInFlight: z.number().int(),
  }),
  steps: z.array(
    z.object({
      function: z.string(),
      handled: z.number().int(),
      handoffs: z.number().int(),
      stale: z.number().int(),
      bogus: z.number().int(),
      handoffLatency: z.object({
        meanNs: z.number(),
        p50Ns: z.number().describe("Upper bound of the median's log2 bucket"),
      }).describe("Producer push to this step's pop, guest TSC stamps (queueing included)"),
    }).nullable(),
  ),
});

export function chainStats(rt: ChainRuntime): z.infer<typeof ChainStatsSchema> {
  const s = rt.chain.stats();
  return {
    chain: rt.name,
    requests: rt.requests,
    inFlight: rt.inFlight,
    errors: { ...rt.errors },
    copies: { inBytes: s.copiedIn, outBytes: s.copiedOut, handoffBytes: s.handoffBytesCopied },
    handoffs: s.handoffs,
    completed: s.completed,
    pool: {
      buffers: s.buffers,
      free: s.freeBuffers,
      inUse: s.buffers - s.freeBuffers,
      slotsInFlight: s.slotsInFlight,
    },
    steps: rt.spec.steps.map((fn, i) => {
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

export interface ChainRoutesDeps {
  chains: ChainManager;
}

export function chainRoutes(deps: ChainRoutesDeps): Hono {
  const r = new Hono();

  r.post("/", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ValidationError(undefined, "body must be a JSON chain definition");
    }
    const { chain, replaced } = await deps.chains.apply(body);
    return c.json(chain, replaced ? 200 : 201);
  });

  r.get("/", async (c) => {
    const chains = (await deps.chains.list()).sort((a, b) => a.name.localeCompare(b.name));
    return c.json({ chains });
  });

  r.get("/:name", async (c) => {
    const name = c.req.param("name");
    const chain = NAME_RE.test(name) ? await deps.chains.describe(name) : null;
    if (!chain) throw notFound(name);
    return c.json(chain);
  });

  r.get("/:name/stats", (c) => {
    const rt = deps.chains.get(c.req.param("name"));
    if (!rt) throw notFound(c.req.param("name"));
    return c.json(chainStats(rt));
  });

  r.delete("/:name", async (c) => {
    const name = c.req.param("name");
    if (!NAME_RE.test(name)) throw notFound(name);
    await deps.chains.remove(name);
    return c.json({ name, removed: true });
  });

  return r;
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`chain ${name} does not exist`);
}
