/**
 * What the event sink keeps in the node's Deno KV, and under which keys:
 *
 *   ["events", "seen", key]            an accepted event's id+source (expires
 *                                      after the dedup window)
 *   ["events", "event", key]           the event (attributes and data bytes)
 *   ["events", "delivery", id]         one pending delivery of it to one trigger
 *   ["events", "dead", id]             a delivery that ran out of attempts
 *   ["events", "refs", key, id]        deliveries and dead letters still using
 *                                      the event: its record goes with the last
 *
 * `key` is a hash of the event's source and id, so the same event always
 * lands on the same record whatever their lengths. The KV queue carries only
 * small messages naming these records (QueueMessage).
 */
import type { CloudEvent } from "./cloudevents.ts";

export interface StoredEvent extends CloudEvent {
  key: string;
  acceptedAt: string;
}

export interface Delivery {
  /** `<event key>.<trigger id>`: one per event and trigger, so a repeated fan-out adds nothing. */
  id: string;
  event: string;
  trigger: string;
  function: string;
  /** Attempts made so far. */
  attempts: number;
  createdAt: string;
  lastAttemptAt?: string;
  /** The HTTP status of the last attempt (absent: it never got an answer). */
  lastStatus?: number;
  lastError?: string;
}

export interface DeadLetter extends Delivery {
  deadAt: string;
}

export type QueueMessage =
  | { kind: "fanout"; event: string }
  | { kind: "deliver"; delivery: string };

export const K = {
  seen: (key: string) => ["events", "seen", key],
  event: (key: string) => ["events", "event", key],
  delivery: (id: string) => ["events", "delivery", id],
  deliveries: ["events", "delivery"],
  dead: (id: string) => ["events", "dead", id],
  deadLetters: ["events", "dead"],
  ref: (key: string, id: string) => ["events", "refs", key, id],
  refs: (key: string) => ["events", "refs", key],
};

/** The record key of an event: SHA-256 of its source and id (hex, 32 characters). */
export async function eventKey(source: string, id: string): Promise<string> {
  const bytes = new TextEncoder().encode(`${source}\u0000${id}`);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...hash.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes an event takes in KV (attributes as JSON, data as is): a KV value holds 64 KiB. */
export function storedSize(ev: CloudEvent): number {
  return new TextEncoder().encode(JSON.stringify(ev.attributes)).byteLength +
    (ev.data?.byteLength ?? 0);
}

/** Largest event the sink accepts: what fits one KV value with room for the record around it. */
export const MAX_EVENT_BYTES = 60 * 1024;
