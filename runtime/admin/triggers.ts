/**
 * Admin API for event triggers: /admin/triggers[/{id}]. A trigger sends the
 * events of one type (and optionally of sources under a prefix) that the
 * sink (POST /events) accepts to one function or chain.
 *
 * A trigger can only be made for a function or chain that exists (404
 * otherwise): a typo shows at once rather than as dead letters. If its
 * target goes away later, its deliveries fail (404), are retried, and end
 * as dead letters, which can be replayed once it is back.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { ChainManager } from "../chains/manager.ts";
import { NotFoundError } from "../errors.ts";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import type { FleetMember } from "../fleet/member.ts";
import type { Store } from "../store/store.ts";
import type { Triggers } from "../store/triggers.ts";
import { ANY_OTHER_ERROR, error, json } from "./schemas.ts";

/** Attribute text a trigger matches: printable, and short enough to store and to key by. */
const Attribute = (max: number) =>
  z.string().min(1).max(max, { error: `is longer than ${max} characters` })
    // deno-lint-ignore no-control-regex
    .regex(/^[^\x00-\x1f\x7f]*$/, { error: "has a control character" });

export const TriggerInputSchema = z.strictObject({
  type: Attribute(1024).describe("The event type, matched exactly"),
  sourcePrefix: Attribute(1024).optional().describe(
    "Only events whose source starts with this",
  ),
  function: FunctionName.describe("The function (or chain) the events are posted to"),
}).openapi("TriggerInput");

export const TriggerSchema = z.object({
  id: z.string().describe("Assigned by the node"),
  type: z.string(),
  sourcePrefix: z.string().optional(),
  function: FunctionName,
  createdAt: z.string().describe("ISO 8601"),
}).openapi("Trigger");

export const TriggerListSchema = z.object({ triggers: z.array(TriggerSchema) })
  .openapi("TriggerList");

export const TriggerRemovedSchema = z.object({ id: z.string(), removed: z.literal(true) })
  .openapi("TriggerRemoved");

/** Ids are the node's (a UUID): anything much longer names nothing, and would not fit a key. */
const IdParams = z.object({
  id: z.string().min(1).max(256, { error: "is longer than any id the node assigns" }),
});
const TAGS = ["events"];

export interface TriggerRoutesDeps {
  store: Store;
  /** Where triggers are kept: this node's store, or the fleet's. */
  triggers: Triggers;
  chains?: ChainManager;
  /** In a fleet a function may run on other nodes only: it exists if the fleet has it. */
  fleet?: FleetMember;
}

export function triggerRoutes(deps: TriggerRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();

  r.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "addTrigger",
      summary: "Deliver the events of a type (and source prefix) to a function",
      tags: TAGS,
      request: {
        body: { required: true, content: { "application/json": { schema: TriggerInputSchema } } },
      },
      responses: {
        201: json(TriggerSchema, "Created"),
        400: error("Invalid trigger"),
        404: error("No such function or chain"),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const exists = deps.chains?.get(input.function) ?? deps.fleet?.desired.get(input.function) ??
        await deps.store.get(input.function);
      if (!exists) {
        throw new NotFoundError(`function ${input.function} does not exist`);
      }
      return c.json(await deps.triggers.add(input), 201);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listTriggers",
      summary: "List triggers, oldest first",
      tags: TAGS,
      responses: { 200: json(TriggerListSchema, "All triggers"), default: ANY_OTHER_ERROR },
    }),
    async (c) => c.json({ triggers: await deps.triggers.list() }, 200),
  );

  r.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      operationId: "deleteTrigger",
      summary: "Remove a trigger (deliveries already made for it still run)",
      tags: TAGS,
      request: { params: IdParams },
      responses: {
        200: json(TriggerRemovedSchema, "Removed"),
        404: error("No such trigger"),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await deps.triggers.remove(id))) {
        throw new NotFoundError(`trigger ${id} does not exist`);
      }
      return c.json({ id, removed: true as const }, 200);
    },
  );

  return r;
}
