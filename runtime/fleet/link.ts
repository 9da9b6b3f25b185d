/**
 * The node's connection to the fleet: NATS with JetStream, the desired-state
 * and status KV buckets and the image object store (records.ts), the events'
 * stream, consumers and buckets (event_records.ts), made if they do not exist (JetStream replicas: --fleet-replicas, 1 for a single
 * server, 3 for a cluster). The client reconnects on its own for as long as
 * the node runs; while the fleet is out of reach the node keeps serving what
 * it runs (its own Deno KV holds that). A node of a site behind a weak link
 * connects to the site's leaf server and names the hub's JetStream domain.
 */
import { connect } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  jetstream,
  type JetStreamClient,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { DESIRED_BUCKET, IMAGES_STORE, NODES_BUCKET } from "./records.ts";
import {
  ACCEPTED_SUBJECT,
  DEAD_BUCKET,
  DELIVER_CONSUMER,
  DELIVER_SUBJECT,
  EVENTS_STREAM,
  FANOUT_CONSUMER,
  TRIGGERS_BUCKET,
} from "./event_records.ts";

export interface FleetLinkOptions {
  /** nats://host:port[,nats://...] */
  servers: string;
  nodeName: string;
  /** JetStream replicas of the buckets this node makes (the first node makes them). */
  replicas: number;
  /** A node is dead when its heartbeat is older than this (ms); the status bucket's TTL. */
  deadAfterMs: number;
  /** How long the events' stream remembers a message id to drop repeats (ms). */
  eventDedupMs: number;
  /**
   * The JetStream domain that holds the fleet's state, when the node reaches it
   * through a leaf server of its site (which has no JetStream of its own).
   */
  domain?: string;
  /** Told why opening the buckets failed, before each new try. */
  onRetry?: (why: string) => void;
}

export interface FleetLink {
  nc: NatsConnection;
  /** JetStream, in the fleet's domain. */
  js: JetStreamClient;
  desired: KV;
  nodes: KV;
  images: ObjectStore;
  triggers: KV;
  deadLetters: KV;
  close(): Promise<void>;
}

/** Connects (retrying until it can, for as long as `signal` allows) and opens the buckets. */
export async function openFleetLink(
  opts: FleetLinkOptions,
  signal: AbortSignal,
): Promise<FleetLink> {
  const servers = opts.servers.split(",").map((s) => s.trim().replace(/^nats:\/\//, ""));
  let nc: NatsConnection | undefined;
  for (let wait = 200; !nc; wait = Math.min(wait * 2, 5000)) {
    if (signal.aborted) throw new Error("the node stopped before it reached the fleet");
    try {
      nc = await connect({
        servers,
        name: `sure-${opts.nodeName}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        pingInterval: 5000,
        timeout: 5000,
      });
    } catch {
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  // A cluster that is still electing its leaders answers "no responders" or
  // times out for a while: the buckets are tried again until they open.
  const conn = nc;
  const js = jetstream(conn, opts.domain ? { domain: opts.domain } : {});
  for (let wait = 250;; wait = Math.min(wait * 2, 4000)) {
    try {
      const kvm = new Kvm(js);
      const desired = await kvm.create(DESIRED_BUCKET, { history: 5, replicas: opts.replicas });
      const nodes = await kvm.create(NODES_BUCKET, {
        history: 1,
        replicas: opts.replicas,
        ttl: opts.deadAfterMs,
      });
      const images = await new Objm(js).create(IMAGES_STORE, { replicas: opts.replicas });
      const triggers = await kvm.create(TRIGGERS_BUCKET, { history: 1, replicas: opts.replicas });
      const deadLetters = await kvm.create(DEAD_BUCKET, { history: 1, replicas: opts.replicas });
      await openEventStream(js, opts);
      return {
        nc: conn,
        js,
        desired,
        nodes,
        images,
        triggers,
        deadLetters,
        close: () => conn.close(),
      };
    } catch (e) {
      if (signal.aborted) {
        await conn.close();
        throw e;
      }
      opts.onRetry?.((e as Error).message);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** How long a delivery may run before JetStream gives it to another node (it says it is working). */
export const DELIVERY_ACK_WAIT_MS = 10_000;

/**
 * The events' work-queue stream and its two shared durable consumers, made by
 * the first node (a later node finds them and leaves them as they are).
 */
async function openEventStream(js: JetStreamClient, opts: FleetLinkOptions): Promise<void> {
  const jsm = await js.jetstreamManager();
  const nanos = (ms: number) => ms * 1_000_000;
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch {
    await jsm.streams.add({
      name: EVENTS_STREAM,
      subjects: [ACCEPTED_SUBJECT, DELIVER_SUBJECT],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: opts.replicas,
      duplicate_window: nanos(opts.eventDedupMs),
    });
  }
  for (
    const [name, subject] of [[FANOUT_CONSUMER, ACCEPTED_SUBJECT], [
      DELIVER_CONSUMER,
      DELIVER_SUBJECT,
    ]]
  ) {
    try {
      await jsm.consumers.info(EVENTS_STREAM, name);
    } catch {
      await jsm.consumers.add(EVENTS_STREAM, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(DELIVERY_ACK_WAIT_MS),
        // Attempts are counted by the node (it dead-letters), so JetStream never gives up.
        max_deliver: -1,
        num_replicas: opts.replicas,
      });
    }
  }
}
