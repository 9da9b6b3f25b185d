/**
 * This node as a member of a fleet: it follows the desired state in
 * JetStream (every function record, and which nodes are alive) and converges
 * its own deployments to it through the same Deployer the admin API uses
 * without a fleet, so every local check still applies. It beats in the status
 * bucket with what it runs and what it could not apply.
 *
 * Its own Deno KV stays the node's state: a node cut off from the fleet keeps
 * serving what it last converged to, and catches up when the link returns
 * (the watch resumes; a restart re-reads every record). Which fleet revision
 * each local function came from is kept there too, so a restart does not
 * redeploy what did not change.
 */
import type { KvWatchEntry } from "@nats-io/kv";
import type { Deployer } from "../deployer.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { VERSION } from "../version.ts";
import { type FleetLink, openFleetLink } from "./link.ts";
import { type LiveNode, placedHere, placedOn } from "./placement.ts";
import {
  CHAIN_PREFIX,
  decode,
  encode,
  FUNCTION_PREFIX,
  type FunctionRecord,
  FunctionRecordSchema,
  type LabelSet,
  type NodeStatus,
  NodeStatusSchema,
} from "./records.ts";
import { openSecrets } from "./seal.ts";
import { ChainFollower } from "./chain_follower.ts";
import type { ChainManager } from "../chains/manager.ts";
import { serveForwarded } from "./forward.ts";
import type { ForwardSink } from "./forward_table.ts";
import { dialable, FleetForwarding } from "./forwarding.ts";

export interface FleetOptions {
  servers: string;
  nodeName: string;
  labels: LabelSet;
  /** The fleet key (seal.ts); without it, functions with secrets cannot be applied here. */
  key?: CryptoKey;
  /** JetStream replicas of the buckets (default 1). */
  replicas?: number;
  /** The hub's JetStream domain, for a node on a site's leaf server (link.ts). */
  domain?: string;
  /** Heartbeat period (ms, default 2000); a node is dead after 3 missed beats. */
  heartbeatMs?: number;
  /** How long the events' stream drops a repeated event id+source (ms, default 24 h). */
  eventDedupMs?: number;
  /**
   * The key the nodes share for hops (hop_key.ts): with it, a private
   * function's invoke goes straight to a node that runs it, signed
   * (forward_sign.ts), instead of over NATS.
   */
  hopKey?: Uint8Array;
}

interface Seen {
  status: NodeStatus;
  /** When the fleet's server stored the heartbeat (its clock, not the node's). */
  at: number;
}

/** The version of a record this node applied: its revision in the desired bucket. */
const APPLIED = (name: string) => ["fleet", "applied", name];

