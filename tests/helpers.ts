/**
 * Shared pieces of the Deno tests. Everything here uses the real parts:
 * libsure through ffi/, Deno KV in a temporary directory, real sockets.
 */
import { emptyVmsReady, probe } from "../ffi/mod.ts";
import { DEFAULT_EMPTY_VMS } from "../runtime/scheduler/scheduler.ts";
import { assembleNode, type RunningNode, startNode } from "../runtime/node.ts";
import { type LogRecord, memoryLogger } from "../runtime/log.ts";
import { Store } from "../runtime/store/store.ts";
import { parseCpuList } from "../runtime/scheduler/placement.ts";

/*
 * Every node a test starts (in this process, or spawned: they inherit the
 * environment) checks each JSON answer against its OpenAPI schema and fails
 * the request with a 500 naming the difference (runtime/middleware/response_check.ts).
 */
Deno.env.set("SURE_VALIDATE_RESPONSES", "1");

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const DENO = Deno.execPath();

/**
 * Every node a test starts locks its admin API with a token. The tests talk
 * to their nodes as their owner does: this fetch adds the node's token to
 * every request for that node's origin that does not set Authorization
 * itself. fetchWithoutToken is the plain fetch, for trying the locks.
 */
const nodeTokens = new Map<string, string>();
export const fetchWithoutToken: typeof fetch = globalThis.fetch.bind(globalThis);

/** Requests to url's origin (from this process) carry token from now on. */
export function registerNodeToken(url: string, token: string): void {
  nodeTokens.set(new URL(url).origin, token);
}

/** The token of the node at url, if a test started it. */
export function tokenFor(url: string): string | undefined {
  try {
    return nodeTokens.get(new URL(url).origin);
  } catch {
    return undefined;
  }
}

globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const url = input instanceof Request ? input.url : String(input);
  const token = tokenFor(url);
  if (!token) return fetchWithoutToken(input, init);
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : {}));
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  return fetchWithoutToken(input, { ...init, headers });
};

/** True when libsure loads and /dev/kvm (or $SURE_KVM_DEVICE) can run guests. */
export const hasKvm: boolean = (() => {
  try {
    return probe().kvm.available;
  } catch {
    return false;
  }
})();

/** True when guests get protection keys here (the gates close the library OS's pages). */
export const hasGuestPku: boolean = (() => {
  try {
    return probe().guestPku;
  } catch {
    return false;
  }
})();

/**
 * The first answer of a function with a short deadline that is not a 504
 * `deadline_exceeded`: a request that arrives with no instance waits for one
 * to start, and that wait counts against the deadline. A clone starts in a few
 * ms on hardware KVM but can take longer than 100 ms under emulation, so a
 * test that needs one warm instance before it tries the deadline calls until
 * a request ran (at most `tries` times).
 */
export async function pastColdStart<T extends { status: number; text: string }>(
  call: () => Promise<T>,
  tries = 10,
): Promise<T> {
  for (let i = 1;; i++) {
    const answer = await call();
    const expired = answer.status === 504 && answer.text.includes('"deadline_exceeded"');
    if (!expired || i >= tries) return answer;
    console.log(`pastColdStart: request ${i} expired while an instance started; again`);
  }
}

/**
 * Runs fn with guest protection keys off for every VM built meanwhile
 * (SURE_GUEST_PKU=off, read by libsure per VM): for tests of what the node
 * itself enforces, which is all that stands where guests have no keys.
 */
export async function withoutGuestKeys<T>(fn: () => Promise<T>): Promise<T> {
  const was = Deno.env.get("SURE_GUEST_PKU");
  Deno.env.set("SURE_GUEST_PKU", "off");
  try {
    return await fn();
  } finally {
    if (was === undefined) Deno.env.delete("SURE_GUEST_PKU");
    else Deno.env.set("SURE_GUEST_PKU", was);
  }
}

/** True when libsure.so exists (image checks need it even without KVM). */
export const hasLibsure: boolean = (() => {
  try {
    probe();
    return true;
  } catch {
    return false;
  }
})();

const built = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();

/**
 * Builds a function folder (relative to the repo) once per test process with
 * the real builder and returns the image bytes.
 */
export function buildImage(dir: string): Promise<Uint8Array<ArrayBuffer>> {
  let p = built.get(dir);
  if (!p) {
    p = (async () => {
      const { buildFunction } = await import("../runtime/builder/compile.ts");
      const out = await buildFunction(`${ROOT}/${dir}`);
      return await Deno.readFile(out.image);
    })();
    built.set(dir, p);
  }
  return p;
}

