/**
 * libsure's data plane (libsure.h, "the data plane"): an HTTP/1.1 server in
 * C that runs /invoke requests of routed functions on instances the control
 * plane lends it, and tunnels everything else to the Hono app. TypeScript
 * publishes routes and instances and reads what happened in batches
 * (`events`); it never touches a request on the hot path.
 */
import { DP_BACKEND, DP_FORWARD, DP_IO, Errno, STRUCTS } from "./abi.ts";
import { type DataplaneEvent, decodeEvents, EVENT_BATCH } from "./dataplane_events.ts";
import { errorFromErrno } from "./errors.ts";
import { libsure } from "./libsure.ts";
import { CStructs } from "./struct.ts";

export interface DataplaneOptions {
  /** Numeric listen address. */
  host: string;
  /** 0: any free port. */
  port: number;
  /** Unix socket path of the Hono app (everything that is not a routed /invoke). */
  upstream: string;
  maxConns?: number;
  headerTimeoutMs?: number;
  bodyTimeoutMs?: number;
  idleTimeoutMs?: number;
  writeTimeoutMs?: number;
  /** CPUs its thread may run on (below 64); empty or absent: any. */
  cpus?: number[];
  /** How kernel sockets are read: "epoll" (the default), or "io_uring" (start
   * fails where the kernel or a seccomp policy has none we can use). */
  io?: "epoll" | "io_uring";
  /** The af_xdp backend: the Z-stack on an AF_XDP socket of `iface`, serving
   * `addr:port` (an IPv4 address the kernel does not use there), next to the
   * kernel listener on host:port (host "": none); `port` must be set. */
  afXdp?: {
    iface: string;
    addr: string;
    /** addr's network prefix length (24). */
    prefix?: number;
    /** Next hop off-link (numeric IPv4). */
    gateway?: string;
    queue?: number;
    /** UMEM frames of 4 KiB (4096). */
    frames?: number;
  };
}

export interface RouteSettings {
  name: string;
  maxBody: number;
  timeoutMs: number;
  deadlineMs: number;
  maxQueue: number;
  maxInstances: number;
  targetConcurrency: number;
  concurrencyLimit: number;
  canStart: boolean;
  /** Only requests with the admin token (sure_dataplane_set_token); the rest go to the Hono app. */
  isPrivate: boolean;
}

/** What the data plane needs to run a chain (struct sure_chain_route_config). */
export interface ChainRouteSettings {
  name: string;
  /** 413 past it (at most one extent of the pool: the data plane lowers it). */
  maxBody: number;
  timeoutMs: number;
  /** Bytes each request's extents hold at least. */
  reserve: number;
  /** Each step's sidecar deadline (its 504 names it), 0: none. */
  stepDeadlineMs: number[];
  /** Steps another node runs: its name and its data plane's "a.b.c.d:port" (else absent). */
  stepNodes?: ({ node: string; addr: string } | undefined)[];
}

export interface RouteStats {
  instances: number;
  idle: number;
  running: number;
  starting: number;
  queued: number;
  requests: number;
  /** Idle instances, oldest idle first: their tag and how long they idled. */
  idleTags: { tag: number; idleMs: number }[];
}

export { type DataplaneEvent, EVENT_BATCH } from "./dataplane_events.ts";

/** A node that runs a function, and where its public port answers ("a.b.c.d:port"). */
export interface ForwardTarget {
  node: string;
  addr: string;
}

