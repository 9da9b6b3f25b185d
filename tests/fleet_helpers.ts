/**
 * What the fleet tests share: JetStream nats-servers (one, or a cluster of
 * three) on free loopback ports, and `sure serve --fleet` nodes as their own
 * processes, with waits that say what they waited for.
 */
import assert from "node:assert/strict";
import { DENO, deployForm, echoImage, hasLibsure, registerNodeToken, ROOT } from "./helpers.ts";

/** Debian's nats-server is installed (scripts/setup.sh installs it). */
export const hasNats = (() => {
  try {
    return new Deno.Command("nats-server", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

export const KEY = "a1".repeat(32);
export const BEAT_MS = 300;

export interface Nats {
  port: number;
  dir: string;
  proc: Deno.ChildProcess;
}

/** A JetStream server on a free port of `host`, its store in `dir` (kept across restarts). */
export function startNats(
  dir: string,
  port = 0,
  extra: string[] = [],
  host = "127.0.0.1",
): Promise<Nats> {
  return runNats(dir, [
    "nats-server",
    "-js",
    "-a",
    host,
    "-p",
    String(port || -1),
    "-sd",
    dir,
    ...extra,
  ]);
}

/** nats-server with a configuration file of `dir` (a hub, a leaf), in network namespace `netns`. */
export function startNatsConf(dir: string, conf: string, netns?: string): Promise<Nats> {
  Deno.writeTextFileSync(`${dir}/nats.conf`, conf);
  const cmd = ["nats-server", "-c", `${dir}/nats.conf`];
  return runNats(dir, netns ? ["ip", "netns", "exec", netns, ...cmd] : cmd);
}

async function runNats(dir: string, cmd: string[]): Promise<Nats> {
  const proc = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    const { done, value } = await lines.read();
    if (done) break;
    log += value;
    const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
    if (m) {
      (async () => {
        while (!(await lines.read()).done) { /* drain */ }
      })();
      return { port: Number(m[1]), dir, proc };
    }
  }
  proc.kill("SIGKILL");
  throw new Error(`nats-server did not start:\n${log}`);
}

export async function stopNats(n: Nats): Promise<void> {
  try {
    n.proc.kill("SIGKILL");
  } catch {
    // already gone
  }
  await n.proc.status;
}

export interface FleetNode {
  name: string;
  url: string;
  dataDir: string;
  child: Deno.ChildProcess;
  log: () => string;
}

/** Loopback ports free now (taken and released: good enough for a test's servers). */
export function freePorts(n: number): number[] {
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = ls.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of ls) l.close();
  return ports;
}

/** Three JetStream servers in one cluster, each with its own store, clients on `host`. */
export async function startCluster(
  host = "127.0.0.1",
  extra: string[] = [],
): Promise<{ servers: Nats[]; urls: string }> {
  const ports = freePorts(6);
  const routes = ports.slice(3).map((p) => `nats://127.0.0.1:${p}`).join(",");
  const servers = await Promise.all([0, 1, 2].map(async (i) => {
    const dir = await Deno.makeTempDir({ prefix: `sure-nats-s${i}-` });
    return await startNats(dir, ports[i], [
      "-n",
      `s${i}`,
      "--cluster_name",
      "sure",
      "--cluster",
      `nats://127.0.0.1:${ports[3 + i]}`,
      "--routes",
      routes,
      ...extra,
    ], host);
  }));
  return { servers, urls: ports.slice(0, 3).map((p) => `nats://127.0.0.1:${p}`).join(",") };
}

export async function startNode(
  name: string,
  nats: number | string,
  labels: string,
  env: Record<string, string> = {},
  /** Its data dir from before (a restart); a new one when absent. */
  dir?: string,
  /** Run in this network namespace, listening on `host` there (admin in clear: the test's choice). */
  netns?: { name: string; host: string },
): Promise<FleetNode> {
  const dataDir = dir ?? await Deno.makeTempDir({ prefix: `sure-fleet-${name}-` });
  const serve = ["run", "-A", `${ROOT}/main.ts`, "serve", "--port", "0", "--data-dir", dataDir];
  const [cmd, args] = netns
    ? ["ip", ["netns", "exec", netns.name, DENO, ...serve, "--host", netns.host, "--insecure"]]
    : [DENO, serve];
  const child = new Deno.Command(cmd, {
    args,
    env: {
      SURE_FLEET: typeof nats === "number" ? `nats://127.0.0.1:${nats}` : nats,
      SURE_NODE_NAME: name,
      SURE_LABELS: labels,
      SURE_FLEET_KEY: KEY,
      SURE_FLEET_HEARTBEAT_MS: String(BEAT_MS),
      SURE_REQUEST_LOG: "0",
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  for (const s of [child.stdout, child.stderr]) {
    (async () => {
      for await (const c of s.pipeThrough(new TextDecoderStream())) out += c;
    })();
  }
  for (const end = Date.now() + 120_000; Date.now() < end;) {
    const m = /"msg":"sure node listening on (http:\/\/[^"]+)"/.exec(out);
    if (m) {
      registerNodeToken(m[1], (await Deno.readTextFile(`${dataDir}/admin.token`)).trim());
      return { name, url: m[1], dataDir, child, log: () => out };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`node ${name} did not start:\n${out}`);
}

export async function stopNode(n: FleetNode, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    n.child.kill(signal);
  } catch {
    // already gone
  }
  await n.child.status;
}

/** The nodes `n` sees alive, by name. */
export async function alive(n: FleetNode): Promise<string[]> {
  const r = await (await fetch(`${n.url}/admin/fleet/nodes`)).json();
  return r.nodes.filter((x: { alive: boolean }) => x.alive).map((x: { name: string }) => x.name)
    .sort();
}

export const names = async (n: FleetNode): Promise<string[]> => {
  const r = await fetch(`${n.url}/admin/functions`);
  assert.equal(r.status, 200);
  return ((await r.json()).functions as Array<{ name: string }>).map((f) => f.name).sort();
};

/** Waits (up to ms) until cond holds; returns how long it took, or throws with what was seen. */
export async function until(
  what: string,
  cond: () => Promise<boolean>,
  ms = 60_000,
): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await cond()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

export async function deploy(n: FleetNode, fields: { name: string }, extra?: [string, string][]) {
  const form = deployForm({ ...fields, image: await echoImage() });
  for (const [k, v] of extra ?? []) form.append(k, v);
  return await fetch(`${n.url}/admin/functions`, { method: "POST", body: form });
}

export async function fleetFunctions(n: FleetNode) {
  const r = await fetch(`${n.url}/admin/fleet/functions`);
  assert.equal(r.status, 200);
  return (await r.json()).functions as Array<
    { name: string; nodes: string[]; running: string[] }
  >;
}

/**
 * A Deno test on a fresh NATS server of its own: the nodes the test puts in
 * `nodes` are stopped after it, then the server.
 */
export function fleetTest(
  name: string,
  fn: (nats: Nats, nodes: FleetNode[]) => Promise<void>,
  /** More it needs (KVM, say) than NATS and libsure. */
  needs = true,
): void {
  Deno.test({
    name,
    ignore: !hasLibsure || !hasNats || !needs,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const nats = await startNats(await Deno.makeTempDir({ prefix: "sure-nats-" }));
      const nodes: FleetNode[] = [];
      try {
        await fn(nats, nodes);
      } finally {
        for (const n of nodes) await stopNode(n);
        await stopNats(nats);
      }
    },
  });
}
