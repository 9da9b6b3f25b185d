/**
 * Admin API for the instances of a function:
 *   GET  /admin/functions/:name/instances  live instances and scaling state
 *   POST /admin/functions/:name/scale      {"instances": n}: scale by hand now
 *   GET  /admin/functions/:name/requests   the latest requests the instances' sidecars recorded
 * Scaling settings themselves are changed with PATCH /admin/functions/:name.
 */
import { Hono } from "hono";
import { z } from "zod";
import { NotFoundError } from "../errors.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { COLD_START_MODES } from "../settings/settings.ts";
import { NAME_RE } from "./functions.ts";
import { readJson } from "./json.ts";

export const ScaleRequestSchema = z.strictObject({
  instances: z.number({ error: "must be a number" }).int({ error: "must be an integer" })
    .min(0, { error: "must be at least 0" })
    .max(1000, { error: "must be at most 1000" })
    .describe("Instances wanted now (at most the function's maxInstances)"),
});

export const InstanceSchema = z.object({
  id: z.number().int().describe("Node-unique instance number"),
  state: z.enum(["idle", "busy"]),
  startedAt: z.string().describe("ISO 8601 time it started serving"),
  ageMs: z.number().int(),
  idleMs: z.number().int().describe("Time since its last request (0 while busy)"),
  requests: z.number().int().describe("Requests it served"),
  startMs: z.number().describe("How long it took to start (clone or boot)"),
  start: z.enum(COLD_START_MODES),
});

export const InstancesSchema = z.object({
  function: z.string(),
  digest: z.string(),
  minInstances: z.number().int(),
  maxInstances: z.number().int(),
  targetConcurrency: z.number().int(),
  idleTimeout: z.number().int(),
  coldStart: z.enum(COLD_START_MODES),
  instances: z.array(InstanceSchema),
  starting: z.number().int().describe("Instances being started"),
  queued: z.number().int().describe("Requests waiting for an instance"),
  peakInstances: z.number().int().describe("Most instances alive at once since the deploy"),
  coldStarts: z.number().int().describe("Instances started because a request found none free"),
  requests: z.number().int(),
  template: z.object({
    residentBytes: z.number().int().describe("Host memory the template's RAM holds"),
    clones: z.number().int().describe("Instances cloned from it so far"),
  }).nullable(),
});

export interface InstanceRoutesDeps {
  scheduler: Scheduler;
}

export function instanceRoutes(deps: InstanceRoutesDeps): Hono {
  const r = new Hono();

  r.get("/:name/instances", (c) => c.json(deps.scheduler.status(checkedName(c.req.param("name")))));

  // The latest requests as the instances' library sidecars recorded them (in guest memory).
  r.get("/:name/requests", (c) => {
    const name = checkedName(c.req.param("name"));
    const now = Date.now();
    const requests = deps.scheduler.pool(name).requestRecords().map((r) => ({
      instance: r.instance,
      at: new Date(now - r.ageMs).toISOString(),
      durationUs: Math.round(r.durationUs * 1000) / 1000,
      status: r.status,
      answeredBy: r.reason === "handler" ? "function" : `sidecar:${r.reason}`,
      traceId: r.traceId,
      spanId: r.spanId,
    }));
    return c.json({ function: name, requests });
  });

  r.post("/:name/scale", async (c) => {
    const name = checkedName(c.req.param("name"));
    deps.scheduler.pool(name); // 404 before the body is read
    const { instances } = await readJson(c.req.raw, ScaleRequestSchema, '{"instances": n}');
    await deps.scheduler.scale(name, instances);
    return c.json(deps.scheduler.status(name));
  });

  return r;
}

function checkedName(name: string): string {
  if (!NAME_RE.test(name)) throw new NotFoundError(`function ${name} is not deployed`);
  return name;
}
