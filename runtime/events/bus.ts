/**
 * The event sink's durable half: accepted events go into Deno KV and onto
 * its queue in one atomic write, so an event the sink answered 202 for is
 * delivered even if the node stops right after (the queue is in the same
 * SQLite file and picks up where it was when the node opens it again).
 *
 * Two kinds of queue messages (records.ts): a fan-out finds the triggers
 * matching a new event and makes one delivery per trigger; a delivery posts
 * the event in binary mode to /invoke/<function> through `deliver` (the
 * node's own app, in-process). A 2xx answer is success. Anything else (any
 * other status, a thrown error) is another attempt after an exponential
 * backoff (the queue's `delay`), and after `maxAttempts` the delivery is a
 * dead letter, kept until it is replayed or deleted through the admin API.
 *
 * Semantics: at least once. A delivery that was running when the node
 * stopped (or whose outcome could not be recorded) runs again. An event id
 * + source the sink accepted within the dedup window is not accepted again.
 */
import type { Logger } from "../log.ts";
import type { Trigger } from "../store/triggers.ts";
import type { CloudEvent } from "./cloudevents.ts";
import { type Deliver, delivered, postEvent } from "./post.ts";
import type { Accepted, DeadLetterView, EventService } from "./service.ts";
import {
  type DeadLetter,
  type Delivery,
  eventKey,
  K,
  type QueueMessage,
  type StoredEvent,
} from "./records.ts";

export interface DeliveryOptions {
  /** Attempts per delivery before it is a dead letter (default 8). */
  maxAttempts: number;
  /** Wait before the second attempt; it doubles each time (default 1000 ms). */
  retryBaseMs: number;
  /** Longest wait between attempts (default 5 minutes). */
  retryMaxMs: number;
  /** How long an accepted id+source is remembered to drop repeats (default 24 h). */
  dedupWindowMs: number;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  maxAttempts: 8,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  dedupWindowMs: 24 * 3600_000,
};

export interface EventBusDeps {
  kv: Deno.Kv;
  /** The triggers an event of this type and source goes to. */
  triggers: (type: string, source: string) => Promise<Trigger[]>;
  deliver: Deliver;
  logger: Logger;
  options?: Partial<DeliveryOptions>;
}

export class EventBus implements EventService {
  readonly options: DeliveryOptions;
  #kv: Deno.Kv;
  #deps: EventBusDeps;
  #listening: Promise<void> | undefined;
  #closing = false;
  #inflight = new Set<Promise<void>>();

  constructor(deps: EventBusDeps) {
    this.#deps = deps;
    this.#kv = deps.kv;
    this.options = { ...DEFAULT_DELIVERY, ...deps.options };
  }

  /** Stores each event and queues its fan-out, all or nothing per event. */
  async accept(events: CloudEvent[]): Promise<Accepted[]> {
    const out: Accepted[] = [];
    for (const ev of events) {
      const { id, source } = ev.attributes;
      const key = await eventKey(source, id);
      const stored: StoredEvent = {
        attributes: ev.attributes,
        // A copy: a view stores its whole buffer in KV (the body reader's may be larger).
        ...(ev.data ? { data: ev.data.slice() } : {}),
        key,
        acceptedAt: new Date().toISOString(),
      };
      const msg: QueueMessage = { kind: "fanout", event: key };
      const r = await this.#kv.atomic()
        .check({ key: K.seen(key), versionstamp: null })
        .set(K.seen(key), stored.acceptedAt, { expireIn: this.options.dedupWindowMs })
        .set(K.event(key), stored)
        .enqueue(msg)
        .commit();
      out.push({ id, source, duplicate: !r.ok });
    }
    return out;
  }

  /** Starts taking messages off the queue (once; the node calls it when its functions are up). */
  listen(): void {
    this.#listening ??= this.#kv.listenQueue((m: unknown) => this.#track(m as QueueMessage));
  }

