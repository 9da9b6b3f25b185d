/**
 * Invoke anywhere: how a member sends a request for a function that other
 * nodes of the fleet run and it does not. The data plane does it itself from
 * C where it can (forward_table.ts, published from here on every change);
 * what reaches the Hono app goes straight to a node that runs it
 * (forward_direct.ts; a private function's signed, with the hop key), or else
 * over NATS (forward.ts). What the fleet wants and who is alive come from the
 * member (member.ts), which follows the buckets.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { FleetUnavailableError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { readLimited } from "../gateway/body.ts";
import { FORWARDED_BY, hasBody } from "../gateway/send_on.ts";
import { forwardInvoke } from "./forward.ts";
import { DirectForwarder, type DirectTarget } from "./forward_direct.ts";
import { type ForwardSink, ForwardTable, type ForwardView } from "./forward_table.ts";
import type { FunctionRecord, NodeStatus } from "./records.ts";

/** What forwarding reads of the member, as it is now. */
export interface FleetView {
  /** The fleet's function records, by name. */
  desired: ReadonlyMap<string, { record: FunctionRecord }>;
  /** The timeout of a chain of the fleet, if `name` is one. */
  chainTimeout(name: string): number | undefined;
  /** This node answers `name` itself. */
  runsHere(name: string): boolean;
  /** The last status of every other node alive now. */
  liveStatuses(): NodeStatus[];
  /** The link to NATS, when it is up. */
  nats(): NatsConnection | undefined;
  logger: Logger;
}

/** How long a forwarded exchange may take: the function's own timeout, a start there, the way back. */
const SLACK_MS = 3_000;

export class FleetForwarding {
  /** Requests sent straight to the data plane of a node that runs the function. */
  #direct: DirectForwarder;
  /** What the data plane forwards itself, without the Hono app (share()). */
  #table?: ForwardTable;

  constructor(readonly self: string, readonly view: FleetView, readonly hopKey?: Uint8Array) {
    this.#direct = new DirectForwarder(self, hopKey);
  }

  /** The data plane forwards what it can itself: published now, then on every change. */
  share(sink: ForwardSink): void {
    this.#table = new ForwardTable(sink, (...a) => this.view.logger(...a));
    this.publish();
  }

  /** What the data plane forwards changed (a record, a heartbeat, what runs here). */
  publish(): void {
    if (!this.#table) return;
    const out: ForwardView = new Map();
    for (const [name, { record }] of this.view.desired) {
      if (this.view.runsHere(name)) continue;
      const fn = record.settings;
      out.set(name, {
        timeoutMs: fn.timeout + SLACK_MS,
        targets: this.#targets(name),
        isPrivate: fn.access === "private",
      });
    }
    this.#table.publish(out);
  }

  /** A node's heartbeat expired: what was sent to it fails now if its port is gone too. */
  suspect(node: string): void {
    void this.#direct.suspect(node);
  }

  /**
   * Sends an invocation to a node that runs `name`: a function straight to
   * the data plane of a live node that runs it (a private one signed, which
   * needs the hop key), anything else, or when none of those can be dialled,
   * over NATS.
   */
  async forward(name: string, req: Request, requestId: string): Promise<Response> {
    const fn = this.view.desired.get(name)?.record.settings;
    const bound = (fn?.timeout ?? this.view.chainTimeout(name) ?? 5_000) + SLACK_MS;
    const isPrivate = fn?.access === "private";
    if (fn && (!isPrivate || this.hopKey) && !req.headers.has(FORWARDED_BY)) {
      const targets = this.#targets(name);
      if (targets.length > 0) {
        const body = hasBody(req) ? await readLimited(req, fn.maxBody) : undefined;
        const res = await this.#direct.send(name, req, body, requestId, targets, bound, isPrivate);
        if (res) return res;
        // None took the connection: NATS picks among the nodes that answer it.
        req = new Request(req, { body });
      }
    }
    const nc = this.view.nats();
    if (!nc) {
      throw new FleetUnavailableError(`${name} runs on other nodes, which are out of reach now`);
    }
    // A private function's caller sent this node's token, checked here: it stays here.
    return await forwardInvoke(nc, name, req, bound, isPrivate ? ["authorization"] : []);
  }

  close(): void {
    this.#direct.close();
  }

  /** The live nodes that say they run `name`, where their public ports answer. */
  #targets(name: string): DirectTarget[] {
    const out: DirectTarget[] = [];
    for (const status of this.view.liveStatuses()) {
      if (!status.functions.some((f) => f.name === name)) continue;
      const addr = dialable(status.url);
      if (addr) out.push({ node: status.name, addr });
    }
    return out;
  }
}

/**
 * "a.b.c.d:port" where a node's public port answers, as its heartbeat says, or
 * null: hops dial numeric IPv4, and a node listening on every address names none.
 */
export function dialable(url: string): string | null {
  try {
    const u = new URL(url);
    const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(u.hostname) && u.hostname !== "0.0.0.0";
    return u.protocol === "http:" && u.port && ipv4 ? `${u.hostname}:${u.port}` : null;
  } catch {
    return null; // not an address
  }
}
