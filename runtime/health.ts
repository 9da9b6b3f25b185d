/**
 * GET /healthz: what this node can do right now. "degraded" means it serves
 * the admin API but cannot run functions (no usable KVM). `machine` says
 * what the host offers, probed at start; `isolation` what sure makes of it
 * (docs/architecture.md, "Security model").
 */
import { isolationModel } from "./isolation.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Capabilities } from "../ffi/mod.ts";
import type { AppEnv } from "./middleware/env.ts";
import type { Scheduler } from "./scheduler/scheduler.ts";

export const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  kvm: z.object({
    available: z.boolean().describe("This node can run functions (it needs KVM)"),
    reason: z.string().optional().describe("Why KVM cannot be used, when it cannot"),
  }),
  machine: z.object({
    kvm: z.boolean().describe("/dev/kvm can run guests"),
    protectionKeys: z.boolean().describe("The CPU has memory protection keys (PKU)"),
    afxdp: z.boolean().describe("AF_XDP sockets can be created"),
  }).describe(
    "What this machine offers, not what sure uses: sure uses KVM, and AF_XDP with " +
      "--dataplane af_xdp",
  ),
  functions: z.number().int().describe("Deployed functions"),
  instances: z.number().int().describe("Live function instances (micro-VMs)"),
  chains: z.number().int().describe("Chains in service"),
  memory: z.object({
    budgetBytes: z.number().int().describe("Memory all VMs together may reserve"),
    reservedBytes: z.number().int().describe("Reserved by live instances, templates and chains"),
  }),
  isolation: z.object({
    level: z.enum(["chain"]).describe(
      "chain: each function instance and chain step is its own KVM VM (functions are isolated " +
        "from each other and from the node); by default the steps of one chain share its pool " +
        "and could read any of its requests",
    ),
    requestLevel: z.boolean().describe(
      "Whether a chain may ask for request-level isolation (a step sees only what it holds)",
    ),
    keys: z.object({
      guests: z.boolean().describe(
        "Guests have protection keys and the gates use them (SURE_GUEST_PKU=off turns them off)",
      ),
      fenced: z.array(z.string()).describe("What the gates close to functions with them"),
    }).describe("Protection keys inside the function VMs"),
    reason: z.string().describe("Why the node gives what it gives"),
  }).describe("The data isolation this node gives"),
  dataplane: z.object({
    backend: z.enum(["hono", "sockets", "af_xdp"]).describe(
      "Who serves HTTP: the Hono app (Deno.serve), or libsure's HTTP server on kernel TCP " +
        "(sockets) or on kernel TCP and the Z-stack (af_xdp)",
    ),
    listen: z.string().describe("The public address"),
    io: z.enum(["epoll", "io_uring"]).optional().describe(
      "How libsure's server reads kernel sockets: epoll, or io_uring (sockets)",
    ),
    hopAuth: z.enum(["key", "address"]).optional().describe(
      "How chain hops from other nodes are authenticated: by the MAC of the nodes' shared hop " +
        "key, or by the sender's address alone (sockets)",
    ),
    connections: z.number().int().optional().describe("Open client connections (sockets)"),
    requests: z.number().int().optional().describe("Requests answered in C (sockets)"),
    tunnelled: z.number().int().optional().describe(
      "Tunnels to the Hono app begun: one per exchange, or the rest of a connection (sockets)",
    ),
    threads: z.number().int().optional().describe("Data-plane loop threads running (sockets)"),
    queues: z.object({
      waiting: z.number().int().describe("Requests waiting in C for an instance"),
      running: z.number().int().describe("Requests running on an instance"),
      inChains: z.number().int().describe("Requests inside chains"),
      atOtherNodes: z.number().int().describe(
        "Of the requests inside chains, those out at another node now (a hop in flight)",
      ),
      parked: z.number().int().describe(
        "Requests whose instance died, waiting for the control plane's answer",
      ),
    }).optional().describe("What the data plane holds now (sockets)"),
    cpus: z.array(z.number().int()).optional().describe(
      "CPUs the data-plane thread may run on, as the kernel has them (sockets)",
    ),
    stack: z.object({
      iface: z.string().describe("The interface its AF_XDP socket is bound to"),
      listen: z.string().describe("The address and port it serves"),
      connections: z.number().int().describe("Its open TCP connections"),
      rxFrames: z.number().int().describe("Frames received"),
      txFrames: z.number().int().describe("Frames sent"),
      retransmits: z.number().int().describe(
        "TCP segments sent again on duplicate ACKs (fast retransmit)",
      ),
      retransmitTimeouts: z.number().int().describe(
        "TCP retransmission timeouts (each sends the oldest unacknowledged segment again)",
      ),
      drops: z.number().int().describe(
        "Frames dropped (by the kernel for want of room, or by the stack)",
      ),
      xdp: z.enum(["native", "generic"]).describe(
        "How its XDP program runs: in the driver, or on the kernel's buffers (generic)",
      ),
      multiBuffer: z.boolean().describe(
        "Packets longer than a frame reach it in several frames (multi-buffer AF_XDP, Linux 6.6)",
      ),
      txChecksums: z.enum(["kernel", "stack"]).describe(
        "Who finishes its TCP checksums: the kernel (AF_XDP TX metadata, Linux 6.11), or the stack",
      ),
    }).optional().describe("The Z-stack (af_xdp)"),
  }),
  fleet: z.object({
    node: z.string().describe("This node's name in the fleet"),
    connected: z.boolean().describe("It reaches the fleet's NATS servers now"),
    alive: z.number().int().describe("Nodes of the fleet with a recent heartbeat, this one too"),
    failing: z.array(z.string()).describe("Functions placed here that could not be applied"),
  }).optional().describe("The fleet this node is in (sure serve --fleet)"),
}).openapi("Health");

