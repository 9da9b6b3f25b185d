/**
 * One sure node: probes the host, opens the store, brings deployed functions
 * back, and serves the app on a socket. `examples` (the `dev` command) also
 * builds and deploys every folder under functions/.
 */
import { isolationModel } from "./isolation.ts";
import { type Capabilities, probe } from "../ffi/mod.ts";
import { createApp } from "./app.ts";
import { ChainManager } from "./chains/manager.ts";
import { DeployConfigSchema } from "./admin/functions.ts";
import { Deployer } from "./deployer.ts";
import { type DeliveryOptions, EventBus } from "./events/bus.ts";
import { consoleLogger, type Logger } from "./log.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler/scheduler.ts";
import { Store } from "./store/store.ts";
import { VERSION } from "./version.ts";
import { LogHub } from "./logs/hub.ts";
import { NodeMetrics } from "./metrics/metrics.ts";
import { DataplaneLink } from "./dataplane/link.ts";
import { dataplaneCpus } from "./scheduler/placement.ts";
import type { FrontInfo } from "./health.ts";
import { isLoopback, loadOrCreateToken, tokenPath } from "./auth/token.ts";
import { checkPortFree, type DataDirLock, lockDataDir } from "./store/lock.ts";
import { STATE_SCHEMA } from "./store/schema.ts";
import type { AdminAuth } from "./middleware/auth.ts";
import { FleetMember, type FleetOptions } from "./fleet/member.ts";
import { FleetControl } from "./fleet/control.ts";
import { FleetEventBus } from "./fleet/events.ts";
import { FleetTriggers } from "./fleet/triggers.ts";
import { FleetChains } from "./fleet/chains.ts";
import { forwardSigned } from "./fleet/forward_sign.ts";
import type { EventService } from "./events/service.ts";
import type { Triggers } from "./store/triggers.ts";

export interface NodeOptions {
  port: number;
  hostname?: string;
  /** The admin API over TLS on its own port (default 8443; 0: any free port). */
  tls?: { cert: string; key: string; port?: number };
  /** Serve the admin API over plain HTTP even beyond loopback (the token is still needed). */
  insecure?: boolean;
  /** The admin token to use (64 hex digits) instead of the data dir's own. */
  token?: string;
  dataDir: string;
  examples?: boolean;
  /** Folder whose subfolders are built with `examples` (default: functions/). */
  examplesDir?: string;
  /** Folder of chain manifests applied with `examples` (default: chains/). */
  chainsDir?: string;
  logger?: Logger;
  /** One structured log line per request (default true; SURE_REQUEST_LOG=0 turns it off). */
  requestLog?: boolean;
  /** Scheduler options: queue bound, init timeout, memory budget, empty VMs, vCPU placement. */
  scheduler?: Partial<
    Pick<
      SchedulerOptions,
      "maxQueue" | "initTimeoutMs" | "memoryBudgetBytes" | "emptyVms" | "vcpuPlacement"
    >
  >;
  /** Event delivery: attempts before a dead letter, backoff, dedup window. */
  events?: Partial<DeliveryOptions>;
  /**
   * Who serves HTTP: "hono" (Deno.serve and the Hono app for everything) or
   * "sockets" (libsure's HTTP server on the public port runs /invoke of every
   * function and chain in C and tunnels the rest to the Hono app on a unix
   * socket). Default: SURE_DATAPLANE, else "sockets".
   */
  dataplane?: Dataplane;
  /** "af_xdp": the interface and the IPv4 address (the kernel does not use it
   * there) the Z-stack serves on, at the node's port; prefix: its network's
   * length (24); gateway: the next hop off-link. */
  afXdp?: AfXdpOptions;
  /** How libsure's server reads kernel sockets: "epoll" or "io_uring" (one
   * syscall fewer per request; docs/architecture.md has the numbers).
   * Default: SURE_DATAPLANE_IO, else "epoll". */
  dataplaneIo?: DataplaneIo;
  /** This node's name and the other nodes' data planes, for chain steps they run. */
  placement?: { self?: string; peers: Record<string, string> };
  /** The key the nodes of a chain share for its hops (runtime/dataplane/hop_key.ts):
   * hops are signed with it, and those without its MAC refused. */
  hopKey?: Uint8Array;
  /** Join a fleet: its desired state in NATS JetStream (sure serve --fleet). */
  fleet?: FleetOptions;
}