  /**
   * Stops: messages that arrive from now on go back on the queue (they run
   * after the next start) and the deliveries already running finish first.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.allSettled([...this.#inflight]);
  }

  #track(m: QueueMessage): Promise<void> {
    // Stopping: put it back for later (a second from now, or after the next start). A failed
    // handler would also get it back, but KV gives up on a message after a few failures.
    if (this.#closing) return this.#kv.enqueue(m, { delay: 1000 }).then(() => {});
    const p = m.kind === "fanout" ? this.#fanout(m.event) : this.#attempt(m.delivery);
    this.#inflight.add(p);
    return p.finally(() => this.#inflight.delete(p));
  }

  async #fanout(key: string): Promise<void> {
    const ev = (await this.#kv.get<StoredEvent>(K.event(key))).value;
    if (!ev) return;
    const triggers = await this.#deps.triggers(ev.attributes.type, ev.attributes.source);
    for (const t of triggers) {
      const d: Delivery = {
        id: `${key}.${t.id}`,
        event: key,
        trigger: t.id,
        function: t.function,
        attempts: 0,
        createdAt: new Date().toISOString(),
      };
      // Already there (a fan-out run again after a crash): nothing to add.
      await this.#kv.atomic()
        .check({ key: K.delivery(d.id), versionstamp: null })
        .check({ key: K.dead(d.id), versionstamp: null })
        .set(K.delivery(d.id), d)
        .set(K.ref(key, d.id), true)
        .enqueue({ kind: "deliver", delivery: d.id } satisfies QueueMessage)
        .commit();
    }
    if (triggers.length === 0) await this.#collect(key);
  }

  async #attempt(id: string): Promise<void> {
    const entry = await this.#kv.get<Delivery>(K.delivery(id));
    const d = entry.value;
    if (!d) return; // done already (a repeated message), or the dead letter was deleted
    const ev = (await this.#kv.get<StoredEvent>(K.event(d.event))).value;
    if (!ev) {
      await this.#kv.atomic().check(entry).delete(K.delivery(id)).delete(K.ref(d.event, id))
        .commit();
      return;
    }
    const outcome = await postEvent(this.#deps.deliver, d.id, d.function, ev);
    const status = outcome.lastStatus;
    if (this.#closing && status === undefined) {
      throw new Error("the node stopped during the delivery"); // not its fault: run it again
    }
    if (delivered(outcome)) {
      await this.#kv.atomic().check(entry).delete(K.delivery(id)).delete(K.ref(d.event, id))
        .commit();
      await this.#collect(d.event);
      return;
    }
    const { lastStatus: _s, lastError: _e, ...rest } = d;
    const next: Delivery = {
      ...rest,
      attempts: d.attempts + 1,
      lastAttemptAt: new Date().toISOString(),
      ...outcome,
    };
    const op = this.#kv.atomic().check(entry);
    if (next.attempts >= this.options.maxAttempts) {
      const dead: DeadLetter = { ...next, deadAt: next.lastAttemptAt! };
      op.delete(K.delivery(id)).set(K.dead(id), dead);
      this.#deps.logger("warn", "event delivery dead-lettered", {
        delivery: id,
        function: d.function,
        attempts: next.attempts,
        status: next.lastStatus,
        error: next.lastError,
      });
    } else {
      op.set(K.delivery(id), next).enqueue(
        { kind: "deliver", delivery: id } satisfies QueueMessage,
        {
          delay: this.backoff(next.attempts),
        },
      );
    }
    const r = await op.commit();
    if (!r.ok) throw new Error(`delivery ${id} changed while it ran`);
  }

  /** The wait before the attempt after `attempts` failed ones. */
  backoff(attempts: number): number {
    const { retryBaseMs, retryMaxMs } = this.options;
    return Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  /** Drops the event's record once no delivery or dead letter uses it. */
  async #collect(key: string): Promise<void> {
    for await (const _ of this.#kv.list({ prefix: K.refs(key) }, { limit: 1 })) return;
    await this.#kv.delete(K.event(key));
  }

  // ---- dead letters (the admin API) ----------------------------------------

  async deadLetters(): Promise<DeadLetterView[]> {
    const out = [];
    for await (const e of this.#kv.list<DeadLetter>({ prefix: K.deadLetters })) {
      const ev = (await this.#kv.get<StoredEvent>(K.event(e.value.event))).value;
      out.push({ ...e.value, attributes: ev?.attributes ?? {} });
    }
    return out.sort((a, b) => a.deadAt.localeCompare(b.deadAt));
  }

  /** Puts a dead letter back on the queue with a fresh count of attempts; false if none. */
  async replay(id: string): Promise<boolean> {
    const entry = await this.#kv.get<DeadLetter>(K.dead(id));
    if (!entry.value) return false;
    const { deadAt: _, ...d } = entry.value;
    const again: Delivery = { ...d, attempts: 0 };
    const r = await this.#kv.atomic().check(entry).delete(K.dead(id)).set(K.delivery(id), again)
      .enqueue({ kind: "deliver", delivery: id } satisfies QueueMessage).commit();
    return r.ok;
  }

  /** Deletes a dead letter (and its event, if nothing else uses it); false if none. */
  async discard(id: string): Promise<boolean> {
    const entry = await this.#kv.get<DeadLetter>(K.dead(id));
    if (!entry.value) return false;
    const r = await this.#kv.atomic().check(entry).delete(K.dead(id))
      .delete(K.ref(entry.value.event, id)).commit();
    if (r.ok) await this.#collect(entry.value.event);
    return r.ok;
  }

  /** Deliveries waiting for an attempt (for tests and the admin view). */
  async pending(): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for await (const e of this.#kv.list<Delivery>({ prefix: K.deliveries })) out.push(e.value);
    return out;
  }
}
