/**
 * The event sink's queue in a fleet: accepted events go into the fleet's
 * JetStream work-queue stream (replicated like the buckets) before the sink
 * answers 202, so an event a node accepted is delivered even if that node
 * dies the next moment. Every node pulls from the same two durable consumers
 * (event_records.ts):
 * - fan-out: the triggers matching an accepted event (fleet-wide, in
 *   sure_triggers) each get a delivery message, whose id JetStream dedups,
 *   so a fan-out run twice adds nothing; then the event is acknowledged;
 * - delivery: the event is posted to its function through this node's app
 *   (the gateway forwards it to a node that runs the function). A 2xx
 *   acknowledges it; anything else is a negative acknowledgement with the
 *   same exponential backoff as a single node's; the attempt that makes
 *   `maxAttempts` writes a dead letter into sure_dead_letters and then
 *   acknowledges it (in a work queue only an ack removes a message).
 * Attempts are JetStream's count of deliveries, so a node that dies during
 * one leaves it to another after the ack wait, and that counts as one.
 *
 * Semantics as on a single node: at least once, and an event id + source
 * accepted within the dedup window is not accepted again (the stream's
 * duplicate window, keyed by the event's key).
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log.ts";
import type { Triggers } from "../store/triggers.ts";
import { DEFAULT_DELIVERY, type DeliveryOptions } from "../events/bus.ts";
import type { CloudEvent } from "../events/cloudevents.ts";
import { type Deliver, delivered, postEvent } from "../events/post.ts";
import { eventKey } from "../events/records.ts";
import type { Accepted, DeadLetterView, EventService } from "../events/service.ts";
import { callFleet } from "./call.ts";
import {
  ACCEPTED_SUBJECT,
  type DeadLetterRecord,
  DeadLetterRecordSchema,
  DELIVER_CONSUMER,
  DELIVER_SUBJECT,
  DeliveryId,
  type DeliveryMessage,
  DeliveryMessageSchema,
  EventMessageSchema,
  EVENTS_STREAM,
  FANOUT_CONSUMER,
  fromEventMessage,
  toEventMessage,
} from "./event_records.ts";
import { DELIVERY_ACK_WAIT_MS } from "./link.ts";
import type { FleetMember } from "./member.ts";
import { decode, encode } from "./records.ts";

/** Messages this node works on at once, per consumer. */
const IN_FLIGHT = 8;
/** How long one pull request waits for messages before another is made. */
const PULL_EXPIRES_MS = 5_000;

export interface FleetEventDeps {
  member: FleetMember;
  triggers: Triggers;
  deliver: Deliver;
  logger: Logger;
  options?: Partial<DeliveryOptions>;
}

export class FleetEventBus implements EventService {
  readonly options: DeliveryOptions;
  #deps: FleetEventDeps;
  #listening = false;
  #closing = false;
  #inflight = new Set<Promise<void>>();
  #loops: Promise<void>[] = [];
  #iterators = new Set<ConsumerMessages>();

  constructor(deps: FleetEventDeps) {
    this.#deps = deps;
    this.options = { ...DEFAULT_DELIVERY, ...deps.options };
  }

