/**
 * Admin API of a fleet member: /admin/fleet/nodes (every node with a
 * heartbeat: alive or not, its labels, what it runs and what it could not
 * apply) and /admin/fleet/functions (the fleet's desired functions and the
 * nodes that should run each, as this node sees the fleet). A node that is
 * not in a fleet answers 404 saying so.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "../errors.ts";
import type { FleetMember } from "../fleet/member.ts";
import { NodeStatusSchema, PlacementSchema } from "../fleet/records.ts";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import { ANY_OTHER_ERROR, error, json } from "./schemas.ts";

export const FleetNodeSchema = NodeStatusSchema.extend({
  alive: z.boolean().describe("Its heartbeat is recent (the fleet's clock)"),
  self: z.boolean().describe("The node that answers"),
}).openapi("FleetNode");

const FleetNodesSchema = z.object({
  self: z.string(),
  connected: z.boolean().describe("This node reaches the fleet now"),
  nodes: z.array(FleetNodeSchema),
}).openapi("FleetNodes");

const FleetFunctionsSchema = z.object({
  functions: z.array(z.object({
    name: FunctionName,
    digest: z.string(),
    placement: PlacementSchema,
    updatedAt: z.string(),
    by: z.string().describe("The node whose admin API made this version"),
    nodes: z.array(z.string()).describe("The live nodes that should run it, by this node's view"),
    running: z.array(z.string()).describe("The nodes that report running this version"),
  })),
}).openapi("FleetFunctions");

const TAGS = ["fleet"];
const NOT_IN_FLEET = error("This node is not in a fleet");

export function fleetRoutes(deps: { fleet?: FleetMember }): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  const member = () => {
    if (!deps.fleet) throw new NotFoundError("this node is not in a fleet (sure serve --fleet)");
    return deps.fleet;
  };

  r.openapi(
    createRoute({
      method: "get",
      path: "/nodes",
      operationId: "listFleetNodes",
      summary: "The fleet's nodes: alive or not, labels, what each runs",
      tags: TAGS,
      responses: {
        200: json(FleetNodesSchema, "Nodes"),
        404: NOT_IN_FLEET,
        default: ANY_OTHER_ERROR,
      },
    }),
    (c) => {
      const m = member();
      return c.json({ self: m.name, connected: m.connected, nodes: m.nodeStatuses() }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/functions",
      operationId: "listFleetFunctions",
      summary: "The fleet's functions and the nodes that run them",
      tags: TAGS,
      responses: {
        200: json(FleetFunctionsSchema, "Functions"),
        404: NOT_IN_FLEET,
        default: ANY_OTHER_ERROR,
      },
    }),
    (c) => {
      const m = member();
      const statuses = m.nodeStatuses().filter((n) => n.alive);
      const functions = m.placements().map(({ record, nodes }) => ({
        name: record.name,
        digest: record.digest,
        placement: record.placement,
        updatedAt: record.updatedAt,
        by: record.by,
        nodes,
        running: statuses.filter((n) =>
          n.functions.some((f) => f.name === record.name && f.digest === record.digest)
        ).map((n) => n.name),
      }));
      return c.json({ functions }, 200);
    },
  );
  return r;
}
