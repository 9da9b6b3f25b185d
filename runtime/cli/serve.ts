/** `sure serve` and `sure dev`: run a node in the foreground until SIGINT/SIGTERM. */
import { startNode } from "../node.ts";
import { type Command, type FlagValue, intFlag, type OptionDoc, UsageError } from "./command.ts";
import { parseCpuList, type VcpuPlacement } from "../scheduler/placement.ts";

const OPTIONS: Record<string, OptionDoc> = {
  port: {
    type: "string",
    short: "p",
    arg: "PORT",
    help: "port to listen on (env SURE_PORT; default 8080)",
  },
  host: { type: "string", arg: "HOST", help: "address to listen on (default 127.0.0.1)" },
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
      "chains in C and hands the rest to the Hono app) or hono (Deno.serve and the Hono app " +
      "for everything) (env SURE_DATAPLANE; default sockets)",
  },
  "event-attempts": {
    type: "string",
    arg: "N",
    help: "attempts per event delivery before it is a dead letter (env SURE_EVENT_ATTEMPTS; " +
      "default 8)",
  },
};

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
  if (dataplane !== "hono" && dataplane !== "sockets") {
    throw new UsageError(`--dataplane must be hono or sockets, not ${dataplane}`);
  }
  const node = await startNode({
    port,
    dataplane,
    hostname: (values.host as string | undefined) ?? "127.0.0.1",
    dataDir: (values["data-dir"] as string | undefined) ??
      (Deno.env.get("SURE_DATA_DIR") || "./.sure"),
    examples,
    scheduler: {
      vcpuPlacement,
      ...(budget === undefined ? {} : { memoryBudgetBytes: budget * 1048576 }),
    },
    events: attempts === undefined ? {} : { maxAttempts: attempts },
  });
  await new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await node.close();
  return 0;
}

export const serveCommand: Command = {
  name: "serve",
  summary: "Run a node: admin API under /admin, functions under /invoke/<name>, /healthz.",
  usage: "serve [--port PORT] [--host HOST] [--data-dir DIR] [--dataplane hono|sockets] " +
    "[--memory-budget MIB] [--vcpu-cpus LIST] " +
    "[--event-attempts N]",
  details: "Deployed functions are restored from the data directory at start. Without a usable\n" +
    "/dev/kvm the node still starts (healthz says degraded) and invocations answer 503.",
  options: OPTIONS,
  positionals: [0, 0],
  run: (values) => run(values, false),
};

export const devCommand: Command = {
  name: "dev",
  summary: "Like serve, but first builds and deploys every example in functions/.",
  usage:
    "dev [--port PORT] [--host HOST] [--data-dir DIR] [--memory-budget MIB] [--vcpu-cpus LIST] " +
    "[--event-attempts N]",
  options: OPTIONS,
  positionals: [0, 0],
  run: (values) => run(values, true),
};