export type Dataplane = "hono" | "sockets" | "af_xdp";
export type DataplaneIo = "epoll" | "io_uring";
export interface AfXdpOptions {
  iface: string;
  addr: string;
  prefix?: number;
  gateway?: string;
}

export interface RunningNode {
  url: string;
  port: number;
  /** The admin token (also in <dataDir>/admin.token). */
  token: string;
  /** The admin API over TLS, when the node serves it so. */
  adminUrl?: string;
  /** Requests the node holds now (waiting, running, in chains): what a stop drains. */
  inFlight(): number;
  close(): Promise<void>;
}

/** The parts of a node around one store, wired the same way for the node and for tests. */
export interface NodeParts {
  scheduler: Scheduler;
  deployer: Deployer;
  chains: ChainManager;
  /** The event sink's queue; it delivers once listen() is called (after the functions are back). */
  events: EventService;
  app: ReturnType<typeof createApp>;
  /** What serves HTTP (healthz), set once the node listens. */
  front: { current?: FrontInfo };
  /** The fleet this node is a member of. */
  fleet?: FleetMember;
  /** Stops event delivery (letting running deliveries finish), chains and instances, then the store. */
  close(): Promise<void>;
}

export function assembleNode(
  store: Store,
  capabilities: Capabilities,
  logger: Logger,
  /** The locks on the admin API; in-process app tests pass token: null. */
  auth: AdminAuth,
  schedulerOpts: NodeOptions["scheduler"] = {},
  requestLog = true,
  eventOptions: NodeOptions["events"] = {},
  link?: DataplaneLink,
  placement?: NodeOptions["placement"],
  /** A fleet member: admin changes go to the fleet, and the node converges to it. */
  fleet?: FleetMember,
): NodeParts {
  const logs = new LogHub();
  const scheduler = new Scheduler({
    kvm: capabilities.kvm,
    logger,
    logs,
    ...schedulerOpts,
    ...(link ? { lending: (g) => link.lendingFor(g) } : {}),
  });
  const deployer = new Deployer(store, scheduler, logger, undefined, logs);
  // In a fleet, peers for chain steps on other nodes also come from its heartbeats.
  const chainPlacement = placement ?? { peers: {} };
  fleet?.sharePeers(chainPlacement.peers);
  // Invokes of functions other nodes run go there from C (over kernel TCP on either backend:
  // members' public addresses are the kernel's).
  if (fleet && link) {
    fleet.shareForwards({
      set: (name, timeoutMs, targets, isPrivate) =>
        link.dp.forward(fleet.name, name, timeoutMs, targets, isPrivate),
      dead: (node) => link.dp.forwardDead(node),
    });
  }
  const chains = new ChainManager(
    store,
    scheduler,
    logger,
    logs,
    link?.chainServing(),
    chainPlacement,
    isolationModel(capabilities.guestPku),
  );
  const metrics = new NodeMetrics();
  const front: { current?: FrontInfo } = {};
  // Deliveries go through the node's own app (in-process), made just below.
  const deliver = (req: Request) => Promise.resolve(app.fetch(req, INTERNAL));
  // In a fleet, triggers and the event queue are the fleet's (an event outlives its node).
  const triggers: Triggers = fleet ? new FleetTriggers(fleet, logger) : store.triggers;
  const events: EventService = fleet
    ? new FleetEventBus({ member: fleet, triggers, deliver, logger, options: eventOptions })
    : new EventBus({
      kv: store.kv,
      triggers: (type, source) => triggers.matching(type, source),
      deliver,
      logger,
      options: eventOptions,
    });
  const app = createApp({
    store,
    scheduler,
    deployer: fleet ? new FleetControl(fleet) : deployer,
    fleet,
    capabilities,
    version: VERSION,
    logger,
    chains,
    metrics,
    logs,
    events,
    triggers,
    ...(fleet ? { chainControl: new FleetChains(fleet) } : {}),
    requestLog,
    dataplane: link,
    front,
    auth,
  });
  return {
    scheduler,
    deployer,
    chains,
    events,
    app,
    front,
    fleet,
    async close() {
      await fleet?.close();
      await link?.close();
      await events.close();
      await chains.close();
      await scheduler.close();
      await store.close();
    },
  };
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  // One node per data dir, checked before anything in it is opened.
  const lock = await lockDataDir(opts.dataDir);
  try {
    const node = await startLocked(opts, lock);
    return {
      ...node,
      async close() {
        try {
          await node.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function startLocked(opts: NodeOptions, lock: DataDirLock): Promise<RunningNode> {
  const logger = opts.logger ?? consoleLogger;
  const capabilities = probe();
  if (!capabilities.kvm.available) {
    logger(
      "warn",
      `KVM is unavailable: ${capabilities.kvm.reason}. ` +
        "The node serves the admin API and stores deployments, but invocations answer 503.",
      {
        kvm: false,
      },
    );
  }
  const hostname = opts.hostname ?? "127.0.0.1";
  // The admin API is never open to the network in clear text by default.
  const plainAdmin = isLoopback(hostname) || opts.insecure === true;
  if (!plainAdmin && !opts.tls) {
    throw new Error(
      `listening on ${hostname} (beyond loopback): the admin API is served only over TLS; ` +
        "give --tls-cert and --tls-key (or --insecure to serve it over plain HTTP)",
    );
  }
  const tlsFiles = opts.tls ? await readTlsFiles(opts.tls) : undefined;
  // Ports taken are found now, before anything is restored (libsure's data
  // plane binds its own port before restoring too: explainDataplaneError).
  const dataplaneMode = opts.dataplane ?? Deno.env.get("SURE_DATAPLANE") ?? "sockets";
  if (dataplaneMode === "hono") checkPortFree(hostname, opts.port);
  if (opts.tls) checkPortFree(hostname, opts.tls.port ?? 8443, "--admin-port or SURE_ADMIN_PORT");
  const store = await Store.open(opts.dataDir);
  if (store.migratedFrom < STATE_SCHEMA) {
    logger("info", `state migrated from version ${store.migratedFrom} to ${STATE_SCHEMA}`, {
      dataDir: opts.dataDir,
    });
  }
  let token: string;
  try {
    token = await loadOrCreateToken(opts.dataDir, (m) => logger("warn", m), opts.token);
  } catch (e) {
    await store.close();
    throw e;
  }
  const auth: AdminAuth = { token, plainAdmin };
  const hopKey = opts.hopKey;
  if (opts.fleet && hopKey) {
    auth.forwardSigned = (req, name) => forwardSigned(hopKey, name, req);
  }
  const requestLog = opts.requestLog ?? Deno.env.get("SURE_REQUEST_LOG") !== "0";
  const mode = opts.dataplane ?? (Deno.env.get("SURE_DATAPLANE") as Dataplane | undefined) ??
    "sockets";
  if (mode !== "hono" && mode !== "sockets" && mode !== "af_xdp") {
    await store.close();
    throw new Error(`unknown data plane ${mode}: use hono, sockets or af_xdp`);
  }
  const io = opts.dataplaneIo ?? (Deno.env.get("SURE_DATAPLANE_IO") || "epoll");
  if (io !== "epoll" && io !== "io_uring") {
    await store.close();
    throw new Error(`unknown data-plane io ${io}: use epoll or io_uring`);
  }
  if (mode === "af_xdp" && !opts.afXdp) {
    await store.close();
    throw new Error("the af_xdp data plane needs an interface and an address (--iface, --addr)");
  }
  // The Hono app listens on a unix socket behind libsure's server: in the
  // data dir, or in a private temporary folder when that path is longer than
  // a socket address holds (sun_path: 108 bytes).
  let upstream = `${opts.dataDir}/hono.sock`;
  if (mode !== "hono" && new TextEncoder().encode(upstream).byteLength > 100) {
    upstream = `${await Deno.makeTempDir({ prefix: "sure-" })}/hono.sock`;
  }
  let link: DataplaneLink | undefined;
  if (mode !== "hono") {
    await Deno.remove(upstream).catch(() => {});
    try {
      const cpus = dataplaneCpus(opts.scheduler?.vcpuPlacement ?? "auto");
      link = new DataplaneLink({
        host: hostname,
        port: opts.port,
        upstream,
        logger,
        cpus,
        token,
        io,
        ...(opts.hopKey ? { hopKey: opts.hopKey } : {}),
        ...(mode === "af_xdp" ? { afXdp: opts.afXdp } : {}),
      });
    } catch (e) {
      await store.close();
      throw explainDataplaneError(
        e,
        hostname,
        opts.port,
        mode === "af_xdp" ? opts.afXdp : undefined,
      );
    }
  }
  const parts = assembleNode(
    store,
    capabilities,
    logger,
    auth,
    opts.scheduler,
    requestLog,
    opts.events,
    link,
    opts.placement,
    opts.fleet
      ? new FleetMember({
        eventDedupMs: opts.events?.dedupWindowMs,
        ...opts.fleet,
        ...(hopKey ? { hopKey } : {}),
      })
      : undefined,
  );
  const { deployer, chains, app } = parts;
  let server: Deno.HttpServer<Deno.Addr> | undefined;
  let adminServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    const restored = await deployer.restore();
    if (restored > 0) logger("info", `restored ${restored} function(s)`, { dataDir: opts.dataDir });
    if (opts.examples) {
      await deployExamples(
        deployer,
        opts.examplesDir ?? new URL("../functions", import.meta.url).pathname,
        logger,
      );
    }
    if (capabilities.kvm.available) {
      const chainsUp = await chains.restore();
      if (chainsUp > 0) logger("info", `restored ${chainsUp} chain(s)`, { dataDir: opts.dataDir });
      if (opts.examples) {
        await applyChains(
          chains,
          opts.chainsDir ?? new URL("../chains", import.meta.url).pathname,
          logger,
        );
      }
    }
    // Events queued before a stop are delivered now that their functions are back.
    parts.events.listen();
    const plain = (req: Request) => app.fetch(req, PLAIN);
    server = link
      ? Deno.serve({ path: upstream, onListen: () => {} }, plain)
      : Deno.serve({ port: opts.port, hostname, onListen: () => {} }, plain);
    if (tlsFiles) {
      adminServer = Deno.serve(
        { port: opts.tls!.port ?? 8443, hostname, ...tlsFiles, onListen: () => {} },
        (req) => app.fetch(req, TLS),
      );
      auth.adminUrl = `https://${hostPart(hostname)}:${adminServer.addr.port}`;
    }
    link?.listen();
  } catch (e) {
    await parts.close();
    throw e;
  }
  const port = link ? link.port : (server.addr as Deno.NetAddr).port;
  const host = hostPart(hostname);
  const url = `http://${host}:${port}`;
  parts.front.current = link
    ? {
      backend: link.backend,
      listen: `${host}:${port}`,
      stats: () => link.dp.stats(),
      ...(link.opts.afXdp
        ? { stack: { iface: link.opts.afXdp.iface, listen: `${link.opts.afXdp.addr}:${port}` } }
        : {}),
    }
    : { backend: "hono", listen: `${host}:${port}` };
  // The lock file names where this node listens before the log says so.
  await lock.listening(auth.adminUrl ? `${url} (admin ${auth.adminUrl})` : url);
  logger("info", `sure node listening on ${url}`, {
    version: VERSION,
    dataDir: opts.dataDir,
    dataplane: mode,
    ...(link ? { io: link.io } : {}),
    admin: auth.adminUrl ?? url,
    token: tokenPath(opts.dataDir),
    ...(link?.opts.afXdp
      ? { zstack: `${link.opts.afXdp.addr}:${port} on ${link.opts.afXdp.iface}` }
      : {}),
  });
  if (link && !opts.hopKey && (Object.keys(opts.placement?.peers ?? {}).length || opts.fleet)) {
    logger(
      "warn",
      "chain hops from other nodes are taken on the sender's address alone: give every node " +
        "the same --peer-key-file (or, in a fleet, a fleet key) to have them signed",
    );
  }
  // The fleet is followed from now on, in the background: the node serves
  // what it has (its own state) while it reaches the fleet and converges.
  parts.fleet?.start(
    store,
    deployer,
    logger,
    url,
    async (req) => await app.fetch(req, INTERNAL),
    chains,
  );
  let closing: Promise<void> | undefined;
  let lastInFlight = 0;
  return {
    url,
    port,
    token,
    adminUrl: auth.adminUrl,
    inFlight() {
      // Once stopping, the data plane answers no more questions: the last count stands.
      try {
        if (link) {
          const s = link.dp.stats();
          return lastInFlight = s.queued + s.running + s.inChains + s.parked;
        }
        let n = 0;
        for (const g of parts.scheduler.groups()) {
          const st = g.status();
          n += st.queued + st.instances.filter((i) => i.state === "busy").length;
        }
        for (const c of parts.chains.all()) n += c.inFlight;
        return lastInFlight = n;
      } catch {
        return lastInFlight;
      }
    },
    close() {
      closing ??= (async () => {
        // First out of the fleet: no more forwarded requests, and the others
        // take this node's share now rather than after its heartbeat expires.
        await parts.fleet?.leave();
        // Together: the Hono app's shutdown closes its idle keep-alive connections,
        // which ends the tunnels that libsure's server would otherwise wait for.
        await Promise.all([
          link?.close(STOP_GRACE_MS),
          server!.shutdown(),
          adminServer?.shutdown(),
        ]);
        await parts.close();
      })();
      return closing;
    },
  };
}

/** How long a stopping node lets the requests it holds finish. */
export const STOP_GRACE_MS = 5000;

const PLAIN = { transport: "plain" } as const;
const TLS = { transport: "tls" } as const;
/** The node's own requests (event deliveries): checked when they came in. */
const INTERNAL = { transport: "internal" } as const;

function hostPart(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** The TLS certificate chain and key (PEM), or an error naming the file. */
async function readTlsFiles(tls: { cert: string; key: string }) {
  const read = async (what: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(e as Error).message}`);
    }
  };
  return { cert: await read("certificate", tls.cert), key: await read("key", tls.key) };
}

/** Builds every function folder in dir and deploys it from its manifest. */
async function deployExamples(deployer: Deployer, dir: string, logger: Logger): Promise<void> {
  const { buildFunction } = await import("./builder/compile.ts");
  const folders: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) folders.push(e.name);
  } catch (e) {
    logger("warn", `no example functions: ${(e as Error).message}`);
    return;
  }
  for (const folder of folders.sort()) {
    try {
      const built = await buildFunction(`${dir}/${folder}`);
      const cfg = DeployConfigSchema.parse(built.manifest);
      const image = await Deno.readFile(built.image);
      await deployer.deploy(built.name, image, cfg, { env: built.manifest.env, secrets: {} });
    } catch (e) {
      const err = e as Error & { output?: string };
      logger("error", `example ${folder} not deployed: ${err.message}`, {
        folder,
        ...(err.output ? { output: err.output } : {}),
      });
    }
  }
}

/** Applies every chains/*.json manifest (the `dev` command). */
async function applyChains(chains: ChainManager, dir: string, logger: Logger): Promise<void> {
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".json")) files.push(e.name);
    }
  } catch {
    return; // no chains folder: nothing to apply
  }
  for (const file of files.sort()) {
    try {
      await chains.apply(JSON.parse(await Deno.readTextFile(`${dir}/${file}`)));
    } catch (e) {
      logger("error", `chain manifest ${file} not applied: ${(e as Error).message}`, { file });
    }
  }
}

/** libsure's data plane did not start: say what to change, in the user's terms. */
function explainDataplaneError(
  e: unknown,
  host: string,
  port: number,
  afXdp: AfXdpOptions | undefined,
): unknown {
  const code = (e as { code?: string }).code;
  const at = `${host}:${port}`;
  if (code === "EADDRINUSE") return new Error(`${at} is in use: choose another --port (SURE_PORT)`);
  if (code === "EADDRNOTAVAIL") {
    return new Error(`${host} is not an address of this machine (--host)`);
  }
  if (!afXdp) return e;
  const iface = afXdp.iface;
  const why: Record<string, string> = {
    ENODEV: `--iface ${iface}: no such network interface`,
    EPERM: "--dataplane af_xdp needs root (CAP_NET_ADMIN and CAP_BPF, for XDP and AF_XDP)",
    EACCES: "--dataplane af_xdp needs root (CAP_NET_ADMIN and CAP_BPF, for XDP and AF_XDP)",
    EBUSY: `--iface ${iface}: another XDP program is attached to it, or its queue is taken`,
    EOPNOTSUPP: `--iface ${iface}: this kernel or interface has no AF_XDP`,
    EAFNOSUPPORT: "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)",
    EINVAL:
      `--dataplane af_xdp: bad settings (--iface ${iface}, --addr ${afXdp.addr}, --port ${port})`,
    ENOMEM: "--dataplane af_xdp: out of memory for the AF_XDP UMEM",
  };
  return code && why[code] ? new Error(`${why[code]} (${code})`) : e;
}
