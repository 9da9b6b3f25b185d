/** `sure serve` and `sure dev`: run a node in the foreground until SIGINT/SIGTERM. */
// The node itself (node.ts: Hono, zod, NATS, libsure) is imported when a node
// starts, not with this module: main.ts holds every command, and `sure ls` or
// `sure invoke` need none of it (they start in half the time without it).
// Client commands may then make zod schemas before the node loads: that is why
// every module takes `z` from @hono/zod-openapi (tests/zod_import_test.ts).
import type { AfXdpOptions } from "../node.ts";
import { consoleLogger } from "../log.ts";
import { type Command, type FlagValue, intFlag, type OptionDoc, UsageError } from "./command.ts";
import { parseCpuList, type VcpuPlacement } from "../scheduler/placement.ts";
import { NODE_NAME_PATTERN } from "../name_rules.ts";
import type { FleetOptions } from "../fleet/member.ts";
import { importFleetKey } from "../fleet/seal.ts";
import { hopKeyOfFleet, keyFromHex } from "../dataplane/hop_key.ts";

const OPTIONS: Record<string, OptionDoc> = {
  port: {
    type: "string",
    short: "p",
    arg: "PORT",
    help: "port to listen on (env SURE_PORT; default 8080)",
  },
  host: {
    type: "string",
    arg: "HOST",
    help: "address to listen on (env SURE_HOST; default 127.0.0.1)",
  },
  "data-dir": {
    type: "string",
    short: "d",
    arg: "DIR",
    help: "where state.kv and images/ live (env SURE_DATA_DIR; default ./.sure)",
  },
  "vcpu-cpus": {
    type: "string",
    arg: "LIST",
    help: "CPUs for the VMs: auto (all but the first, left to the node; default), all, or 1-3,6 " +
      "(env SURE_VCPU_CPUS)",
  },
  "memory-budget": {
    type: "string",
    arg: "MIB",
    help: "memory all VMs together may use (env SURE_MEMORY_BUDGET; default 75% of available)",
  },
  dataplane: {
    type: "string",
    arg: "KIND",
    help: "who serves HTTP: sockets (libsure's HTTP server runs /invoke of functions and " +
      "chains in C and hands the rest to the Hono app), af_xdp (the same server also on the " +
      "Z-stack, libsure's own TCP/IP on an AF_XDP socket: --iface, --addr; root) or hono " +
      "(Deno.serve and the Hono app for everything) (env SURE_DATAPLANE; default sockets)",
  },
  "dataplane-io": {
    type: "string",
    arg: "epoll|io_uring",
    help: "sockets, af_xdp: how libsure's server reads kernel sockets: epoll, or io_uring " +
      "(one syscall fewer per request; Linux 5.19+, refused where seccomp forbids it) " +
      "(env SURE_DATAPLANE_IO; default epoll)",
  },
  iface: {
    type: "string",
    arg: "IF",
    help: "af_xdp: the network interface the Z-stack serves on (env SURE_IFACE)",
  },
  addr: {
    type: "string",
    arg: "A.B.C.D[/LEN]",
    help: "af_xdp: the IPv4 address the Z-stack owns on --iface, one the kernel does not use " +
      "there, and its network's prefix length (default 24) (env SURE_ADDR)",
  },
  gateway: {
    type: "string",
    arg: "A.B.C.D",
    help: "af_xdp: the next hop for addresses off --addr's network (env SURE_GATEWAY)",
  },
  "node-name": {
    type: "string",
    arg: "NAME",
    help: 'this node\'s name, which chain steps name with "node" (env SURE_NODE_NAME)',
  },
  peer: {
    type: "string",
    multiple: true,
    arg: "NAME=ADDR:PORT",
    help: "another node and its data plane (numeric IPv4 address and port), for chain steps " +
      "it runs; repeat for each (env SURE_PEERS: NAME=ADDR:PORT,...)",
  },
  "peer-key-file": {
    type: "string",
    arg: "FILE",
    help: "the hop key (64 hex digits, the same on every node of a chain): hops are signed with " +
      "it and a hop without its MAC is refused; without it, hops are taken on the sender's " +
      "address alone (env SURE_PEER_KEY: the key itself; in a fleet with a fleet key, derived " +
      "from that key by default)",
  },
  "event-attempts": {
    type: "string",
    arg: "N",
    help: "attempts per event delivery before it is a dead letter (env SURE_EVENT_ATTEMPTS; " +
      "default 8)",
  },
  "tls-cert": {
    type: "string",
    arg: "FILE",
    help: "PEM certificate chain: the admin API is also served over TLS on --admin-port " +
      "(env SURE_TLS_CERT)",
  },
  "tls-key": { type: "string", arg: "FILE", help: "its PEM private key (env SURE_TLS_KEY)" },
  "admin-port": {
    type: "string",
    arg: "PORT",
    help: "port of the TLS admin listener (env SURE_ADMIN_PORT; default 8443)",
  },
  insecure: {
    type: "boolean",
    help: "a node on a --host beyond loopback serves its admin API over plain HTTP too " +
      "(the token is still required) (env SURE_INSECURE=1)",
  },
  fleet: {
    type: "string",
    arg: "URL",
    help: "join a fleet: its desired state in NATS JetStream at nats://HOST:PORT[,...]; needs " +
      "--node-name (env SURE_FLEET)",
  },
  labels: {
    type: "string",
    arg: "K=V,...",
    help: "this node's labels, which a function's placement can ask for (env SURE_LABELS)",
  },
  "fleet-key-file": {
    type: "string",
    arg: "FILE",
    help: "the fleet key (64 hex digits, the same on every node) that seals secrets in the " +
      "fleet (env SURE_FLEET_KEY: the key itself)",
  },
  "fleet-domain": {
    type: "string",
    arg: "NAME",
    help: "the JetStream domain of the fleet's hub, for a node that joins through its site's " +
      "NATS leaf server (env SURE_FLEET_DOMAIN)",
  },
  "fleet-replicas": {
    type: "string",
    arg: "N",
    help: "JetStream replicas of the fleet's buckets when this node makes them (default 1; 3 " +
      "on a three-server cluster) (env SURE_FLEET_REPLICAS)",
  },
};

