/**
 * What the fleet keeps for events, in JetStream:
 *
 *   stream SURE_EVENTS (work queue: a message goes once it is acknowledged)
 *     sure.events.accepted   EventMessage: an event the sink accepted, to be
 *                            fanned out (consumer sure-fanout); its message
 *                            id is the event's key, so JetStream drops a
 *                            repeat within the dedup window
 *     sure.events.deliver    DeliveryMessage: one event for one trigger
 *                            (consumer sure-deliver); id <key>.<trigger>,
 *                            .r<n> added for the n-th replay
 *   bucket sure_triggers     <id>   Trigger
 *   bucket sure_dead_letters <delivery id>   DeadLetterRecord
 *
 * Both consumers are durable and shared by every node (each message goes to
 * one of them), so an accepted event is delivered whichever node accepted
 * it and whichever nodes live. Every value read back is checked; one that
 * does not parse is logged and dropped, never delivered.
 */
import { z } from "@hono/zod-openapi";
import { FunctionName } from "../names.ts";
import type { CloudEvent } from "../events/cloudevents.ts";

export const EVENTS_STREAM = "SURE_EVENTS";
export const ACCEPTED_SUBJECT = "sure.events.accepted";
export const DELIVER_SUBJECT = "sure.events.deliver";
export const FANOUT_CONSUMER = "sure-fanout";
export const DELIVER_CONSUMER = "sure-deliver";
export const TRIGGERS_BUCKET = "sure_triggers";
export const DEAD_BUCKET = "sure_dead_letters";

export const TriggerRecordSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  type: z.string().min(1),
  sourcePrefix: z.string().min(1).optional(),
  function: FunctionName,
  createdAt: z.string(),
});

export const EventMessageSchema = z.strictObject({
  key: z.string().regex(/^[0-9a-f]{32}$/),
  acceptedAt: z.string(),
  /** Context attributes (names as the spec allows them: the sink checked them). */
  attributes: z.record(z.string().regex(/^[a-z0-9]{1,64}$/), z.string()),
  /** The data bytes, base64. */
  data: z.string().optional(),
});
export type EventMessage = z.infer<typeof EventMessageSchema>;

export const DeliveryId = z.string().regex(/^[0-9a-f]{32}\.[A-Za-z0-9-]{1,64}$/);

export const DeliveryMessageSchema = z.strictObject({
  /** <event key>.<trigger id>: its message id, with .r<n> added for the n-th replay. */
  id: DeliveryId,
  /** 0, or how many times it was replayed from the dead letters. */
  replay: z.number().int().min(0),
  trigger: z.string(),
  function: FunctionName,
  createdAt: z.string(),
  event: EventMessageSchema,
});
export type DeliveryMessage = z.infer<typeof DeliveryMessageSchema>;

export const DeadLetterRecordSchema = z.strictObject({
  delivery: DeliveryMessageSchema,
  attempts: z.number().int().min(1),
  lastAttemptAt: z.string(),
  lastStatus: z.number().int().optional(),
  lastError: z.string().optional(),
  deadAt: z.string(),
});
export type DeadLetterRecord = z.infer<typeof DeadLetterRecordSchema>;

export function toEventMessage(ev: CloudEvent, key: string, acceptedAt: string): EventMessage {
  return {
    key,
    acceptedAt,
    attributes: ev.attributes,
    ...(ev.data ? { data: base64(ev.data) } : {}),
  };
}

export function fromEventMessage(m: EventMessage): CloudEvent & { key: string } {
  return {
    key: m.key,
    attributes: m.attributes,
    ...(m.data !== undefined ? { data: unbase64(m.data) } : {}),
  };
}

function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unbase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}
