/**
 * A node's settings: `sure serve`'s flags, each with the SURE_* variable that
 * stands for it when it is not given, and the one parser that checks them all.
 * serve and dev parse the flags they are given over the process's environment;
 * install parses the flags alone, so it refuses what serve would refuse before
 * it writes anything, then writes each flag as its variable (install.ts).
 */
import type { AfXdpOptions, NodeOptions } from "../node.ts";
import { type FlagValue, intFlag, type OptionDoc, UsageError } from "./command.ts";
import { allowedCpus, parseCpuList, type VcpuPlacement } from "../scheduler/placement.ts";
import { NODE_NAME_PATTERN } from "../name_rules.ts";
import type { FleetOptions } from "../fleet/member.ts";
import { importFleetKey } from "../fleet/seal.ts";
import { hopKeyOfFleet, keyFromHex } from "../dataplane/hop_key.ts";

/** Where a variable's value comes from: the process (serve) or nowhere (install). */
export type EnvLookup = (name: string) => string | undefined;
export const processEnv: EnvLookup = (name) => Deno.env.get(name) || undefined;
export const noEnv: EnvLookup = () => undefined;

export const NODE_OPTIONS: Record<string, OptionDoc> = {
  port: {
    type: "string",
    short: "p",
    arg: "PORT",
    env: "SURE_PORT",
    help: "port to listen on (default 8080)",
  },
  host: {
    type: "string",
    arg: "HOST",
    env: "SURE_HOST",
    help: "address to listen on (default 127.0.0.1)",
  },
  "data-dir": {
    type: "string",
    short: "d",
    arg: "DIR",
    env: "SURE_DATA_DIR",
    help: "where state.kv and images/ live (default ./.sure)",
  },
  "vcpu-cpus": {
    type: "string",
    arg: "LIST",
    env: "SURE_VCPU_CPUS",
    help: "CPUs for the VMs: auto (all but the first, left to the node; default), all, or 1-3,6; " +
      "on CPUs of their own, plain instances' vCPU threads run at nice -10 (as root)",
  },
  "memory-budget": {
    type: "string",
    arg: "MIB",
    env: "SURE_MEMORY_BUDGET",
    help: "memory all VMs together may use (default 75% of available)",
  },
  dataplane: {
    type: "string",
    arg: "KIND",
    env: "SURE_DATAPLANE",
    help: "who serves HTTP: sockets (libsure's HTTP server runs /invoke of functions and " +
      "chains in C and hands the rest to the Hono app), af_xdp (the same server also on the " +
      "Z-stack, libsure's own TCP/IP on an AF_XDP socket: --iface, --addr; root) or hono " +
      "(Deno.serve and the Hono app for everything) (default sockets)",
  },
  "dataplane-io": {
    type: "string",
    arg: "epoll|io_uring",
    env: "SURE_DATAPLANE_IO",
    help: "sockets, af_xdp: how libsure's server reads kernel sockets: epoll, or io_uring " +
      "(one syscall fewer per request; Linux 5.19+, refused where seccomp forbids it) " +
      "(default epoll)",
  },
  iface: {
    type: "string",
    arg: "IF",
    env: "SURE_IFACE",
    help: "af_xdp: the network interface the Z-stack serves on",
  },
  addr: {
    type: "string",
    arg: "A.B.C.D[/LEN]",
    env: "SURE_ADDR",
    help: "af_xdp: the IPv4 address the Z-stack owns on --iface, one the kernel does not use " +
      "there, and its network's prefix length (default 24)",
  },
  gateway: {
    type: "string",
    arg: "A.B.C.D",
    env: "SURE_GATEWAY",
    help: "af_xdp: the next hop for addresses off --addr's network",
  },
  "node-name": {
    type: "string",
    arg: "NAME",
    env: "SURE_NODE_NAME",
    help: 'this node\'s name, which chain steps name with "node"',
  },
  peer: {
    type: "string",
    multiple: true,
    arg: "NAME=ADDR:PORT",
    env: "SURE_PEERS",
    help: "another node and its data plane (numeric IPv4 address and port), for chain steps " +
      "it runs; repeat for each",
  },
  "peer-key-file": {
    type: "string",
    arg: "FILE",
    env: "SURE_PEER_KEY",
    fileContent: true,
    secret: true,
    help: "the hop key (64 hex digits, the same on every node of a chain): hops are signed with " +
      "it and a hop without its MAC is refused; without it, hops are taken on the sender's " +
      "address alone (in a fleet with a fleet key, derived from that key by default)",
  },
  "event-attempts": {
    type: "string",
    arg: "N",
    env: "SURE_EVENT_ATTEMPTS",
    help: "attempts per event delivery before it is a dead letter (default 8)",
  },
  "tls-cert": {
    type: "string",
    arg: "FILE",
    env: "SURE_TLS_CERT",
    help: "PEM certificate chain: the admin API is also served over TLS on --admin-port",
  },
  "tls-key": {
    type: "string",
    arg: "FILE",
    env: "SURE_TLS_KEY",
    secret: true,
    help: "its PEM private key",
  },
  "admin-port": {
    type: "string",
    arg: "PORT",
    env: "SURE_ADMIN_PORT",
    help: "port of the TLS admin listener (default 8443)",
  },
  insecure: {
    type: "boolean",
    env: "SURE_INSECURE",
    help: "a node on a --host beyond loopback serves its admin API over plain HTTP too " +
      "(the token is still required)",
  },
  fleet: {
    type: "string",
    arg: "URL",
    env: "SURE_FLEET",
    help: "join a fleet: its desired state in NATS JetStream at nats://HOST:PORT[,...]; needs " +
      "--node-name",
  },
  labels: {
    type: "string",
    arg: "K=V,...",
    env: "SURE_LABELS",
    help: "this node's labels, which a function's placement can ask for",
  },
  "fleet-key-file": {
    type: "string",
    arg: "FILE",
    env: "SURE_FLEET_KEY",
    fileContent: true,
    secret: true,
    help: "the fleet key (64 hex digits, the same on every node) that seals secrets in the fleet",
  },
  "fleet-domain": {
    type: "string",
    arg: "NAME",
    env: "SURE_FLEET_DOMAIN",
    help: "the JetStream domain of the fleet's hub, for a node that joins through its site's " +
      "NATS leaf server",
  },
  "fleet-replicas": {
    type: "string",
    arg: "N",
    env: "SURE_FLEET_REPLICAS",
    help: "JetStream replicas of the fleet's buckets when this node makes them (default 1; 3 " +
      "on a three-server cluster)",
  },
};

