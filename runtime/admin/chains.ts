/**
 * Admin API for chains: /admin/chains[/{name}[/stats]]. The definition schema
 * lives in runtime/chains/spec.ts (shared with manifest files); the route
 * validates a definition with it, the chain manager checks its steps.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { ChainControl } from "../chains/control.ts";
import type { ChainManager } from "../chains/manager.ts";
import { ChainSpecSchema, type StoredChain } from "../chains/spec.ts";
import { ChainUnavailableError, NotFoundError } from "../errors.ts";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import { chainStats, ChainStatsSchema } from "./chain_stats.ts";
import { ANY_OTHER_ERROR, error, json, NameParams } from "./schemas.ts";

export const ChainInputSchema = ChainSpecSchema.openapi("ChainInput");

export const ChainStatusSchema = z.object({
  state: z.enum(["running", "degraded", "down"]).describe(
    "running: every step runs here; degraded: a step cannot start (its requests get a 502 " +
      "naming it; it is tried again); down: the chain could not start (its requests get a 503 " +
      "saying why; it is tried again when a function is deployed or a chain removed, and " +
      "every few seconds to a minute)",
  ),
  reason: z.string().optional().describe("Why it is not running in full"),
  since: z.string().optional().describe("ISO 8601 time since when"),
  step: z.number().int().optional().describe("The step that cannot start (degraded)"),
  function: z.string().optional().describe("That step's function (degraded)"),
}).openapi("ChainStatus");

/** A stored chain as answered: its definition (defaults applied), when it was applied, and how it runs. */
export const ChainSchema = z.object({
  ...ChainSpecSchema.shape,
  createdAt: z.string().describe("ISO 8601 time of the first apply"),
  updatedAt: z.string().describe("ISO 8601 time of the last apply"),
  status: ChainStatusSchema.describe("How it runs on this node"),
}).openapi("Chain");

export const ChainListSchema = z.object({ chains: z.array(ChainSchema) }).openapi("ChainList");

export const ChainRemovedSchema = z.object({ name: FunctionName, removed: z.literal(true) })
  .openapi("ChainRemoved");

const TAGS = ["chains"];
const NO_CHAIN = error("No such chain");

export interface ChainRoutesDeps {
  /** The chains this node runs (stats). */
  chains: ChainManager;
  /** Where chain changes go (default: `chains`; the fleet's on a fleet member). */
  chainControl?: ChainControl;
}

export function chainRoutes(deps: ChainRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  const control = deps.chainControl ?? deps.chains;
  const withStatus = (chain: StoredChain) => ({ ...chain, status: deps.chains.status(chain.name) });

  r.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "applyChain",
      summary: "Create or replace a chain",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: ChainInputSchema } } },
      },
      responses: {
        201: json(ChainSchema, "Created"),
        200: json(ChainSchema, "Replaced an existing chain"),
        400: error("Invalid definition or a step that is not deployed"),
        409: error(
          "A function already has that name, or the chain asks for request-level isolation, " +
            "which this node cannot give (isolation_unavailable)",
        ),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { chain, replaced } = await control.apply(c.req.valid("json"));
      const answer = withStatus(chain);
      return replaced ? c.json(answer, 200) : c.json(answer, 201);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listChains",
      summary: "List chains",
      tags: TAGS,
      responses: { 200: json(ChainListSchema, "All chains"), default: ANY_OTHER_ERROR },
    }),
    async (c) => {
      const chains = (await control.list()).sort((a, b) => a.name.localeCompare(b.name));
      return c.json({ chains: chains.map(withStatus) }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/{name}",
      operationId: "getChain",
      summary: "One chain",
      tags: TAGS,
      request: { params: NameParams },
      responses: { 200: json(ChainSchema, "The chain"), 404: NO_CHAIN, default: ANY_OTHER_ERROR },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const chain = await control.describe(name);
      if (!chain) throw notFound(name);
      return c.json(withStatus(chain), 200);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/{name}/stats",
      operationId: "chainStats",
      summary: "Zero-copy counters, pool use and per-step hand-off statistics",
      tags: TAGS,
      request: { params: NameParams },
      responses: {
        200: json(ChainStatsSchema, "Statistics"),
        404: NO_CHAIN,
        503: error("Stored, but this node could not bring it back at start (chain_unavailable)"),
        default: ANY_OTHER_ERROR,
      },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const rt = deps.chains.get(name);
      const down = rt ? undefined : deps.chains.notRunning(name);
      if (down !== undefined) throw new ChainUnavailableError(name, down);
      if (!rt) throw notFound(name);
      return c.json(chainStats(rt), 200);
    },
  );

  r.openapi(
    createRoute({
      method: "delete",
      path: "/{name}",
      operationId: "deleteChain",
      summary: "Remove a chain and destroy its instances and pool",
      tags: TAGS,
      request: { params: NameParams },
      responses: {
        200: json(ChainRemovedSchema, "Removed"),
        404: NO_CHAIN,
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      await control.remove(name);
      return c.json({ name, removed: true as const }, 200);
    },
  );

  return r;
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`chain ${name} does not exist`);
}