export const echoImage = () => buildImage("functions/echo");
export const faultyImage = () => buildImage("tests/fixtures/functions/faulty");

export interface TestNode extends RunningNode {
  dataDir: string;
  records: LogRecord[];
}

/** Writes raw bytes to a port and reads until `until` says the answer is whole (or the peer closes, or 20 s). */
export async function rawExchange(
  port: number,
  bytes: string,
  until: (text: string) => boolean,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(bytes));
    let text = "";
    const buf = new Uint8Array(65536);
    const deadline = Date.now() + 20000;
    while (!until(text) && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

/** Starts a node on a free loopback port with its data in a fresh temp dir. */
export async function startTestNode(
  opts: {
    dataDir?: string;
    scheduler?: Parameters<typeof startNode>[0]["scheduler"];
    events?: Parameters<typeof startNode>[0]["events"];
    dataplane?: Parameters<typeof startNode>[0]["dataplane"];
  } = {},
): Promise<TestNode> {
  const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "sure-test-" });
  const { logger, records } = memoryLogger();
  const node = await startNode({
    port: 0,
    dataDir,
    logger,
    scheduler: opts.scheduler,
    events: opts.events,
    dataplane: opts.dataplane,
  });
  registerNodeToken(node.url, node.token);
  return { ...node, dataDir, records };
}

/** The app with real store, scheduler and libsure, no socket (app.request). */
export async function openTestApp(
  dataDir?: string,
  events?: Parameters<typeof startNode>[0]["events"],
) {
  const dir = dataDir ?? await Deno.makeTempDir({ prefix: "sure-app-" });
  const { logger, records } = memoryLogger();
  const store = await Store.open(dir);
  // In-process: the app's routes, not its locks (tests/auth_test.ts tries those on a node).
  const parts = assembleNode(
    store,
    probe(),
    logger,
    { token: null, plainAdmin: true },
    {},
    true,
    events,
  );
  await parts.deployer.restore();
  return { ...parts, store, dataDir: dir, records };
}

/** Every text field of the deploy form. */
const FORM_FIELDS = [
  "name",
  "memory",
  "timeout",
  "maxBody",
  "minInstances",
  "maxInstances",
  "targetConcurrency",
  "idleTimeout",
  "coldStart",
  "concurrencyLimit",
  "rateLimit",
  "rateBurst",
  "deadline",
  "sidecar",
  "access",
] as const;

export type DeployFields = { [K in typeof FORM_FIELDS[number]]?: string | number } & {
  image?: Uint8Array<ArrayBuffer> | string;
};

/** The multipart body of POST /admin/functions. */
export function deployForm(f: DeployFields): FormData {
  const form = new FormData();
  for (const k of FORM_FIELDS) {
    if (f[k] !== undefined) form.append(k, String(f[k]));
  }
  if (f.image instanceof Uint8Array) form.append("image", new File([f.image], "image.sure"));
  else if (typeof f.image === "string") form.append("image", f.image);
  return form;
}

/** Deploys (or replaces) a function on a test node through the admin API. */
export async function deployFunction(
  node: TestNode,
  name: string,
  image: Uint8Array<ArrayBuffer>,
  timeout?: number,
  settings: DeployFields = {},
): Promise<void> {
  const res = await fetch(`${node.url}/admin/functions`, {
    method: "POST",
    body: deployForm({ ...settings, name, image, timeout }),
  });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`deploy ${name}: ${res.status} ${await res.text()}`);
  }
  await res.body?.cancel();
}

/** Everything durable in a data dir: image files and KV deployments. */
export async function snapshotState(dataDir: string): Promise<string> {
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(`${dataDir}/images`)) files.push(e.name);
  } catch {
    // no images dir yet
  }
  const kv = await Deno.openKv(`${dataDir}/state.kv`);
  const entries: unknown[] = [];
  try {
    for await (const e of kv.list({ prefix: [] })) entries.push([e.key, e.value]);
  } finally {
    kv.close();
  }
  return JSON.stringify({ files: files.sort(), entries });
}

/**
 * Waits until libsure's background refill of empty VMs (see
 * libsure/src/shells.c) is done, so that fd counts compare like with like.
 */
export async function emptyVmsSettled(): Promise<void> {
  await waitFor(() => emptyVmsReady() >= DEFAULT_EMPTY_VMS, 5000);
  await new Promise((r) => setTimeout(r, 10));
}