/**
 * The flags, with each one not given taken from its variable. A key file's
 * variable holds the key itself, so it is not a flag's value: readKeyHex
 * reads it.
 */
export function withEnv(
  values: Record<string, FlagValue>,
  env: EnvLookup,
): Record<string, FlagValue> {
  const out = { ...values };
  for (const [name, o] of Object.entries(NODE_OPTIONS)) {
    const v = o.env && !o.fileContent ? env(o.env) : undefined;
    if (out[name] !== undefined || v === undefined) continue;
    if (o.multiple) out[name] = v.split(",").map((s) => s.trim()).filter((s) => s);
    else if (o.type === "boolean") out[name] = v === "1";
    else out[name] = v;
  }
  return out;
}

/** What a node runs with, from its flags (withEnv's): everything startNode takes but examples. */
export type NodeSettings = Omit<NodeOptions, "examples" | "token">;

/** Every setting of a node checked, or a UsageError that names the first bad one. */
export async function parseNodeSettings(
  values: Record<string, FlagValue>,
  env: EnvLookup,
  texts: KeyTexts = new Map(),
): Promise<NodeSettings> {
  const port = intFlag("port", values.port) ?? 8080;
  if (port > 65535) throw new UsageError("--port must be at most 65535");
  const budget = intFlag("memory-budget", values["memory-budget"]);
  if (budget === 0) throw new UsageError("--memory-budget must be at least 1 MiB");
  const attempts = intFlag("event-attempts", values["event-attempts"]);
  if (attempts === 0) throw new UsageError("--event-attempts must be at least 1");
  let vcpuPlacement: VcpuPlacement = "auto";
  if (values["vcpu-cpus"] !== undefined) {
    try {
      vcpuPlacement = parseCpuList(String(values["vcpu-cpus"]));
    } catch (e) {
      throw new UsageError(`--vcpu-cpus: ${(e as Error).message}`);
    }
    // A CPU this process may not run on would be dropped by the kernel without a word.
    const allowed = allowedCpus();
    const outside = Array.isArray(vcpuPlacement) && allowed
      ? vcpuPlacement.filter((c) => !allowed.includes(c))
      : [];
    if (outside.length) {
      throw new UsageError(
        `--vcpu-cpus: CPU ${outside.join(", ")} is not one this node may run on ` +
          `(${allowed!.join(",")})`,
      );
    }
  }
  const dataplane = (values.dataplane ?? "sockets") as string;
  if (dataplane !== "hono" && dataplane !== "sockets" && dataplane !== "af_xdp") {
    throw new UsageError(`--dataplane must be sockets, af_xdp or hono, not ${dataplane}`);
  }
  const dataplaneIo = (values["dataplane-io"] ?? "epoll") as string;
  if (dataplaneIo !== "epoll" && dataplaneIo !== "io_uring") {
    throw new UsageError(`--dataplane-io must be epoll or io_uring, not ${dataplaneIo}`);
  }
  const afXdp = dataplane === "af_xdp" ? parseAfXdp(values) : undefined;
  for (const f of afXdp ? [] : ["iface", "addr", "gateway"]) {
    if (values[f] !== undefined) throw new UsageError(`--${f} goes with --dataplane af_xdp`);
  }
  if (afXdp && port === 0) {
    throw new UsageError("--dataplane af_xdp needs a fixed --port (the XDP program steers it)");
  }
  const dataDir = values["data-dir"] as string | undefined;
  // "" would be the current directory to some calls and "/" to others (the
  // token was written at /admin.token): never what was meant.
  if (dataDir !== undefined && dataDir.trim() === "") {
    throw new UsageError("--data-dir: give a directory (it is empty)");
  }
  const nodeName = values["node-name"] as string | undefined;
  if (nodeName !== undefined && !NODE_NAME_PATTERN.test(nodeName)) {
    throw new UsageError(`--node-name: ${nodeName} is not a node name (a-z, 0-9, '-', 31 at most)`);
  }
  const peers = parsePeers((values.peer as string[] | undefined) ?? []);
  const tls = parseTls(values);
  const fleet = await parseFleet(values, nodeName, env, texts);
  const hopKey = await parseHopKey(values, fleet !== undefined, env, texts);
  return {
    ...(fleet ? { fleet } : {}),
    port,
    dataplane,
    dataplaneIo,
    ...(tls ? { tls } : {}),
    insecure: values.insecure === true,
    ...(afXdp ? { afXdp } : {}),
    placement: { ...(nodeName ? { self: nodeName } : {}), peers },
    ...(hopKey ? { hopKey } : {}),
    hostname: (values.host as string | undefined) ?? "127.0.0.1",
    dataDir: dataDir ?? "./.sure",
    scheduler: {
      vcpuPlacement,
      ...(budget === undefined ? {} : { memoryBudgetBytes: budget * 1048576 }),
    },
    events: attempts === undefined ? {} : { maxAttempts: attempts },
  };
}