export class FleetMember {
  readonly name: string;
  readonly labels: LabelSet;
  readonly key?: CryptoKey;
  readonly heartbeatMs: number;
  #opts: FleetOptions;
  #link?: FleetLink;
  #linked: Promise<FleetLink>;
  #resolveLink!: (l: FleetLink) => void;
  #stop = new AbortController();
  /** The desired records by function name, with their revisions. */
  readonly desired = new Map<string, { record: FunctionRecord; revision: number }>();
  #seen = new Map<string, Seen>();
  #live = "";
  #initialized = false;
  #online = false;
  /** The current watches, and when each last delivered (or was made). */
  #watches: { desired?: { stop(): void }; nodes?: { stop(): void } } = {};
  #heard = { desired: 0, nodes: 0 };
  /** The highest desired-bucket revision the watch delivered. */
  #seenRevision = 0;
  /** Why a function could not be applied here (name -> reason). */
  readonly failing = new Map<string, string>();
  #queue: Promise<void> = Promise.resolve();
  #url = "";
  #startedAt = new Date().toISOString();
  #deployer?: Deployer;
  /** The functions this node answers forwarded requests for. */
  #serving = new Map<string, { stop(): void }>();
  #runHere?: (req: Request) => Promise<Response>;
  #store?: Store;
  #logger: Logger = () => {};
  /** The fleet's chains on this node (start() makes it). */
  #chains?: ChainFollower;
  /** Invoke anywhere: requests for what other nodes run (forwarding.ts). */
  #forwarding: FleetForwarding;
  /** The chain manager's peers, filled from heartbeats (sharePeers). */
  #peers?: { table: Record<string, string>; fixed: Set<string> };

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    this.name = opts.nodeName;
    this.labels = opts.labels;
    this.key = opts.key;
    this.heartbeatMs = opts.heartbeatMs ?? 2000;
    this.#forwarding = new FleetForwarding(opts.nodeName, {
      desired: this.desired,
      chainTimeout: (name) => this.#chains?.desired.get(name)?.record.spec.timeout,
      runsHere: (name) => this.#serving.has(name),
      liveStatuses: () => this.#liveStatuses(),
      nats: () => this.connected ? this.#link!.nc : undefined,
      // The logger start() sets, not the one there is now.
      logger: (...a) => this.#logger(...a),
    }, opts.hopKey);
    this.#linked = new Promise((r) => this.#resolveLink = r);
  }

  /** The link, once the fleet was reached (admin writes wait for it, bounded by the caller). */
  link(timeoutMs: number): Promise<FleetLink> {
    if (this.#link) return Promise.resolve(this.#link);
    return Promise.race([
      this.#linked,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("this node has not joined it yet")), timeoutMs)
      ),
    ]);
  }

  /** The link is up now (false while the client reconnects). */
  get connected(): boolean {
    return this.#link !== undefined && this.#online && !this.#link.nc.isClosed();
  }

  /** Starts following the fleet (in the background: the node serves meanwhile). */
  start(
    store: Store,
    deployer: Deployer,
    logger: Logger,
    url: string,
    /** Runs a forwarded request on this node (the app, as its own request). */
    run: (req: Request) => Promise<Response>,
    chains?: ChainManager,
  ): void {
    this.#runHere = run;
    if (chains) {
      this.#chains = new ChainFollower({
        self: this.name,
        store,
        chains,
        logger,
        serving: (name, runs) => this.#serve(name, runs),
      });
    }
    this.#store = store;
    this.#deployer = deployer;
    this.#logger = logger;
    this.#url = url;
    this.#run().catch((e) => {
      if (!this.#stop.signal.aborted) {
        logger("error", `fleet: ${(e as Error).message}`, { fleet: this.#opts.servers });
      }
    });
  }

  async #run(): Promise<void> {
    const deadAfterMs = this.heartbeatMs * 3;
    let said = "";
    const link = await openFleetLink({
      servers: this.#opts.servers,
      nodeName: this.name,
      replicas: this.#opts.replicas ?? 1,
      ...(this.#opts.domain ? { domain: this.#opts.domain } : {}),
      deadAfterMs,
      eventDedupMs: this.#opts.eventDedupMs ?? 24 * 3600_000,
      onRetry: (why) => {
        if (why !== said) {
          this.#logger("warn", `fleet: opening its buckets: ${why}; trying again`, {});
        }
        said = why;
      },
    }, this.#stop.signal);
    if (this.#stop.signal.aborted) {
      await link.close();
      return;
    }
    this.#link = link;
    this.#online = true;
    (async () => {
      for await (const s of link.nc.status()) {
        if (s.type === "disconnect") this.#online = false;
        else if (s.type === "reconnect") this.#online = true;
        if (s.type === "disconnect" || s.type === "reconnect") {
          this.#logger(s.type === "disconnect" ? "warn" : "info", `fleet: ${s.type}ed`, {
            fleet: this.#opts.servers,
          });
        }
      }
    })().catch(() => {});
    this.#resolveLink(link);
    this.#logger("info", "joined the fleet", {
      fleet: this.#opts.servers,
      node: this.name,
      labels: this.labels,
    });
    await this.#beat().catch(() => {/* out of reach: the next beat tries again */});
    let beat = 0;
    const beats = setInterval(() => {
      this.#beat().catch(() => {/* out of reach: the next beat tries again */});
      this.#checkLive();
      this.#checkWatches(link).catch(() => {/* out of reach: checked again next beat */});
      // What could not be applied is tried again every fifth beat (an image
      // that did not come, a cluster electing leaders); what still fails says
      // so once.
      if (++beat % 5 === 0) {
        for (const name of this.failing.keys()) this.#enqueue(() => this.#reconcile(name));
        for (const name of this.#chains?.failing.keys() ?? []) {
          this.#enqueue(() => this.#chains!.reconcile(name));
        }
      }
    }, this.heartbeatMs);
    this.#stop.signal.addEventListener("abort", () => clearInterval(beats));
    this.#follow(link, "nodes", (e) => this.#onNode(e));
    // The desired state: every last value, then changes. Initialised once the
    // last value present at the start was seen (or at once, when there is none).
    this.#follow(link, "desired", (e) => this.#onRecord(e));
  }

  /**
   * Runs a watch for as long as the node runs. The client resumes a watch
   * across reconnects; one that fails (a cluster electing leaders, a server
   * gone with its consumer) is made again, from a fresh snapshot: the desired
   * state is read whole again before anything is reconciled, so a record
   * removed meanwhile is not kept.
   */
  #follow(link: FleetLink, which: "desired" | "nodes", on: (e: KvWatchEntry) => void): void {
    (async () => {
      let said = "";
      while (!this.#stop.signal.aborted) {
        try {
          const kv = which === "desired" ? link.desired : link.nodes;
          if (which === "desired") {
            this.#initialized = false;
            this.desired.clear();
            this.#chains?.desired.clear();
            if ((await kv.status()).values === 0) this.#initialize();
          } else {
            this.#seen.clear();
          }
          // Every key of the desired bucket: functions (fn.) and chains (chain.).
          const w = await kv.watch({});
          this.#watches[which] = w;
          this.#heard[which] = Date.now();
          const stop = () => w.stop();
          this.#stop.signal.addEventListener("abort", stop);
          if (said) this.#logger("info", `fleet: watching ${which} again`, {});
          said = "";
          try {
            for await (const e of w) on(e);
          } finally {
            this.#stop.signal.removeEventListener("abort", stop);
          }
        } catch (e) {
          const why = (e as Error).message;
          if (!this.#stop.signal.aborted && why !== said) {
            this.#logger("warn", `fleet: watching ${which}: ${why}; trying again`, {});
          }
          said = why;
        }
        if (!this.#stop.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
      }
    })();
  }

  /**
   * A watch whose consumer went with a server can stay silent without an
   * error. Each beat checks: the nodes watch must hear this node's own
   * heartbeats, the desired watch must have seen the bucket's last revision;
   * one that stays behind for three beats is made again.
   */
  async #checkWatches(link: FleetLink): Promise<void> {
    if (!this.connected) return;
    const late = this.heartbeatMs * 3;
    const now = Date.now();
    if (now - this.#heard.nodes > late) {
      this.#heard.nodes = now;
      this.#watches.nodes?.stop();
    }
    const last = (await link.desired.status()).streamInfo.state.last_seq;
    if (last <= this.#seenRevision) this.#heard.desired = Date.now();
    else if (Date.now() - this.#heard.desired > late) {
      this.#heard.desired = Date.now();
      this.#watches.desired?.stop();
    }
  }

  #onRecord(e: KvWatchEntry): void {
    this.#seenRevision = Math.max(this.#seenRevision, e.revision);
    let reconcile: (() => Promise<void>) | undefined;
    if (e.key.startsWith(CHAIN_PREFIX)) {
      const chains = this.#chains;
      const name = chains?.onEntry(e);
      if (chains && name !== undefined) reconcile = () => chains.reconcile(name);
    } else if (e.key.startsWith(FUNCTION_PREFIX)) {
      const name = this.#onFunction(e);
      reconcile = () => this.#reconcile(name);
    }
    // delta: how many more the watch has queued now; the last value present at the start has 0.
    if (!this.#initialized && (e.delta ?? 0) === 0) this.#initialize();
    else if (this.#initialized && reconcile) this.#enqueue(reconcile);
  }

  /** A function record from the watch: kept, dropped, or (not parsing) ignored. */
  #onFunction(e: KvWatchEntry): string {
    const name = e.key.slice(FUNCTION_PREFIX.length);
    if (e.operation === "PUT") {
      const record = decode(FunctionRecordSchema, e.value);
      if (!record || record.name !== name) {
        this.#logger("warn", `fleet: ignoring a desired record that does not parse`, {
          key: e.key,
          revision: e.revision,
        });
      } else {
        this.desired.set(name, { record, revision: e.revision });
      }
    } else {
      this.desired.delete(name);
    }
    this.#forwarding.publish();
    return name;
  }

  #initialize(): void {
    this.#initialized = true;
    this.#enqueue(() => this.#reconcileAll());
  }

  #onNode(e: KvWatchEntry): void {
    this.#heard.nodes = Date.now();
    if (e.operation !== "PUT") {
      this.#seen.delete(e.key);
    } else {
      const status = decode(NodeStatusSchema, e.value);
      if (status && status.name === e.key) {
        this.#seen.set(e.key, { status, at: e.created.getTime() });
        this.#learnPeer(status);
      }
    }
    this.#checkLive();
  }

  /**
   * Chain steps on other nodes reach them at the address they listen on, as
   * their heartbeats say; a peer given with --peer is kept as given.
   */
  sharePeers(peers: Record<string, string>): void {
    this.#peers = { table: peers, fixed: new Set(Object.keys(peers)) };
  }

  /**
   * The data plane forwards invokes of functions other nodes run itself
   * (forward_table.ts): published now, then on every change.
   */
  shareForwards(sink: ForwardSink): void {
    this.#forwarding.share(sink);
  }

  #learnPeer(status: NodeStatus): void {
    const p = this.#peers;
    if (!p || status.name === this.name || p.fixed.has(status.name)) return;
    const addr = dialable(status.url);
    if (addr) p.table[status.name] = addr;
  }

  /** The other nodes whose heartbeat is recent, by the server's clock. */
  liveNodes(): LiveNode[] {
    const newest = Math.max(0, ...[...this.#seen.values()].map((s) => s.at));
    const horizon = Math.max(newest, Date.now()) - this.heartbeatMs * 3;
    return [...this.#seen.values()]
      .filter((s) => s.at >= horizon && s.status.name !== this.name)
      .map((s) => ({ name: s.status.name, labels: s.status.labels }));
  }

  /** The last status of every other node alive now. */
  #liveStatuses(): NodeStatus[] {
    const live = new Set(this.liveNodes().map((n) => n.name));
    return [...this.#seen.values()].map((s) => s.status).filter((s) => live.has(s.name));
  }

  /** Every node's last status and whether it is alive (for /admin/fleet/nodes). */
  nodeStatuses(): Array<NodeStatus & { alive: boolean; self: boolean }> {
    const live = new Set(this.liveNodes().map((n) => n.name));
    return [...this.#seen.values()].map((s) => ({
      ...s.status,
      alive: s.status.name === this.name || live.has(s.status.name),
      self: s.status.name === this.name,
    })).sort((a, b) => a.name < b.name ? -1 : 1);
  }

  /** Where each desired function should run now, by this node's view. */
  placements(): Array<{ record: FunctionRecord; nodes: string[] }> {
    const nodes = [{ name: this.name, labels: this.labels }, ...this.liveNodes()];
    return [...this.desired.values()].map(({ record }) => ({
      record,
      nodes: placedOn(record.name, record.placement, nodes),
    })).sort((a, b) => a.record.name < b.record.name ? -1 : 1);
  }

  /** Membership changed: placements may have moved. */
  #checkLive(): void {
    const alive = this.liveNodes();
    // A node whose heartbeat expired may be dead: what was sent to it fails now
    // if its port is gone too. (One that left deleted its heartbeat and drains
    // what it has.)
    const names = new Set(alive.map((n) => n.name));
    for (const node of this.#seen.keys()) {
      if (node !== this.name && !names.has(node)) this.#forwarding.suspect(node);
    }
    this.#forwarding.publish();
    const live = alive.map((n) => `${n.name}:${JSON.stringify(n.labels)}`).sort()
      .join(",");
    if (live === this.#live) return;
    this.#live = live;
    if (this.#initialized) this.#enqueue(() => this.#reconcileAll());
  }

  #enqueue(fn: () => Promise<void>): void {
    this.#queue = this.#queue.then(fn).catch((e) => {
      this.#logger("error", `fleet: converging: ${(e as Error).message}`, {});
    });
  }

  /** Resolves once everything queued so far was applied (or failed). */
  settled(): Promise<void> {
    return this.#queue;
  }

  async #reconcileAll(): Promise<void> {
    const local = (await this.#store!.list()).map((d) => d.name);
    for (const name of new Set([...local, ...this.desired.keys()])) await this.#converge(name);
    await this.#serveFunctions([...local, ...this.desired.keys()]);
    await this.#chains?.reconcileAll();
  }

  /** Makes this node's deployment of `name` what the fleet wants of it (and its chains). */
  async #reconcile(name: string): Promise<void> {
    await this.#converge(name);
    await this.#serveFunctions([name]);
    // A chain runs where all its steps do: one that uses it may come or go.
    await this.#chains?.reconcileAll();
  }

  async #serveFunctions(names: Iterable<string>): Promise<void> {
    for (const name of new Set(names)) this.#serve(name, (await this.#store!.get(name)) !== null);
  }

  /** Answers forwarded requests for exactly what it runs. */
  #serve(name: string, runs: boolean): void {
    const link = this.#link;
    if (runs && !this.#serving.has(name) && link && this.#runHere) {
      this.#serving.set(name, serveForwarded(link.nc, name, this.name, this.#runHere));
    } else if (!runs && this.#serving.has(name)) {
      this.#serving.get(name)!.stop();
      this.#serving.delete(name);
    }
    this.#forwarding.publish();
  }

  async #converge(name: string): Promise<void> {
    const store = this.#store!, deployer = this.#deployer!;
    const want = this.desired.get(name);
    const here = want !== undefined &&
      placedHere(
        name,
        want.record.placement,
        { name: this.name, labels: this.labels },
        this.liveNodes(),
      );
    const local = await store.get(name);
    if (!here) {
      this.failing.delete(name);
      if (local) {
        await deployer.remove(name);
        await store.kv.delete(APPLIED(name));
        this.#logger("info", "fleet: function removed here", { function: name });
      }
      return;
    }
    const applied = (await store.kv.get<number>(APPLIED(name))).value;
    if (local && applied === want.revision) return;
    const r = want.record;
    try {
      // Images are content addressed: one another function here has is read locally.
      const image = await store.readImage(r.digest).catch(() => this.#fetchImage(r.digest));
      const secrets = await openSecrets(this.key, name, r.sealed);
      await deployer.deploy(name, image, r.settings, { env: r.env, secrets });
      await store.kv.set(APPLIED(name), want.revision);
      this.failing.delete(name);
    } catch (e) {
      const why = (e as Error).message;
      if (this.failing.get(name) !== why) {
        this.#logger("error", `fleet: cannot run ${name} here: ${why}`, { function: name });
      }
      this.failing.set(name, why);
    }
  }

  /** An image from the fleet's object store, checked against its digest. */
  async #fetchImage(digest: string): Promise<Uint8Array> {
    const link = await this.link(30_000);
    const bytes = await link.images.getBlob(digest);
    if (!bytes) throw new Error(`its image ${digest.slice(0, 12)} is not in the fleet's store`);
    const got = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
    const hex = [...got].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== digest) {
      throw new Error(`the fleet's image ${digest.slice(0, 12)} has another digest`);
    }
    return bytes;
  }

  /**
   * Waits until this node has seen revision `rev` of `name` (or its removal)
   * and converged to it; returns why it failed here, if it did.
   */
  async applied(name: string, rev: number, timeoutMs: number): Promise<string | undefined> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const d = this.desired.get(name);
      const seen = rev === 0 ? d === undefined : (d?.revision ?? 0) >= rev;
      if (seen && this.#initialized) {
        await this.settled();
        return this.failing.get(name);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return "this node did not see the change in time";
  }

  /** applied() for a chain: revision `rev` of chain `name` (0: its removal) converged here. */
  async appliedChain(name: string, rev: number, timeoutMs: number): Promise<string | undefined> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && this.#chains) {
      const d = this.#chains.desired.get(name);
      const seen = rev === 0 ? d === undefined : (d?.revision ?? 0) >= rev;
      if (seen && this.#initialized) {
        await this.settled();
        return this.#chains.failing.get(name);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return "this node did not see the change in time";
  }

  /** The fleet's chains (records and revisions), and whether one runs on this node. */
  get chains(): ChainFollower | undefined {
    return this.#chains;
  }

  async #beat(): Promise<void> {
    const link = this.#link;
    if (!link || !this.#store) return;
    const status: NodeStatus = {
      name: this.name,
      url: this.#url,
      labels: this.labels,
      version: VERSION,
      startedAt: this.#startedAt,
      at: new Date().toISOString(),
      functions: (await this.#store.list()).map((d) => ({ name: d.name, digest: d.digest })),
      failing: Object.fromEntries([...this.failing, ...this.#chains?.failing ?? []]),
    };
    await link.nodes.put(this.name, encode(status));
  }

  /** Whether a request for `name` goes to another node: the fleet has it, this node does not. */
  forwards(name: string): boolean {
    return this.#link !== undefined && !this.#serving.has(name) &&
      (this.desired.has(name) || this.#chains?.desired.has(name) === true);
  }

  /** A private function another node runs: the caller needs this node's token here. */
  isPrivateElsewhere(name: string): boolean {
    return this.forwards(name) && this.desired.get(name)?.record.settings.access === "private";
  }

  /** Sends an invocation to a node that runs `name` (forwarding.ts). */
  forward(name: string, req: Request, requestId: string): Promise<Response> {
    return this.#forwarding.forward(name, req, requestId);
  }

  /**
   * Leaves the fleet before the node drains: no new forwarded requests (those
   * running finish), and the heartbeat is deleted so that the others move this
   * node's share at once. close() then ends the rest.
   */
  async leave(): Promise<void> {
    for (const s of this.#serving.values()) s.stop();
    this.#serving.clear();
    this.#stop.abort();
    await this.#link?.nodes.delete(this.name).catch(() => {});
  }

  async close(): Promise<void> {
    this.#forwarding.close();
    for (const s of this.#serving.values()) s.stop();
    this.#serving.clear();
    this.#stop.abort();
    await this.#queue.catch(() => {});
    if (this.#link) {
      // Leaving: the others need not wait for the heartbeat to expire.
      await this.#link.nodes.delete(this.name).catch(() => {});
      await this.#link.close().catch(() => {});
    }
  }
}