export interface DataplaneStats {
  connsOpen: number;
  connsAccepted: number;
  connsRefused: number;
  requests: number;
  tunnelled: number;
  /** Invokes sent to other nodes of the fleet: in all, refused (to the Hono app instead), failed. */
  forwarded: number;
  forwardsRefused: number;
  forwardFailures: number;
  /** Connections opened to other nodes for those (a kept one opens none). */
  forwardConnects: number;
  parseErrors: number;
  timeouts: number;
  bytesIn: number;
  bytesOut: number;
  copiedIn: number;
  copiedOut: number;
  eventsDropped: number;
  /** Request log lines the data plane could not write (not flushed in time). */
  requestLogDropped: number;
  /** Now: waiting for an instance, running on one, in chains, awaiting the control plane. */
  queued: number;
  running: number;
  inChains: number;
  /** Of those in chains, out at another node now (a hop in flight). */
  inHops: number;
  parked: number;
  /**
   * Plain instances' request queues: requests posted to an instance behind
   * one it was running, and requests given back to the function's queue when
   * the instance they waited in died or timed out before it ran them, or
   * because the one ahead of them ran long and they had not begun (withdrawn).
   */
  pipelined: number;
  requeued: number;
  withdrawn: number;
  /** Chain hops sent to other nodes, taken from them, failed. */
  hopsOut: number;
  hopsIn: number;
  hopFailures: number;
  /** Connections opened for hops (a hop on one kept open since an earlier hop opens none). */
  hopConnects: number;
  /** Hops are authenticated by the nodes' shared key (else by the sender's address alone). */
  hopKeyed: boolean;
  /** Hops refused: from an address none of the chain's nodes has, or without the key's MAC. */
  hopsRefused: number;
  /** How kernel sockets are read. */
  io: "epoll" | "io_uring";
  /** The server's loop threads running now. */
  threads: number;
  /** The CPUs (0-63) its loop thread may run on, as the kernel has them (empty before it runs). */
  cpus: number[];
  /** The Z-stack's (af_xdp; all 0 on sockets). */
  stack: {
    rxFrames: number;
    txFrames: number;
    rxBytes: number;
    txBytes: number;
    /** Frames the kernel dropped for want of room in the UMEM's rings. */
    rxDropped: number;
    /** Bytes copied out of received frames, into TCP segments, into TX frames. */
    copiedIn: number;
    copiedOut: number;
    copiedWire: number;
    /** TCP segments sent again on duplicate ACKs (fast retransmit). */
    retransmits: number;
    /** Retransmission timeouts (each sends the oldest unacknowledged segment again). */
    retransmitTimeouts: number;
    resets: number;
    drops: number;
    connsOpen: number;
    connsTotal: number;
    /** Its XDP program's mode, whether packets longer than a frame can come, how many did. */
    xdp: "native" | "generic";
    multiBuffer: boolean;
    rxChained: number;
    /** Who finishes its TCP checksums (the kernel: AF_XDP TX metadata), and segments each finished. */
    txChecksums: "kernel" | "stack";
    checksummedByKernel: number;
    checksummedByStack: number;
  };
}

const enc = new TextEncoder();

function putString(
  s: CStructs<typeof STRUCTS[keyof typeof STRUCTS]>,
  at: number,
  v: string,
  cap: number,
) {
  const b = enc.encode(v);
  if (b.byteLength >= cap) {
    throw new RangeError(`${v.slice(0, 40)}... is longer than ${cap - 1} bytes`);
  }
  s.bytes.set(b, at);
  s.bytes[at + b.byteLength] = 0;
}

/** A NUL-terminated copy of s, as the C side reads strings. */
function cstr(s: string): Uint8Array<ArrayBuffer> {
  return enc.encode(s + "\0") as Uint8Array<ArrayBuffer>;
}