export type Health = z.infer<typeof HealthSchema>;

/** What health says of the HTTP front (runtime/dataplane/link.ts, or Deno.serve). */
export interface FrontInfo {
  backend: "hono" | "sockets" | "af_xdp";
  listen: string;
  stats?: () => {
    io: "epoll" | "io_uring";
    hopKeyed: boolean;
    threads: number;
    cpus: number[];
    connsOpen: number;
    requests: number;
    tunnelled: number;
    queued: number;
    running: number;
    inChains: number;
    inHops: number;
    parked: number;
    stack: {
      connsOpen: number;
      rxFrames: number;
      txFrames: number;
      retransmits: number;
      retransmitTimeouts: number;
      drops: number;
      rxDropped: number;
      xdp: "native" | "generic";
      multiBuffer: boolean;
      txChecksums: "kernel" | "stack";
    };
  };
  /** The Z-stack's interface and address (af_xdp). */
  stack?: { iface: string; listen: string };
}

export interface HealthDeps {
  /** Set once the node listens. */
  front?: { current?: FrontInfo };
  capabilities: Capabilities;
  scheduler: Scheduler;
  version: string;
  chains?: { count: number };
  fleet?: {
    name: string;
    connected: boolean;
    liveNodes(): unknown[];
    failing: Map<string, string>;
  };
}

export function health(deps: HealthDeps): Health {
  const { kvm, pku, guestPku, afxdp } = deps.capabilities;
  return {
    status: kvm.available ? "ok" : "degraded",
    version: deps.version,
    kvm: kvm.available ? { available: true } : { available: false, reason: kvm.reason },
    machine: { kvm: kvm.available, protectionKeys: pku, afxdp },
    functions: deps.scheduler.functions,
    instances: deps.scheduler.instances,
    chains: deps.chains?.count ?? 0,
    memory: {
      budgetBytes: deps.scheduler.budget.limitBytes,
      reservedBytes: deps.scheduler.budget.usedBytes,
    },
    isolation: isolationModel(guestPku),
    dataplane: front(deps.front?.current),
    ...(deps.fleet
      ? {
        fleet: {
          node: deps.fleet.name,
          connected: deps.fleet.connected,
          alive: deps.fleet.liveNodes().length + 1,
          failing: [...deps.fleet.failing.keys()].sort(),
        },
      }
      : {}),
  };
}

function front(f: FrontInfo | undefined): Health["dataplane"] {
  if (!f) return { backend: "hono", listen: "" };
  const s = f.stats?.();
  return {
    backend: f.backend,
    listen: f.listen,
    ...(s
      ? {
        io: s.io,
        hopAuth: s.hopKeyed ? "key" as const : "address" as const,
        connections: s.connsOpen,
        requests: s.requests,
        tunnelled: s.tunnelled,
        queues: {
          waiting: s.queued,
          running: s.running,
          inChains: s.inChains,
          atOtherNodes: s.inHops,
          parked: s.parked,
        },
        threads: s.threads,
        cpus: s.cpus,
      }
      : {}),
    ...(f.stack && s
      ? {
        stack: {
          iface: f.stack.iface,
          listen: f.stack.listen,
          connections: s.stack.connsOpen,
          rxFrames: s.stack.rxFrames,
          txFrames: s.stack.txFrames,
          retransmits: s.stack.retransmits,
          retransmitTimeouts: s.stack.retransmitTimeouts,
          drops: s.stack.drops + s.stack.rxDropped,
          xdp: s.stack.xdp,
          multiBuffer: s.stack.multiBuffer,
          txChecksums: s.stack.txChecksums,
        },
      }
      : {}),
  };
}

export function healthRoutes(deps: HealthDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  r.openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      operationId: "health",
      summary: "Node health, and what this machine offers",
      tags: ["node"],
      responses: {
        200: {
          description: "Health",
          content: { "application/json": { schema: HealthSchema } },
        },
      },
    }),
    (c) => c.json(health(deps), 200),
  );
  return r;
}
