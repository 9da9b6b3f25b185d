/**
 * POST /events: the event sink. It takes CloudEvents in any content mode
 * (binary, structured, batch), checks every event before storing any, and
 * answers 202 with each event's id once all of them are stored and queued
 * (runtime/events/bus.ts delivers them to the functions whose triggers
 * match). A plain route, like the gateway: the body is read by the
 * CloudEvents codec, not by a zod schema; only its description is registered.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.ts";
import { readLimited } from "../gateway/body.ts";
import type { AppEnv } from "../middleware/env.ts";
import { ANY_OTHER_ERROR, error, json } from "../admin/schemas.ts";
import type { EventService } from "./service.ts";
import { BATCH, fromRequestParts, STRUCTURED } from "./cloudevents.ts";
import { MAX_EVENT_BYTES, storedSize } from "./records.ts";

/** Largest request the sink reads (a batch of events). */
export const MAX_SINK_BODY = 4 << 20;

export const EventsAcceptedSchema = z.object({
  accepted: z.array(z.object({
    id: z.string(),
    source: z.string(),
    duplicate: z.boolean().describe(
      "True when an event of this id and source was accepted before (within the dedup " +
        "window): it is not delivered again",
    ),
  })),
}).openapi("EventsAccepted");

export interface SinkDeps {
  events: EventService;
}

export function sinkRoutes(deps: SinkDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  r.post("/events", async (c) => {
    const body = await readLimited(c.req.raw, MAX_SINK_BODY);
    const events = fromRequestParts(c.req.raw.headers, body);
    if (events === null) {
      throw new UnsupportedMediaTypeError(
        "not a CloudEvent: send ce-* headers (binary mode), " +
          `content-type ${STRUCTURED} or ${BATCH}`,
      );
    }
    for (const ev of events) {
      if (storedSize(ev) > MAX_EVENT_BYTES) throw new PayloadTooLargeError(MAX_EVENT_BYTES);
    }
    return c.json({ accepted: await deps.events.accept(events) }, 202);
  });
  r.openAPIRegistry.registerPath({
    method: "post",
    path: "/events",
    operationId: "publishEvents",
    summary: "Accept CloudEvents (binary, structured or batch mode) and deliver each to the " +
      "functions whose triggers match, at least once",
    tags: ["events"],
    request: {
      body: {
        required: true,
        content: {
          [STRUCTURED]: { schema: z.object({}).loose() },
          [BATCH]: { schema: z.array(z.object({}).loose()) },
          "*/*": { schema: z.string().openapi({ format: "binary" }) },
        },
        description: "Binary mode: the ce-* headers carry the attributes, the body is the data",
      },
    },
    responses: {
      202: json(EventsAcceptedSchema, "Stored and queued for delivery"),
      400: error("An event is malformed (the field names the attribute)"),
      413: error(`An event over ${MAX_EVENT_BYTES} bytes, or a body over ${MAX_SINK_BODY}`),
      415: error("Not a CloudEvent in any content mode"),
      default: ANY_OTHER_ERROR,
    },
  });
  return r;
}