/** --fleet and its companions, or undefined without --fleet; a UsageError names a bad one. */
export async function parseFleet(
  values: Record<string, FlagValue>,
  nodeName: string | undefined,
): Promise<FleetOptions | undefined> {
  const flag = (name: string, env: string) =>
    (values[name] as string | undefined) ?? (Deno.env.get(env) || undefined);
  const servers = flag("fleet", "SURE_FLEET");
  if (!servers) {
    for (const f of ["labels", "fleet-key-file", "fleet-replicas", "fleet-domain"]) {
      if (values[f] !== undefined) throw new UsageError(`--${f} goes with --fleet`);
    }
    return undefined;
  }
  for (const s of servers.split(",")) {
    if (!/^(nats:\/\/)?[A-Za-z0-9.\-\[\]:]+:\d{1,5}$/.test(s.trim())) {
      throw new UsageError(`--fleet ${s}: expected nats://HOST:PORT`);
    }
  }
  if (!nodeName) throw new UsageError("--fleet needs --node-name NAME (or SURE_NODE_NAME)");
  // Loaded here: the fleet's records make zod schemas, which client commands need not load.
  // Outside the try below, so a failure to load is not reported as a bad --labels.
  const { parseLabels } = await import("../fleet/records.ts");
  let labels;
  try {
    labels = parseLabels(flag("labels", "SURE_LABELS"));
  } catch (e) {
    throw new UsageError(`--labels: ${(e as Error).message}`);
  }
  const replicas = intFlag("fleet-replicas", flag("fleet-replicas", "SURE_FLEET_REPLICAS")) ?? 1;
  if (replicas < 1 || replicas > 5) throw new UsageError("--fleet-replicas must be 1..5");
  const domain = flag("fleet-domain", "SURE_FLEET_DOMAIN");
  if (domain !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(domain)) {
    throw new UsageError(`--fleet-domain ${domain}: letters, digits, - and _ only`);
  }
  const keyHex = await readKeyHex(values, "fleet-key-file", "SURE_FLEET_KEY");
  const keyFile = values["fleet-key-file"] as string | undefined;
  let key: CryptoKey | undefined;
  if (keyHex !== undefined) {
    try {
      key = await importFleetKey(keyHex);
    } catch (e) {
      throw new UsageError(
        `${keyFile ? `--fleet-key-file ${keyFile}` : "SURE_FLEET_KEY"}: ${(e as Error).message}`,
      );
    }
  }
  // Tests shorten the heartbeat (a node is dead after three missed beats).
  const beat = intFlag("SURE_FLEET_HEARTBEAT_MS", Deno.env.get("SURE_FLEET_HEARTBEAT_MS"));
  return {
    servers,
    nodeName,
    labels,
    replicas,
    ...(domain ? { domain } : {}),
    ...(key ? { key } : {}),
    ...(beat ? { heartbeatMs: beat } : {}),
  };
}

