/**
 * The node's connection to the fleet: NATS with JetStream, the desired-state
 * and status KV buckets and the image object store (records.ts), made if
 * they do not exist (JetStream replicas: --fleet-replicas, 1 for a single
 * server, 3 for a cluster). The client reconnects on its own for as long as
 * the node runs; while the fleet is out of reach the node keeps serving what
 * it runs (its own Deno KV holds that).
 */
import { connect } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { DESIRED_BUCKET, IMAGES_STORE, NODES_BUCKET } from "./records.ts";

export interface FleetLinkOptions {
  /** nats://host:port[,nats://...] */
  servers: string;
  nodeName: string;
  /** JetStream replicas of the buckets this node makes (the first node makes them). */
  replicas: number;
  /** A node is dead when its heartbeat is older than this (ms); the status bucket's TTL. */
  deadAfterMs: number;
  /** Told why opening the buckets failed, before each new try. */
  onRetry?: (why: string) => void;
}

export interface FleetLink {
  nc: NatsConnection;
  desired: KV;
  nodes: KV;
  images: ObjectStore;
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
  for (let wait = 250;; wait = Math.min(wait * 2, 4000)) {
    try {
      const kvm = new Kvm(conn);
      const desired = await kvm.create(DESIRED_BUCKET, { history: 5, replicas: opts.replicas });
      const nodes = await kvm.create(NODES_BUCKET, {
        history: 1,
        replicas: opts.replicas,
        ttl: opts.deadAfterMs,
      });
      const images = await new Objm(conn).create(IMAGES_STORE, { replicas: opts.replicas });
      return { nc: conn, desired, nodes, images, close: () => conn.close() };
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
