/**
 * What the app needs from an event queue, whichever keeps it: the node's own
 * Deno KV (bus.ts, a single node) or the fleet's JetStream stream
 * (fleet/events.ts, where an event outlives the node that accepted it).
 */
import type { CloudEvent } from "./cloudevents.ts";
import type { DeadLetter } from "./records.ts";

export interface Accepted {
  id: string;
  source: string;
  /** True when the sink had accepted this id+source before: it is not delivered again. */
  duplicate: boolean;
}

/** A dead letter as the admin API lists it: the delivery, and its event's attributes. */
export type DeadLetterView = DeadLetter & { attributes: Record<string, string> };

export interface EventService {
  /** Stores each event and queues its fan-out, all or nothing per event. */
  accept(events: CloudEvent[]): Promise<Accepted[]>;
  /** Starts delivering (once; the node calls it when its functions are up). */
  listen(): void;
  /** Stops delivering; the deliveries already running finish first. */
  close(): Promise<void>;
  /** Deliveries that failed every attempt, oldest first. */
  deadLetters(): Promise<DeadLetterView[]>;
  /** Puts a dead letter back with a fresh count of attempts; false if none. */
  replay(id: string): Promise<boolean>;
  /** Deletes a dead letter; false if none. */
  discard(id: string): Promise<boolean>;
}
