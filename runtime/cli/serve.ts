/** `sure serve` and `sure dev`: run a node in the foreground until SIGINT/SIGTERM. */
// The node itself (node.ts: Hono, zod, NATS, libsure) is imported when a node
// starts, not with this module: main.ts holds every command, and `sure ls` or
// `sure invoke` need none of it (they start in half the time without it).
// Client commands may then make zod schemas before the node loads: that is why
// every module takes `z` from @hono/zod-openapi (tests/zod_import_test.ts).
import { consoleLogger } from "../log.ts";
import type { Command, FlagValue } from "./command.ts";
import {
  looseKeyFiles,
  NODE_OPTIONS,
  parseNodeSettings,
  processEnv,
  withEnv,
} from "./node_settings.ts";

async function run(values: Record<string, FlagValue>, examples: boolean) {
  const settings = await parseNodeSettings(withEnv(values, processEnv), processEnv);
  for (const file of await looseKeyFiles(values)) {
    consoleLogger("warn", `${file} can be read by others than its owner: chmod 600 it`);
  }
  const { startNode, STOP_GRACE_MS } = await import("../node.ts");
  const node = await startNode({
    ...settings,
    // The admin token the operator chose (sure install --token): else the data dir makes one.
    ...(Deno.env.get("SURE_ADMIN_TOKEN")
      ? { token: Deno.env.get("SURE_ADMIN_TOKEN")!.trim() }
      : {}),
    examples,
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
  options: NODE_OPTIONS,
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
  options: NODE_OPTIONS,
  positionals: [0, 0],
  run: (values) => run(values, true),
};