/** A key's hex digits from --FLAG FILE, else from the env variable itself. */
async function readKeyHex(
  values: Record<string, FlagValue>,
  flag: string,
  env: string,
): Promise<string | undefined> {
  const file = values[flag] as string | undefined;
  if (!file) return Deno.env.get(env) || undefined;
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    throw new UsageError(`--${flag} ${file}: ${(e as Error).message}`);
  }
}

/**
 * The hop key (hop_key.ts): --peer-key-file or SURE_PEER_KEY, else the
 * fleet's (derived from its key) when the node is in a fleet with one.
 */
export async function parseHopKey(
  values: Record<string, FlagValue>,
  inFleet: boolean,
): Promise<Uint8Array | undefined> {
  const hex = await readKeyHex(values, "peer-key-file", "SURE_PEER_KEY");
  if (hex !== undefined) {
    try {
      return keyFromHex(hex, "hop key");
    } catch (e) {
      const where = values["peer-key-file"]
        ? `--peer-key-file ${values["peer-key-file"]}`
        : "SURE_PEER_KEY";
      throw new UsageError(`${where}: ${(e as Error).message}`);
    }
  }
  const fleetHex = inFleet
    ? await readKeyHex(values, "fleet-key-file", "SURE_FLEET_KEY")
    : undefined;
  return fleetHex === undefined ? undefined : await hopKeyOfFleet(fleetHex);
}

/** --tls-cert and --tls-key together, or neither; a UsageError otherwise. */
export function parseTls(
  values: Record<string, FlagValue>,
): { cert: string; key: string; port: number } | undefined {
  const cert = (values["tls-cert"] as string | undefined) ??
    (Deno.env.get("SURE_TLS_CERT") || undefined);
  const key = (values["tls-key"] as string | undefined) ??
    (Deno.env.get("SURE_TLS_KEY") || undefined);
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new UsageError("--tls-cert and --tls-key go together");
  const port = intFlag(
    "admin-port",
    values["admin-port"] ?? (Deno.env.get("SURE_ADMIN_PORT") || undefined),
  ) ?? 8443;
  if (port > 65535) throw new UsageError("--admin-port must be at most 65535");
  return { cert, key, port };
}

/** "name=a.b.c.d:port" each: the other nodes' data planes; a UsageError names a bad one. */
export function parsePeers(list: string[]): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const item of list) {
    const m = /^([^=]+)=(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(item.trim());
    const octets = m ? m[2].split(".").map(Number) : [];
    if (
      !m || !NODE_NAME_PATTERN.test(m[1]) || octets.some((o) => o > 255) || Number(m[3]) < 1 ||
      Number(m[3]) > 65535
    ) {
      throw new UsageError(
        `--peer ${item}: expected NAME=ADDR:PORT with a node name and a numeric IPv4 address`,
      );
    }
    if (peers[m[1]]) throw new UsageError(`--peer ${m[1]} is given twice`);
    peers[m[1]] = `${m[2]}:${Number(m[3])}`;
  }
  return peers;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isIpv4 = (s: string) => IPV4.test(s) && s.split(".").every((o) => Number(o) <= 255);

/** --iface, --addr A.B.C.D[/LEN], --gateway (or their env) for --dataplane af_xdp. */
export function parseAfXdp(values: Record<string, FlagValue>): AfXdpOptions {
  const flag = (name: string, env: string) =>
    (values[name] as string | undefined) ?? (Deno.env.get(env) || undefined);
  const iface = flag("iface", "SURE_IFACE");
  const addr = flag("addr", "SURE_ADDR");
  const gateway = flag("gateway", "SURE_GATEWAY");
  if (!iface) throw new UsageError("--dataplane af_xdp needs --iface IF (or SURE_IFACE)");
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface)) {
    throw new UsageError(`--iface ${iface}: not an interface name (15 characters at most)`);
  }
  if (!addr) throw new UsageError("--dataplane af_xdp needs --addr A.B.C.D[/LEN] (or SURE_ADDR)");
  const [ip, len, ...rest] = addr.split("/");
  const prefix = len === undefined ? 24 : Number(len);
  if (
    rest.length || !isIpv4(ip) || ip === "0.0.0.0" || !/^\d{1,2}$/.test(len ?? "24") ||
    prefix < 1 || prefix > 32
  ) {
    throw new UsageError(`--addr ${addr}: expected a numeric IPv4 address and /1-32`);
  }
  if (gateway !== undefined && !isIpv4(gateway)) {
    throw new UsageError(`--gateway ${gateway}: expected a numeric IPv4 address`);
  }
  return { iface, addr: ip, prefix, ...(gateway ? { gateway } : {}) };
}