/** Counts of things a leak would grow: threads, fds, libsure's own counters. */
export function resourceCounts(): {
  tasks: number;
  fds: number;
  vmFds: number;
  nonSocketFds: number;
  sureThreads: number;
} {
  const count = (dir: string) => [...Deno.readDirSync(dir)].length;
  let vmFds = 0, nonSocketFds = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      const link = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
      // VMs, vCPUs, eventfds and guest memory: what libsure opens, and nothing HTTP does.
      if (/kvm|memfd:sure/.test(link)) vmFds++;
      // Everything but sockets (keep-alive connections, in both directions when
      // libsure's server is in front, come and go with the HTTP client's pool).
      if (!link.startsWith("socket:")) nonSocketFds++;
    } catch {
      // closed while we looked
    }
  }
  // libsure's own threads (vCPUs, chain steps, the data plane); Deno's pools come and go.
  let sureThreads = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      if (Deno.readTextFileSync(`/proc/self/task/${t.name}/comm`).startsWith("sure")) sureThreads++;
    } catch {
      // gone while we looked
    }
  }
  return {
    tasks: count("/proc/self/task"),
    fds: count("/proc/self/fd"),
    vmFds,
    nonSocketFds,
    sureThreads,
  };
}

/** Polls cond every 20 ms until it holds or ms pass; returns its last value. */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Like waitFor, for a condition that has to ask (e.g. over HTTP). */
export async function waitForAsync(cond: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

// ---- image surgery for the checker's 400 cases ------------------------------

const PT_LOAD = 1;
const PF_X = 1;
const PF_W = 2;

interface Phdr {
  off: number;
  type: number;
  flags: number;
  vaddr: bigint;
}

function phdrs(img: Uint8Array): Phdr[] {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const phoff = Number(dv.getBigUint64(0x20, true));
  const phentsize = dv.getUint16(0x36, true);
  const phnum = dv.getUint16(0x38, true);
  const out: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    out.push({
      off,
      type: dv.getUint32(off, true),
      flags: dv.getUint32(off + 4, true),
      vaddr: dv.getBigUint64(off + 0x10, true),
    });
  }
  return out;
}

/** A copy of img whose executable PT_LOAD is also writable. */
export function makeWritableCode(img: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  const code = phdrs(out).find((p) => p.type === PT_LOAD && (p.flags & PF_X));
  if (!code) throw new Error("image has no executable segment");
  dv.setUint32(code.off + 4, code.flags | PF_W, true);
  return out;
}

/** A copy of img whose first PT_LOAD sits on the library OS pages (GPA 0x3000). */
export function makeLowSegment(img: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  const seg = phdrs(out).find((p) => p.type === PT_LOAD);
  if (!seg) throw new Error("image has no PT_LOAD");
  // Move both vaddr and paddr so that only the placement is wrong.
  dv.setBigUint64(seg.off + 0x10, 0x3000n, true);
  dv.setBigUint64(seg.off + 0x18, 0x3000n, true);
  return out;
}

/** A copy of img whose code holds WRPKRU (0f 01 ef) at an odd byte of its executable segment. */
export function makePkruWriter(img: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  const code = phdrs(out).find((p) => p.type === PT_LOAD && (p.flags & PF_X));
  if (!code) throw new Error("image has no executable segment");
  const fileOff = Number(dv.getBigUint64(code.off + 8, true));
  out.set([0x0f, 0x01, 0xef], fileOff + 0x101);
  return out;
}

/** A copy of img whose section header table starts 16 bytes before its end. */
export function makeSectionsPastEnd(img: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = img.slice();
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0x28, BigInt(out.byteLength - 16), true);
  return out;
}

/** The first n bytes of img: a truncated ELF. */
export function truncate(img: Uint8Array, n = 200): Uint8Array<ArrayBuffer> {
  return img.slice(0, n);
}

/** The CPUs the data-plane thread of process pid may run on (from /proc), or null. */
export function dataplaneThreadCpus(pid: number): number[] | null {
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    const dir = `/proc/${pid}/task/${t.name}`;
    if (Deno.readTextFileSync(`${dir}/comm`).trim() !== "sure-dataplane") continue;
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(Deno.readTextFileSync(`${dir}/status`));
    if (!m) return null;
    const placed = parseCpuList(m[1]);
    return Array.isArray(placed) ? placed : null;
  }
  return null;
}

/** A port nothing listens on (bound, then closed). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
