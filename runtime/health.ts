/**
 * GET /healthz: what this node can do right now. "degraded" means it serves
 * the admin API but cannot run functions (no usable KVM).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Capabilities } from "../ffi/mod.ts";
import type { Scheduler } from "./scheduler/scheduler.ts";

export const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  kvm: z.object({
    available: z.boolean(),
    reason: z.string().optional().describe("Why KVM cannot be used, when it cannot"),
  }),
  pku: z.boolean().describe("The CPU has memory protection keys"),
  afxdp: z.boolean().describe("AF_XDP sockets can be created"),
  functions: z.number().int().describe("Deployed functions"),
  instances: z.number().int().describe("Live function instances (micro-VMs)"),
  chains: z.number().int().describe("Chains in service"),
  memory: z.object({
    budgetBytes: z.number().int().describe("Memory all VMs together may reserve"),
    reservedBytes: z.number().int().describe("Reserved by live instances, templates and chains"),
  }),
});

export type Health = z.infer<typeof HealthSchema>;

export interface HealthDeps {
  capabilities: Capabilities;
  scheduler: Scheduler;
  version: string;
  chains?: { count: number };
}

export function health(deps: HealthDeps): Health {
  const { kvm, pku, afxdp } = deps.capabilities;
  return {
    status: kvm.available ? "ok" : "degraded",
    version: deps.version,
    kvm: kvm.available ? { available: true } : { available: false, reason: kvm.reason },
    pku,
    afxdp,
    functions: deps.scheduler.functions,
    instances: deps.scheduler.instances,
    chains: deps.chains?.count ?? 0,
    memory: {
      budgetBytes: deps.scheduler.budget.limitBytes,
      reservedBytes: deps.scheduler.budget.usedBytes,
    },
  };
}

export function healthRoutes(deps: HealthDeps): Hono {
  const r = new Hono();
  r.get("/healthz", (c) => c.json(health(deps)));
  return r;
}