/** --fleet and its companions, or undefined without --fleet; a UsageError names a bad one. */
export async function parseFleet(
  values: Record<string, FlagValue>,
  nodeName: string | undefined,
  env: EnvLookup = noEnv,
  texts: KeyTexts = new Map(),
): Promise<FleetOptions | undefined> {
  const flag = (name: string) => values[name] as string | undefined;
  const servers = flag("fleet");
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
    labels = parseLabels(flag("labels"));
  } catch (e) {
    throw new UsageError(`--labels: ${(e as Error).message}`);
  }
  const replicas = intFlag("fleet-replicas", flag("fleet-replicas")) ?? 1;
  if (replicas < 1 || replicas > 5) throw new UsageError("--fleet-replicas must be 1..5");
  const domain = flag("fleet-domain");
  if (domain !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(domain)) {
    throw new UsageError(`--fleet-domain ${domain}: letters, digits, - and _ only`);
  }
  const keyHex = await readKeyHex(values, "fleet-key-file", env, texts);
  let key: CryptoKey | undefined;
  if (keyHex !== undefined) {
    try {
      key = await importFleetKey(keyHex);
    } catch (e) {
      throw new UsageError(`${keySource(values, "fleet-key-file")}: ${(e as Error).message}`);
    }
  }
  // Tests shorten the heartbeat (a node is dead after three missed beats).
  const beat = intFlag("SURE_FLEET_HEARTBEAT_MS", env("SURE_FLEET_HEARTBEAT_MS"));
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