async function run(values: Record<string, FlagValue>, examples: boolean) {
  const port = intFlag("port", values.port ?? (Deno.env.get("SURE_PORT") || undefined)) ?? 8080;
  if (port > 65535) throw new UsageError("--port must be at most 65535");
  const budget = intFlag(
    "memory-budget",
    values["memory-budget"] ?? (Deno.env.get("SURE_MEMORY_BUDGET") || undefined),
  );
  if (budget === 0) throw new UsageError("--memory-budget must be at least 1 MiB");
  const attempts = intFlag(
    "event-attempts",
    values["event-attempts"] ?? (Deno.env.get("SURE_EVENT_ATTEMPTS") || undefined),
  );
  if (attempts === 0) throw new UsageError("--event-attempts must be at least 1");
  let vcpuPlacement: VcpuPlacement = "auto";
  const cpus = values["vcpu-cpus"] ?? (Deno.env.get("SURE_VCPU_CPUS") || undefined);
  if (cpus !== undefined) {
    try {
      vcpuPlacement = parseCpuList(String(cpus));
    } catch (e) {
      throw new UsageError(`--vcpu-cpus: ${(e as Error).message}`);
    }
  }
  const dataplane = (values.dataplane ?? (Deno.env.get("SURE_DATAPLANE") || "sockets")) as string;
  if (dataplane !== "hono" && dataplane !== "sockets" && dataplane !== "af_xdp") {
    throw new UsageError(`--dataplane must be sockets, af_xdp or hono, not ${dataplane}`);
  }
  const dataplaneIo =
    (values["dataplane-io"] ?? (Deno.env.get("SURE_DATAPLANE_IO") || "epoll")) as string;
  if (dataplaneIo !== "epoll" && dataplaneIo !== "io_uring") {
    throw new UsageError(`--dataplane-io must be epoll or io_uring, not ${dataplaneIo}`);
  }
  const afXdp = dataplane === "af_xdp" ? parseAfXdp(values) : undefined;
  if (afXdp && port === 0) {
    throw new UsageError("--dataplane af_xdp needs a fixed --port (the XDP program steers it)");
  }
  const nodeName = (values["node-name"] as string | undefined) ??
    (Deno.env.get("SURE_NODE_NAME") || undefined);
  if (nodeName !== undefined && !NODE_NAME_PATTERN.test(nodeName)) {
    throw new UsageError(`--node-name: ${nodeName} is not a node name (a-z, 0-9, '-', 31 at most)`);
  }
  const peers = parsePeers([
    ...((values.peer as string[] | undefined) ?? []),
    ...(Deno.env.get("SURE_PEERS") || "").split(",").filter((p) => p.trim()),
  ]);
  const tls = parseTls(values);
  const fleet = await parseFleet(values, nodeName);
  const hopKey = await parseHopKey(values, fleet !== undefined);
  const { startNode, STOP_GRACE_MS } = await import("../node.ts");
  const node = await startNode({
    ...(fleet ? { fleet } : {}),
    port,
    dataplane,
    dataplaneIo,
    ...(tls ? { tls } : {}),
    insecure: values.insecure === true || Deno.env.get("SURE_INSECURE") === "1",
    // The admin token the operator chose (sure install --token): else the data dir makes one.
    ...(Deno.env.get("SURE_ADMIN_TOKEN")
      ? { token: Deno.env.get("SURE_ADMIN_TOKEN")!.trim() }
      : {}),
    ...(afXdp ? { afXdp } : {}),
    placement: { ...(nodeName ? { self: nodeName } : {}), peers },
    ...(hopKey ? { hopKey } : {}),
    hostname: (values.host as string | undefined) ?? (Deno.env.get("SURE_HOST") || "127.0.0.1"),
    dataDir: (values["data-dir"] as string | undefined) ??
      (Deno.env.get("SURE_DATA_DIR") || "./.sure"),
    examples,
    scheduler: {
      vcpuPlacement,
      ...(budget === undefined ? {} : { memoryBudgetBytes: budget * 1048576 }),
    },
    events: attempts === undefined ? {} : { maxAttempts: attempts },
  });
  const signal = await new Promise<string>((resolve) => {
    const stop = (sig: Deno.Signal) => () => {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
      resolve(sig);
    };
    const onInt = stop("SIGINT"), onTerm = stop("SIGTERM");
    Deno.addSignalListener("SIGINT", onInt);
    Deno.addSignalListener("SIGTERM", onTerm);
  });
  // Says what stopping does; a second signal stops at once and says what it cut.
  const draining = node.inFlight();
  consoleLogger(
    "info",
    `${signal}: stopping, draining ${draining} request(s) for up to ` +
      `${STOP_GRACE_MS / 1000} s (a second SIGINT or SIGTERM stops at once)`,
    { inFlight: draining, graceMs: STOP_GRACE_MS },
  );
  const now = () => {
    const cut = node.inFlight();
    consoleLogger("warn", `stopping at once: ${cut} request(s) cut`, { cut });
    Deno.exit(1);
  };
  Deno.addSignalListener("SIGINT", now);
  Deno.addSignalListener("SIGTERM", now);
  await node.close();
  consoleLogger("info", "stopped");
  return 0;
}

