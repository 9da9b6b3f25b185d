/**
 * Admin API for the instances of a function:
 *   GET  /admin/functions/{name}/instances  live instances and scaling state
 *   POST /admin/functions/{name}/scale      {"instances": n}: scale by hand now
 *   GET  /admin/functions/{name}/requests   the latest requests the instances' sidecars recorded
 * Scaling settings themselves are changed with PATCH /admin/functions/{name}.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { COLD_START_MODES } from "../settings/settings.ts";
import { deployedFunction } from "./deployed.ts";
import { ANY_OTHER_ERROR, error, json, NameParams } from "./schemas.ts";

export const ScaleRequestSchema = z.strictObject({
  instances: z.number({ error: "must be a number" }).int({ error: "must be an integer" })
    .min(0, { error: "must be at least 0" })
    .max(1000, { error: "must be at most 1000" })
    .describe("Instances wanted now (at most the function's maxInstances)"),
}).openapi("ScaleRequest");

export const InstanceSchema = z.object({
  id: z.number().int().describe("Node-unique instance number"),
  state: z.enum(["idle", "busy"]),
  startedAt: z.string().describe("ISO 8601 time it started serving"),
  ageMs: z.number().int(),
  idleMs: z.number().int().describe("Time since its last request (0 while busy)"),
  requests: z.number().int().describe("Requests it served"),
  startMs: z.number().describe("How long it took to start (clone or boot)"),
  start: z.enum(COLD_START_MODES),
}).openapi("Instance");

export const InstancesSchema = z.object({
  function: FunctionName,
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
  runaways: z.number().int().describe(
    "Idle instances stopped because they did not go back to sleep after their answer",
  ),
  requests: z.number().int(),
  template: z.object({
    residentBytes: z.number().int().describe("Host memory the template's RAM holds"),
    clones: z.number().int().describe("Instances cloned from it so far"),
  }).nullable(),
}).openapi("Instances");

export const RequestRecordsSchema = z.object({
  function: FunctionName,
  requests: z.array(z.object({
    instance: z.number().int(),
    at: z.string().describe("ISO 8601 time the sidecar took the request"),
    durationUs: z.number().describe("Handler time in microseconds"),
    status: z.number().int(),
    answeredBy: z.string().describe('"function", or "sidecar:<reason>" when it refused'),
    traceId: z.string(),
    spanId: z.string(),
  })).describe("Newest first"),
}).openapi("RequestRecords");

const TAGS = ["functions"];
const NO_FUNCTION = error("No such function");

export interface InstanceRoutesDeps {
  scheduler: Scheduler;
}

export function instanceRoutes(deps: InstanceRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();

  r.openapi(
    createRoute({
      method: "get",
      path: "/{name}/instances",
      operationId: "listInstances",
      summary: "Live instances of a function (state, age, requests) and its scaling state",
      tags: TAGS,
      request: { params: NameParams },
      responses: {
        200: json(InstancesSchema, "Instances"),
        404: NO_FUNCTION,
        default: ANY_OTHER_ERROR,
      },
    }),
    (c) => c.json(deps.scheduler.status(c.req.valid("param").name), 200),
  );

  // The latest requests as the instances' library sidecars recorded them (in guest memory).
  r.openapi(
    createRoute({
      method: "get",
      path: "/{name}/requests",
      operationId: "recentRequests",
      summary: "The latest requests the live instances' library sidecars recorded " +
        "(time, duration, status, who answered, trace and span ids)",
      tags: TAGS,
      request: { params: NameParams },
      responses: {
        200: json(RequestRecordsSchema, "Newest first"),
        404: NO_FUNCTION,
        default: ANY_OTHER_ERROR,
      },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const now = Date.now();
      const requests = deps.scheduler.group(name).requestRecords().map((r) => ({
        instance: r.instance,
        at: new Date(now - r.ageMs).toISOString(),
        durationUs: Math.round(r.durationUs * 1000) / 1000,
        status: r.status,
        answeredBy: r.reason === "handler" ? "function" : `sidecar:${r.reason}`,
        traceId: r.traceId,
        spanId: r.spanId,
      }));
      return c.json({ function: name, requests }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "post",
      path: "/{name}/scale",
      operationId: "scaleFunction",
      summary: "Scale to n instances now (answers once new ones serve)",
      tags: TAGS,
      middleware: [deployedFunction(deps.scheduler)],
      request: {
        params: NameParams,
        body: { required: true, content: { "application/json": { schema: ScaleRequestSchema } } },
      },
      responses: {
        200: json(InstancesSchema, "Instances after scaling"),
        400: error("n is not 0..maxInstances"),
        404: NO_FUNCTION,
        502: error("A new instance failed to start"),
        503: error("No KVM, or the node's memory budget has no room"),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      await deps.scheduler.scale(name, c.req.valid("json").instances);
      return c.json(deps.scheduler.status(name), 200);
    },
  );

  return r;
}