/** Where a key came from, for a message: its flag and file, else its variable. */
function keySource(values: Record<string, FlagValue>, flag: string): string {
  const file = values[flag] as string | undefined;
  return file ? `--${flag} ${file}` : NODE_OPTIONS[flag].env!;
}

/**
 * The key files read so far, by flag: each is read once, so that what is
 * checked is what is used (install checks a key, then copies it).
 */
export type KeyTexts = Map<string, Promise<string>>;

/** A key's hex digits from --FLAG FILE, else from its variable (which holds the key itself). */
export async function readKeyHex(
  values: Record<string, FlagValue>,
  flag: string,
  env: EnvLookup,
  texts: KeyTexts = new Map(),
): Promise<string | undefined> {
  const file = values[flag] as string | undefined;
  if (!file) return env(NODE_OPTIONS[flag].env!);
  let text = texts.get(flag);
  if (!text) {
    text = Deno.readTextFile(file).catch((e) => {
      throw new UsageError(`--${flag} ${file}: ${(e as Error).message}`);
    });
    texts.set(flag, text);
  }
  return await text;
}

/**
 * The secret files given (options marked secret: the hop key, the fleet key,
 * which opens the fleet's secrets, and the TLS key) whose mode lets anyone but
 * their owner read them (ssh refuses such a key; a node warns).
 */
export async function looseKeyFiles(values: Record<string, FlagValue>): Promise<string[]> {
  const loose: string[] = [];
  for (const [name, o] of Object.entries(NODE_OPTIONS)) {
    const file = o.secret ? values[name] as string | undefined : undefined;
    const mode = file ? (await Deno.stat(file).catch(() => null))?.mode : null;
    if (file && mode != null && (mode & 0o077) !== 0) {
      loose.push(`--${name} ${file} (mode ${(mode & 0o777).toString(8).padStart(4, "0")})`);
    }
  }
  return loose;
}

/**
 * The hop key (hop_key.ts): --peer-key-file or SURE_PEER_KEY, else the
 * fleet's (derived from its key) when the node is in a fleet with one.
 */
export async function parseHopKey(
  values: Record<string, FlagValue>,
  inFleet: boolean,
  env: EnvLookup = noEnv,
  texts: KeyTexts = new Map(),
): Promise<Uint8Array | undefined> {
  const hex = await readKeyHex(values, "peer-key-file", env, texts);
  if (hex !== undefined) {
    try {
      return keyFromHex(hex, "hop key");
    } catch (e) {
      throw new UsageError(`${keySource(values, "peer-key-file")}: ${(e as Error).message}`);
    }
  }
  const fleetHex = inFleet ? await readKeyHex(values, "fleet-key-file", env, texts) : undefined;
  return fleetHex === undefined ? undefined : await hopKeyOfFleet(fleetHex);
}

/** --tls-cert and --tls-key together, or neither; a UsageError otherwise. */
export function parseTls(
  values: Record<string, FlagValue>,
): { cert: string; key: string; port: number } | undefined {
  const cert = values["tls-cert"] as string | undefined;
  const key = values["tls-key"] as string | undefined;
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new UsageError("--tls-cert and --tls-key go together");
  const port = intFlag("admin-port", values["admin-port"]) ?? 8443;
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

/** --iface, --addr A.B.C.D[/LEN], --gateway for --dataplane af_xdp. */
export function parseAfXdp(values: Record<string, FlagValue>): AfXdpOptions {
  const iface = values.iface as string | undefined;
  const addr = values.addr as string | undefined;
  const gateway = values.gateway as string | undefined;
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