/** "name: value\n" lines, NUL-terminated, as the C side reads them. */
function headerLines(headers: Record<string, string>): Uint8Array<ArrayBuffer> {
  let s = "";
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\n`;
  return enc.encode(s + "\0") as Uint8Array<ArrayBuffer>;
}

export class Dataplane {
  #h: Deno.PointerObject | null;
  readonly #events = new CStructs(STRUCTS.sure_dp_event, EVENT_BATCH);
  readonly port: number;

  private constructor(h: Deno.PointerObject) {
    this.#h = h;
    this.port = libsure().sure_dataplane_port(h);
  }

  /** Accepts connections from now on (held since start, so that none finds the routes unpublished). */
  open(): void {
    const rc = libsure().sure_dataplane_open(this.#handle());
    if (rc < 0) throw errorFromErrno("sure_dataplane_open", rc);
  }

  static start(o: DataplaneOptions): Dataplane {
    const cfg = new CStructs(STRUCTS.sure_dataplane_config);
    const L = STRUCTS.sure_dataplane_config;
    putString(cfg, L.host, o.host, L.upstream - L.host);
    putString(cfg, L.upstream, o.upstream, L.port - L.upstream);
    const v = new DataView(cfg.bytes.buffer);
    v.setUint32(L.port, o.port, true);
    v.setUint32(L.max_conns, o.maxConns ?? 0, true);
    v.setUint32(L.header_timeout_ms, o.headerTimeoutMs ?? 0, true);
    v.setUint32(L.body_timeout_ms, o.bodyTimeoutMs ?? 0, true);
    v.setUint32(L.idle_timeout_ms, o.idleTimeoutMs ?? 0, true);
    v.setUint32(L.write_timeout_ms, o.writeTimeoutMs ?? 0, true);
    let mask = 0n;
    for (const c of o.cpus ?? []) if (c >= 0 && c < 64) mask |= 1n << BigInt(c);
    v.setBigUint64(L.cpu_mask, mask, true);
    v.setUint32(L.io, DP_IO[o.io ?? "epoll"], true);
    if (o.afXdp) {
      v.setUint32(L.backend, DP_BACKEND.af_xdp, true);
      putString(cfg, L.iface, o.afXdp.iface, L.addr - L.iface);
      putString(cfg, L.addr, o.afXdp.addr, L.gateway - L.addr);
      putString(cfg, L.gateway, o.afXdp.gateway ?? "", L.queue - L.gateway);
      v.setUint32(L.prefix, o.afXdp.prefix ?? 0, true);
      v.setUint32(L.queue, o.afXdp.queue ?? 0, true);
      v.setUint32(L.frames, o.afXdp.frames ?? 0, true);
    }
    const out = new BigUint64Array(1);
    const rc = libsure().sure_dataplane_start(cfg.bytes, cfg.size, out);
    if (rc < 0) throw errorFromErrno("sure_dataplane_start", rc);
    return new Dataplane(Deno.UnsafePointer.create(out[0])!);
  }

  /** False once stop() began: lent instances are their owners' again. */
  get running(): boolean {
    return this.#h !== null;
  }

  #handle(): Deno.PointerObject {
    if (!this.#h) throw errorFromErrno("dataplane", -Errno.EINVAL, "stopped");
    return this.#h;
  }

  /** Creates or updates the route of a function: its id. */
  route(r: RouteSettings): number {
    const L = STRUCTS.sure_route_config;
    const cfg = new CStructs(L);
    putString(cfg, L.name, r.name, L.max_body - L.name);
    const v = new DataView(cfg.bytes.buffer);
    v.setBigUint64(L.max_body, BigInt(r.maxBody), true);
    v.setUint32(L.timeout_ms, r.timeoutMs, true);
    v.setUint32(L.deadline_ms, r.deadlineMs, true);
    v.setUint32(L.max_queue, r.maxQueue, true);
    v.setUint32(L.max_instances, r.maxInstances, true);
    v.setUint32(L.target_concurrency, r.targetConcurrency, true);
    v.setUint32(L.concurrency_limit, r.concurrencyLimit, true);
    v.setUint32(L.can_start, r.canStart ? 1 : 0, true);
    v.setUint32(L.is_private, r.isPrivate ? 1 : 0, true);
    const rc = libsure().sure_dataplane_route(this.#handle(), cfg.bytes, cfg.size);
    if (rc < 0) throw errorFromErrno("sure_dataplane_route", rc);
    return rc;
  }

  /** Serves a chain (its steps running): the attachment id. */
  attachChain(chain: Deno.PointerObject, c: ChainRouteSettings): number {
    const L = STRUCTS.sure_chain_route_config;
    const cfg = new CStructs(L);
    putString(cfg, L.name, c.name, L.max_body - L.name);
    const v = new DataView(cfg.bytes.buffer);
    v.setBigUint64(L.max_body, BigInt(c.maxBody), true);
    v.setUint32(L.timeout_ms, c.timeoutMs, true);
    v.setUint32(L.reserve, c.reserve, true);
    c.stepDeadlineMs.forEach((ms, i) => v.setUint32(L.step_deadline_ms + 4 * i, ms, true));
    c.stepNodes?.forEach((n, i) => {
      if (!n) return;
      putString(cfg, L.step_node + 32 * i, n.node, 32);
      putString(cfg, L.step_peer + 32 * i, n.addr, 32);
    });
    const rc = libsure().sure_dataplane_attach_chain(this.#handle(), chain, cfg.bytes, cfg.size);
    if (rc < 0) throw errorFromErrno("sure_dataplane_attach_chain", rc);
    return rc;
  }

  /** The chain takes no new requests (those in flight go on). */
  closeChain(id: number): void {
    libsure().sure_dataplane_close_chain(this.#handle(), id);
  }

  /** Lets go of the chain (requests left are answered 504): false while a body still arrives. */
  releaseChain(id: number): boolean {
    const rc = libsure().sure_dataplane_release_chain(this.#handle(), id);
    return rc !== -Errno.EBUSY;
  }

  /**
   * While a step of the chain cannot start: new requests get this answer at
   * once (null: serve them again). Requests already in the chain go on.
   */
  refuseChain(
    id: number,
    answer: { status: number; body: unknown; headers: Record<string, string> } | null,
  ): void {
    const json = answer ? enc.encode(JSON.stringify(answer.body)) as Uint8Array<ArrayBuffer> : null;
    const rc = libsure().sure_dataplane_chain_refuse(
      this.#handle(),
      id,
      answer?.status ?? 0,
      json,
      json?.byteLength ?? 0,
      answer ? headerLines(answer.headers) : null,
    );
    if (rc < 0 && rc !== -Errno.ENOENT) throw errorFromErrno("sure_dataplane_chain_refuse", rc);
  }

  /** Requests in the chain now, and answered so far. */
  chainStats(id: number): { running: number; requests: number } {
    const s = new CStructs(STRUCTS.sure_route_stats);
    const rc = libsure().sure_dataplane_chain_stats(this.#handle(), id, s.bytes, s.size);
    if (rc < 0) return { running: 0, requests: 0 };
    return { running: s.u32("running"), requests: s.u64("requests") };
  }

  /** The node's admin token, which private routes require. */
  setToken(token: string): void {
    const b = new TextEncoder().encode(token);
    const rc = libsure().sure_dataplane_set_token(this.#handle(), b, b.byteLength);
    if (rc < 0) throw errorFromErrno("sure_dataplane_set_token", rc);
  }

  /**
   * The key the nodes of a chain share for its hops (16-1024 bytes; empty:
   * none): hops sent carry its MAC, and hops without it are refused.
   */
  setHopKey(key: Uint8Array): void {
    const b = new Uint8Array(key); // a copy the call owns, as FFI buffers must be
    const rc = libsure().sure_dataplane_set_hop_key(this.#handle(), b, b.byteLength);
    if (rc < 0) throw errorFromErrno("sure_dataplane_set_hop_key", rc);
  }

  /**
   * Where an /invoke of `name`, a function other nodes of the fleet run, goes
   * when no route here serves it: to these nodes in turn, straight from C
   * (libsure.h's sure_dataplane_forward); none: the Hono app decides. A
   * private one goes only with this node's token, signed with the hop key.
   */
  forward(
    self: string,
    name: string,
    timeoutMs: number,
    targets: ForwardTarget[],
    isPrivate = false,
  ): void {
    const list = targets.map((t) => `${t.node}=${t.addr}`).join(" ");
    const rc = libsure().sure_dataplane_forward(
      this.#handle(),
      cstr(self),
      cstr(name),
      timeoutMs,
      isPrivate ? DP_FORWARD.private : 0,
      cstr(list),
    );
    if (rc < 0) throw errorFromErrno(`sure_dataplane_forward ${name} ${list}`, rc);
  }

  /** The node stopped answering: what was forwarded to it fails now (502 naming it). */
  forwardDead(node: string): void {
    const rc = libsure().sure_dataplane_forward_dead(this.#handle(), cstr(node));
    if (rc < 0) throw errorFromErrno(`sure_dataplane_forward_dead ${node}`, rc);
  }

  unroute(route: number): void {
    libsure().sure_dataplane_unroute(this.#handle(), route);
  }

  /** Lends an idle instance to a route (need: it answers a "need" event). */
  lend(route: number, instance: Deno.PointerObject, tag: number, need: boolean): void {
    const rc = libsure().sure_dataplane_lend(this.#handle(), route, instance, tag, need ? 1 : 0);
    if (rc < 0) throw errorFromErrno("sure_dataplane_lend", rc);
  }

  /** An instance is being started for the route (lend it with need, or startFailed). */
  expect(route: number): void {
    libsure().sure_dataplane_expect(this.#handle(), route);
  }

  /** "back": it was idle and is the caller's again; "busy": a "retired" event follows. */
  reclaim(route: number, tag: number): "back" | "busy" | "unknown" {
    const rc = libsure().sure_dataplane_reclaim(this.#handle(), route, tag);
    return rc === 0 ? "back" : rc === -Errno.EBUSY ? "busy" : "unknown";
  }

  startFailed(route: number, status: number, body: unknown, headers: Record<string, string>) {
    const json = enc.encode(JSON.stringify(body)) as Uint8Array<ArrayBuffer>;
    libsure().sure_dataplane_start_failed(
      this.#handle(),
      route,
      status,
      json,
      json.byteLength,
      headerLines(headers),
    );
  }

  /** Answers a request whose instance died ("dead" event): false if its client left. */
  answer(token: bigint, status: number, body: unknown, headers: Record<string, string>): boolean {
    const json = enc.encode(JSON.stringify(body)) as Uint8Array<ArrayBuffer>;
    const rc = libsure().sure_dataplane_answer(
      this.#handle(),
      token,
      status,
      json,
      json.byteLength,
      headerLines(headers),
    );
    return rc === 0;
  }

  routeStats(route: number): RouteStats {
    const s = new CStructs(STRUCTS.sure_route_stats);
    const rc = libsure().sure_dataplane_route_stats(this.#handle(), route, s.bytes, s.size);
    if (rc < 0) throw errorFromErrno("sure_dataplane_route_stats", rc);
    const n = s.u32("nidle_tags");
    return {
      instances: s.u32("instances"),
      idle: s.u32("idle"),
      running: s.u32("running"),
      starting: s.u32("starting"),
      queued: s.u32("queued"),
      requests: s.u64("requests"),
      // (tag << 32) | ms: exact as numbers while tags stay below 2^21 (vm ids).
      idleTags: s.u64s("idle_tags", n).map((w) => ({
        tag: Math.floor(w / 2 ** 32),
        idleMs: w % 2 ** 32,
      })),
    };
  }

  /**
   * Waits up to timeoutMs for events, then up to lingerMs more while only
   * "done" events come (so that a batch of them costs one wake-up), and
   * returns every one that is there (at most a batch). timeoutMs 0: what is
   * there now, without waiting. ids false: "done" events come without their
   * requestId and traceId (decodeEvents).
   */
  async events(timeoutMs: number, lingerMs = 0, ids = true): Promise<DataplaneEvent[]> {
    const h = this.#h;
    if (!h) return [];
    const e = this.#events;
    const n = await libsure().sure_dataplane_events(h, e.bytes, EVENT_BATCH, timeoutMs, lingerMs);
    if (n < 0) throw errorFromErrno("sure_dataplane_events", n);
    return decodeEvents(e, n, ids);
  }

  stats(): DataplaneStats {
    const s = new CStructs(STRUCTS.sure_dataplane_stats);
    libsure().sure_dataplane_stats(this.#handle(), s.bytes, s.size);
    return {
      connsOpen: s.u64("conns_open"),
      connsAccepted: s.u64("conns_accepted"),
      connsRefused: s.u64("conns_refused"),
      requests: s.u64("requests"),
      tunnelled: s.u64("tunnelled"),
      forwarded: s.u64("forwarded"),
      forwardsRefused: s.u64("forwards_refused"),
      forwardFailures: s.u64("forward_failures"),
      forwardConnects: s.u64("forward_connects"),
      parseErrors: s.u64("parse_errors"),
      timeouts: s.u64("timeouts"),
      bytesIn: s.u64("bytes_in"),
      bytesOut: s.u64("bytes_out"),
      copiedIn: s.u64("copied_in"),
      copiedOut: s.u64("copied_out"),
      eventsDropped: s.u64("events_dropped"),
      requestLogDropped: s.u64("request_log_dropped"),
      queued: s.u64("queued"),
      running: s.u64("running"),
      inChains: s.u64("in_chains"),
      inHops: s.u64("in_hops"),
      parked: s.u64("parked"),
      pipelined: s.u64("pipelined"),
      requeued: s.u64("requeued"),
      withdrawn: s.u64("withdrawn"),
      hopsOut: s.u64("hops_out"),
      hopsIn: s.u64("hops_in"),
      hopFailures: s.u64("hop_failures"),
      hopConnects: s.u64("hop_connects"),
      hopKeyed: s.u64("hop_keyed") !== 0,
      hopsRefused: s.u64("hops_refused"),
      io: s.u64("io_uring") ? "io_uring" : "epoll",
      threads: s.u64("threads"),
      cpus: cpuList(s.u64n("cpu_mask")),
      stack: {
        rxFrames: s.u64("zs_rx_frames"),
        txFrames: s.u64("zs_tx_frames"),
        rxBytes: s.u64("zs_rx_bytes"),
        txBytes: s.u64("zs_tx_bytes"),
        rxDropped: s.u64("zs_rx_dropped"),
        copiedIn: s.u64("zs_copied_in"),
        copiedOut: s.u64("zs_copied_out"),
        copiedWire: s.u64("zs_copied_wire"),
        retransmits: s.u64("zs_retransmits"),
        retransmitTimeouts: s.u64("zs_retransmit_timeouts"),
        resets: s.u64("zs_resets"),
        drops: s.u64("zs_drops"),
        connsOpen: s.u64("zs_conns_open"),
        connsTotal: s.u64("zs_conns_total"),
        xdp: s.u64("zs_xdp_generic") ? "generic" : "native",
        multiBuffer: s.u64("zs_multi_buffer") !== 0,
        rxChained: s.u64("zs_rx_chained"),
        txChecksums: s.u64("zs_tx_metadata") ? "kernel" : "stack",
        checksummedByKernel: s.u64("zs_tx_csum_kernel"),
        checksummedByStack: s.u64("zs_tx_csum_stack"),
      },
    };
  }

  /**
   * The request log in C (libsure.h sure_dataplane_request_log): a line per
   * request answered here, in the console logger's format, on the process's
   * stdout (5xx: stderr); false: off.
   */
  logRequests(on: boolean): void {
    const h = this.#handle();
    const rc = libsure().sure_dataplane_request_log(h, on ? 1 : -1, on ? 2 : -1);
    if (rc < 0) throw errorFromErrno("sure_dataplane_request_log", rc);
  }

  /**
   * Folds "done" events (libsure.h sure_dataplane_fold_done): from the next
   * events() on, the answers of one run between other events that share
   * route, instance, chain, status and code come as one event with their
   * count, the sum of their seconds, and their counts in the buckets of
   * boundsSeconds (the last past every bound). null: one event per request.
   */
  foldDone(boundsSeconds: readonly number[] | null): void {
    const h = this.#handle();
    const ns = new BigUint64Array((boundsSeconds ?? []).map((b) => BigInt(Math.round(b * 1e9))));
    const n = boundsSeconds ? boundsSeconds.length : -1;
    const rc = libsure().sure_dataplane_fold_done(h, new Uint8Array(ns.buffer), n);
    if (rc < 0) throw errorFromErrno("sure_dataplane_fold_done", rc);
  }

  /** Writes the request log lines of the events read so far. */
  flushRequestLog(): void {
    const h = this.#h;
    if (h) libsure().sure_dataplane_request_log_flush(h);
  }

  /** Ends the wait of the events() call in flight (or of the next one) now. */
  kickEvents(): void {
    const h = this.#h;
    if (h) libsure().sure_dataplane_events_kick(h);
  }

  /** Drains and frees it (lent instances are not destroyed: their owners do that). */
  async stop(graceMs: number): Promise<void> {
    const h = this.#h;
    if (!h) return;
    this.#h = null;
    await libsure().sure_dataplane_stop(h, graceMs);
  }
}

/** The CPUs a mask names, lowest first. */
function cpuList(mask: bigint): number[] {
  const out: number[] = [];
  for (let c = 0; c < 64; c++) if ((mask >> BigInt(c)) & 1n) out.push(c);
  return out;
}
