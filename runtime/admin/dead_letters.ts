/**
 * Admin API for dead letters: /admin/events/dead[/{id}[/replay]]. A dead
 * letter is one delivery of one event to one trigger's function that failed
 * every attempt; it is kept with its event until it is replayed (back on the
 * queue, attempts counted from zero) or deleted.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "../errors.ts";
import type { EventService } from "../events/service.ts";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import { ANY_OTHER_ERROR, error, json } from "./schemas.ts";

export const DeadLetterSchema = z.object({
  id: z.string().describe("The delivery: <event key>.<trigger id>"),
  event: z.string().describe("The event's record key"),
  trigger: z.string().describe("The trigger it was delivered for"),
  function: FunctionName,
  attempts: z.number().int(),
  createdAt: z.string(),
  lastAttemptAt: z.string().optional(),
  lastStatus: z.number().int().optional().describe("HTTP status of the last attempt"),
  lastError: z.string().optional(),
  deadAt: z.string(),
  attributes: z.record(z.string(), z.string()).describe("The event's context attributes"),
}).openapi("DeadLetter");

export const DeadLetterListSchema = z.object({ deadLetters: z.array(DeadLetterSchema) })
  .openapi("DeadLetterList");

const DoneSchema = z.object({ id: z.string(), replayed: z.boolean().optional() })
  .openapi("DeadLetterDone");

/** <event key>.<trigger id>, both the node's: anything much longer names nothing, and would not fit a key. */
const IdParams = z.object({
  id: z.string().min(1).max(512, { error: "is longer than any id the node assigns" }),
});
const TAGS = ["events"];
const NO_LETTER = error("No such dead letter");

export interface DeadLetterRoutesDeps {
  events: EventService;
}

export function deadLetterRoutes(deps: DeadLetterRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  const missing = (id: string) => new NotFoundError(`dead letter ${id} does not exist`);

  r.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listDeadLetters",
      summary: "Event deliveries that failed every attempt, oldest first",
      tags: TAGS,
      responses: { 200: json(DeadLetterListSchema, "Dead letters"), default: ANY_OTHER_ERROR },
    }),
    async (c) => c.json({ deadLetters: await deps.events.deadLetters() }, 200),
  );

  r.openapi(
    createRoute({
      method: "post",
      path: "/{id}/replay",
      operationId: "replayDeadLetter",
      summary: "Deliver a dead letter again, with a fresh count of attempts",
      tags: TAGS,
      request: { params: IdParams },
      responses: {
        202: json(DoneSchema, "Back on the queue"),
        404: NO_LETTER,
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await deps.events.replay(id))) throw missing(id);
      return c.json({ id, replayed: true }, 202);
    },
  );

  r.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      operationId: "deleteDeadLetter",
      summary: "Drop a dead letter (and its event, unless another delivery uses it)",
      tags: TAGS,
      request: { params: IdParams },
      responses: { 200: json(DoneSchema, "Deleted"), 404: NO_LETTER, default: ANY_OTHER_ERROR },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await deps.events.discard(id))) throw missing(id);
      return c.json({ id }, 200);
    },
  );

  return r;
}
