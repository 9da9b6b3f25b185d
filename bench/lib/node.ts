// A sure node in its own process for the benchmarks, and the admin calls they need.
import { freePort, mainTs, spawn, stop } from "./proc.ts";

export interface BenchNode {
  url: string;
  pid: number;
  /** Authorization with the node's admin token, for admin calls and /metrics. */
  auth: Record<string, string>;
  close(): Promise<void>;
}

/** Admin tokens of the bench nodes, by URL (deploy and scale below use them). */
const tokens = new Map<string, string>();

/** Remembers the admin token of a node started elsewhere (deploy, scaleTo and authFor use it). */
export function rememberToken(url: string, token: string): void {
  tokens.set(url, token);
}

export function authFor(url: string): Record<string, string> {
  const t = tokens.get(url);
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** `sure serve` on a free port with a fresh data dir; resolves once /healthz answers. */
export async function startBenchNode(
  extra: string[] = [],
  env: Record<string, string> = {},
  /** A port picked beforehand (a peer of another node names it); else a free one. */
  port = freePort(),
): Promise<BenchNode> {
  const dataDir = await Deno.makeTempDir({ prefix: "sure-bench-" });
  const proc = spawn([
    "run",
    "-A",
    "--quiet",
    mainTs,
    "serve",
    "--port",
    String(port),
    "--data-dir",
    dataDir,
    ...extra,
  ], env);
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/healthz`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error("the node did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  tokens.set(url, (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
  return {
    url,
    pid: proc.pid,
    auth: authFor(url),
    async close() {
      await stop(proc);
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** Deploys image as `name` with the given settings (form fields); its digest. */
export async function deploy(
  url: string,
  name: string,
  image: Uint8Array<ArrayBuffer>,
  settings: Record<string, string | number> = {},
): Promise<string> {
  const form = new FormData();
  form.append("name", name);
  for (const [k, v] of Object.entries(settings)) form.append(k, String(v));
  form.append("image", new File([image], `${name}.sure`));
  const r = await fetch(`${url}/admin/functions`, {
    method: "POST",
    body: form,
    headers: authFor(url),
  });
  if (!r.ok) throw new Error(`deploy ${name}: ${r.status} ${await r.text()}`);
  return (await r.json()).digest;
}

/** POST /admin/functions/<name>/scale; resolves when the instances serve. */
export async function scaleTo(url: string, name: string, instances: number): Promise<void> {
  const r = await fetch(`${url}/admin/functions/${name}/scale`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authFor(url) },
    body: JSON.stringify({ instances }),
  });
  if (!r.ok) throw new Error(`scale ${name} to ${instances}: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
}

/** One POST /invoke/<name>; throws unless it answers 200 with `expect` (default: body). */
export async function invokeOnce(
  url: string,
  name: string,
  body: string,
  expect = body,
): Promise<void> {
  const r = await fetch(`${url}/invoke/${name}`, { method: "POST", body });
  const text = await r.text();
  if (r.status !== 200 || text !== expect) throw new Error(`${name}: ${r.status} ${text}`);
}

/** Resident memory of a process, bytes (VmRSS). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU seconds a process used so far (utime + stime, all threads). */
export function cpuSecondsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/**
 * CPU seconds of a process outside its guests: user + system time less guest
 * time (field 43 of /proc/<pid>/stat: time its vCPU threads ran guest code,
 * which the kernel also counts as user time). What the node itself spends.
 */
export function hostCpuSecondsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12]) - Number(fields[40])) / 100;
}

/** CPU seconds the process's vCPU threads spent running guest code (field 43 of /proc/<pid>/stat). */
export function guestCpuSecondsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[40]) / 100;
}

export function memAvailable(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/meminfo"));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * A short pause: lets the node finish tearing down instances it just
 * stopped and refill its empty VMs (2 ms after one is taken), as it would
 * between sporadic requests. Longer pauses let the whole machine go idle,
 * which costs its own wake-up time (the cold start bench shows both).
 */
export function idle(ms = 5): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