export const serveCommand: Command = {
  name: "serve",
  summary: "Run a node: admin API under /admin, functions under /invoke/<name>, /healthz.",
  usage: "serve [--port PORT] [--host HOST] [--data-dir DIR] [--dataplane hono|sockets|af_xdp] " +
    "[--dataplane-io epoll|io_uring] [--iface IF --addr A.B.C.D[/LEN] [--gateway A.B.C.D]] " +
    "[--memory-budget MIB] [--vcpu-cpus LIST] [--node-name NAME] [--peer NAME=ADDR:PORT ...] [--peer-key-file FILE] " +
    "[--event-attempts N] [--tls-cert FILE --tls-key FILE [--admin-port PORT]] [--insecure] " +
    "[--fleet nats://HOST:PORT --node-name NAME [--labels K=V,...] [--fleet-key-file FILE] " +
    "[--fleet-replicas N] [--fleet-domain D]]",
  details: "Deployed functions are restored from the data directory at start. Without a usable\n" +
    "/dev/kvm the node still starts (healthz says degraded) and invocations answer 503.\n" +
    "Admin calls need the token the node writes to <data dir>/admin.token at first start;\n" +
    "on a --host beyond loopback they are served only over TLS unless --insecure.\n" +
    "With --fleet the node joins a fleet: functions deployed through any member's admin API\n" +
    "live in NATS JetStream and every member converges to them (labels, replicas place them).",
  options: OPTIONS,
  positionals: [0, 0],
  run: (values) => run(values, false),
};

export const devCommand: Command = {
  name: "dev",
  summary: "Like serve, but first builds and deploys every example in functions/.",
  usage:
    "dev [--port PORT] [--host HOST] [--data-dir DIR] [--memory-budget MIB] [--vcpu-cpus LIST] " +
    "[--node-name NAME] [--peer NAME=ADDR:PORT ...] [--peer-key-file FILE] [--event-attempts N] " +
    "[--tls-cert FILE --tls-key FILE [--admin-port PORT]] [--insecure]",
  options: OPTIONS,
  positionals: [0, 0],
  run: (values) => run(values, true),
};