  /** Each event into the stream; answers once JetStream stored it (replicated). */
  accept(events: CloudEvent[]): Promise<Accepted[]> {
    return callFleet(this.#deps.member, async (link) => {
      const js = link.js;
      const out: Accepted[] = [];
      for (const ev of events) {
        const { id, source } = ev.attributes;
        const key = await eventKey(source, id);
        const msg = toEventMessage(ev, key, new Date().toISOString());
        const ack = await js.publish(ACCEPTED_SUBJECT, encode(msg), { msgID: key, timeout: 5000 });
        out.push({ id, source, duplicate: ack.duplicate });
      }
      return out;
    });
  }

  listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.#loops.push(
      this.#consume(FANOUT_CONSUMER, (m) => this.#fanout(m)),
      this.#consume(DELIVER_CONSUMER, (m) => this.#deliver(m)),
    );
  }

  /** Stops pulling; what this node holds but has not started goes back at once. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const it of this.#iterators) it.stop();
    await Promise.allSettled([...this.#inflight]);
    await Promise.allSettled(this.#loops);
  }

  /** Pulls from one shared consumer for as long as the node runs, making it again if it ends. */
  async #consume(name: string, handle: (m: JsMsg) => Promise<void>): Promise<void> {
    let said = "";
    while (!this.#closing) {
      try {
        const link = await this.#deps.member.link(60_000);
        const consumer = await link.js.consumers.get(EVENTS_STREAM, name);
        // Pulls renewed every 5 s (not the client's 30): after a server dies
        // the pull is made again on another within seconds.
        const it = await consumer.consume({ max_messages: IN_FLIGHT, expires: PULL_EXPIRES_MS });
        this.#iterators.add(it);
        try {
          for await (const m of it) {
            if (this.#closing) {
              m.nak();
              continue;
            }
            while (this.#inflight.size >= IN_FLIGHT) await Promise.race(this.#inflight);
            const p = handle(m).catch((e) =>
              this.#deps.logger("warn", `fleet events: ${(e as Error).message}`, { consumer: name })
            );
            this.#inflight.add(p);
            p.finally(() => this.#inflight.delete(p));
          }
        } finally {
          this.#iterators.delete(it);
        }
      } catch (e) {
        if (this.#closing) break;
        const why = (e as Error).message;
        if (why !== said) {
          this.#deps.logger("warn", `fleet events: ${name}: ${why}; trying again`, {});
        }
        said = why;
      }
      if (!this.#closing) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** One accepted event: a delivery message per matching trigger, then the event is done. */
  async #fanout(m: JsMsg): Promise<void> {
    const ev = decode(EventMessageSchema, m.data);
    if (!ev) return this.#drop(m, "an accepted event");
    try {
      const link = await this.#deps.member.link(5_000);
      const js = link.js;
      const { type, source } = ev.attributes;
      for (const t of await this.#deps.triggers.matching(type, source)) {
        const d: DeliveryMessage = {
          id: `${ev.key}.${t.id}`,
          replay: 0,
          trigger: t.id,
          function: t.function,
          createdAt: new Date().toISOString(),
          event: ev,
        };
        await js.publish(DELIVER_SUBJECT, encode(d), { msgID: d.id, timeout: 5000 });
      }
      await m.ackAck();
    } catch (e) {
      m.nak(this.options.retryBaseMs);
      throw e;
    }
  }

  /** One attempt of one delivery. */
  async #deliver(m: JsMsg): Promise<void> {
    const d = decode(DeliveryMessageSchema, m.data);
    if (!d) return this.#drop(m, "a delivery");
    const attempts = m.info.deliveryCount;
    // Still at it: JetStream must not give it to another node meanwhile.
    const working = setInterval(() => m.working(), DELIVERY_ACK_WAIT_MS / 3);
    let outcome;
    try {
      outcome = await postEvent(this.#deps.deliver, d.id, d.function, fromEventMessage(d.event));
    } finally {
      clearInterval(working);
    }
    if (this.#closing && outcome.lastStatus === undefined) {
      m.nak(); // the node stopped during it: not its fault, another node runs it now
      return;
    }
    if (delivered(outcome)) {
      await m.ackAck();
      return;
    }
    if (attempts < this.options.maxAttempts) {
      m.nak(this.backoff(attempts));
      return;
    }
    const at = new Date().toISOString();
    const dead: DeadLetterRecord = {
      delivery: d,
      attempts,
      lastAttemptAt: at,
      ...outcome,
      deadAt: at,
    };
    try {
      const link = await this.#deps.member.link(5_000);
      await link.deadLetters.put(d.id, encode(dead));
    } catch (e) {
      m.nak(this.options.retryBaseMs); // not kept yet: it comes back, and dies again
      throw e;
    }
    // Acknowledged, not terminated: in a work queue only an ack removes the message.
    await m.ackAck();
    this.#deps.logger("warn", "event delivery dead-lettered", {
      delivery: d.id,
      function: d.function,
      attempts,
      status: outcome.lastStatus,
      error: outcome.lastError,
    });
  }

  /** A message that is not ours to deliver (someone wrote it by hand): said, and removed. */
  async #drop(m: JsMsg, what: string): Promise<void> {
    this.#deps.logger("warn", `fleet events: ${what} does not parse; dropped`, {
      subject: m.subject,
      seq: m.seq,
    });
    await m.ackAck();
  }

  /** The wait before the attempt after `attempts` failed ones (as on a single node). */
  backoff(attempts: number): number {
    const { retryBaseMs, retryMaxMs } = this.options;
    return Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  // ---- dead letters (the admin API), fleet-wide ------------------------------

  deadLetters(): Promise<DeadLetterView[]> {
    return callFleet(this.#deps.member, async (link) => {
      const out: DeadLetterView[] = [];
      for await (const key of await link.deadLetters.keys()) {
        const e = await link.deadLetters.get(key);
        if (!e || e.operation !== "PUT") continue;
        const r = decode(DeadLetterRecordSchema, e.value);
        if (!r || r.delivery.id !== key) {
          this.#deps.logger("warn", "fleet: a dead letter does not parse; ignored", { key });
          continue;
        }
        const { delivery: d, ...rest } = r;
        out.push({
          id: d.id,
          event: d.event.key,
          trigger: d.trigger,
          function: d.function,
          createdAt: d.createdAt,
          ...rest,
          attributes: d.event.attributes,
        });
      }
      return out.sort((a, b) => a.deadAt.localeCompare(b.deadAt));
    });
  }

  replay(id: string): Promise<boolean> {
    if (!DeliveryId.safeParse(id).success) return Promise.resolve(false);
    return callFleet(this.#deps.member, async (link) => {
      const e = await link.deadLetters.get(id);
      const r = e?.operation === "PUT" ? decode(DeadLetterRecordSchema, e.value) : null;
      if (!e || !r) return false;
      const again: DeliveryMessage = { ...r.delivery, replay: r.delivery.replay + 1 };
      await link.js.publish(DELIVER_SUBJECT, encode(again), {
        msgID: `${id}.r${again.replay}`,
        timeout: 5000,
      });
      await link.deadLetters.delete(id, { previousSeq: e.revision });
      return true;
    });
  }

  discard(id: string): Promise<boolean> {
    if (!DeliveryId.safeParse(id).success) return Promise.resolve(false);
    return callFleet(this.#deps.member, async (link) => {
      const e = await link.deadLetters.get(id);
      if (!e || e.operation !== "PUT") return false;
      await link.deadLetters.delete(id, { previousSeq: e.revision });
      return true;
    });
  }
}
