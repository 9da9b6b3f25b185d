/**
 * GET /admin/openapi.json: an OpenAPI 3.1 description of the admin API (and
 * of /healthz and /invoke for completeness). The schemas are generated from
 * the zod schemas that validate the requests, so the two cannot drift.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  DeployFormSchema,
  DeploymentListSchema,
  DeploymentSchema,
  ErrorSchema,
  FunctionName,
  ScalingPatchSchema,
} from "./functions.ts";
import { InstancesSchema, ScaleRequestSchema } from "./instances.ts";
import { HealthSchema } from "../health.ts";
import { ChainSpecSchema } from "../chains/spec.ts";
import { ChainStatsSchema } from "./chains.ts";

type JsonSchema = Record<string, unknown>;

/** zod -> JSON Schema 2020-12 (the dialect of OpenAPI 3.1), without $schema. */
function schemaOf(s: z.ZodType, io: "input" | "output" = "output"): JsonSchema {
  const j = z.toJSONSchema(s, { io }) as JsonSchema;
  delete j.$schema;
  return j;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ "application/json": { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref("Error")) });

export function openApiDocument(version: string): JsonSchema {
  // The form's text fields come from zod; the file field is added here because
  // it is not a JSON value.
  const form = schemaOf(DeployFormSchema, "input");
  form.properties = {
    ...(form.properties as JsonSchema),
    image: {
      type: "string",
      contentMediaType: "application/octet-stream",
      description: "The function image (static ELF built by `sure build`)",
    },
  };
  form.required = ["name", "image"];

  const nameParam = {
    name: "name",
    in: "path",
    required: true,
    schema: schemaOf(FunctionName),
  };

  return {
    openapi: "3.1.0",
    info: {
      title: "sure node API",
      version,
      description: "Admin API of a sure node: functions, chains, health.",
    },
    paths: {
      "/admin/functions": {
        get: {
          operationId: "listFunctions",
          summary: "List deployed functions",
          responses: {
            "200": { description: "All deployments", content: json(ref("DeploymentList")) },
          },
        },
        post: {
          operationId: "deployFunction",
          summary: "Deploy or replace a function",
          requestBody: {
            required: true,
            content: { "multipart/form-data": { schema: ref("DeployForm") } },
          },
          responses: {
            "201": { description: "Deployed (new function)", content: json(ref("Deployment")) },
            "200": {
              description: "Replaced an existing function",
              content: json(ref("Deployment")),
            },
            "400": errorResponse("Invalid field or image; nothing was stored"),
            "413": errorResponse("Upload too large"),
          },
        },
      },
      "/admin/functions/{name}": {
        parameters: [nameParam],
        get: {
          operationId: "getFunction",
          summary: "One deployment",
          responses: {
            "200": { description: "The deployment", content: json(ref("Deployment")) },
            "404": errorResponse("No such function"),
          },
        },
        patch: {
          operationId: "updateScaling",
          summary: "Change a function's scaling settings (no new image); instances follow now",
          requestBody: { required: true, content: json(ref("ScalingPatch")) },
          responses: {
            "200": { description: "The updated deployment", content: json(ref("Deployment")) },
            "400": errorResponse("Invalid or empty settings; nothing was changed"),
            "404": errorResponse("No such function"),
          },
        },
        delete: {
          operationId: "deleteFunction",
          summary: "Remove a function and destroy its instances",
          responses: {
            "200": { description: "The removed deployment", content: json(ref("Deployment")) },
            "404": errorResponse("No such function"),
          },
        },
      },
      "/admin/functions/{name}/instances": {
        parameters: [nameParam],
        get: {
          operationId: "listInstances",
          summary: "Live instances of a function (state, age, requests) and its scaling state",
          responses: {
            "200": { description: "Instances", content: json(ref("Instances")) },
            "404": errorResponse("No such function"),
          },
        },
      },
      "/admin/functions/{name}/logs": {
        parameters: [nameParam],
        get: {
          operationId: "functionLogs",
          summary: "The function's own log lines (sure_log) as NDJSON; ?follow=1 streams new ones",
          parameters: [
            { name: "tail", in: "query", schema: { type: "integer", minimum: 0, maximum: 1000 } },
            { name: "follow", in: "query", schema: { type: "string", enum: ["0", "1"] } },
          ],
          responses: {
            "200": { description: "One JSON object per line: ts, function, instance, line" },
            "404": errorResponse("No such function"),
          },
        },
      },
      "/admin/functions/{name}/requests": {
        parameters: [nameParam],
        get: {
          operationId: "recentRequests",
          summary: "The latest requests the live instances' library sidecars recorded " +
            "(time, duration, status, who answered, trace and span ids)",
          responses: {
            "200": { description: "{ function, requests: [...] }, newest first" },
            "404": errorResponse("No such function"),
          },
        },
      },
      "/admin/functions/{name}/scale": {
        parameters: [nameParam],
        post: {
          operationId: "scaleFunction",
          summary: "Scale to n instances now (answers once new ones serve)",
          requestBody: { required: true, content: json(ref("ScaleRequest")) },
          responses: {
            "200": { description: "Instances after scaling", content: json(ref("Instances")) },
            "400": errorResponse("n is not 0..maxInstances"),
            "404": errorResponse("No such function"),
            "502": errorResponse("A new instance failed to start"),
            "503": errorResponse("The node's memory budget has no room"),
          },
        },
      },
      "/admin/chains": {
        get: {
          operationId: "listChains",
          summary: "List chains",
          responses: { "200": { description: "All chains ({ chains: [...] })" } },
        },
        post: {
          operationId: "applyChain",
          summary: "Create or replace a chain",
          requestBody: { required: true, content: json(ref("ChainInput")) },
          responses: {
            "201": { description: "Created", content: json(ref("Chain")) },
            "200": { description: "Replaced an existing chain", content: json(ref("Chain")) },
            "400": errorResponse("Invalid definition or a step that is not deployed"),
            "409": errorResponse("A function already has that name"),
          },
        },
      },
      "/admin/chains/{name}": {
        parameters: [nameParam],
        get: {
          operationId: "getChain",
          summary: "One chain",
          responses: {
            "200": { description: "The chain", content: json(ref("Chain")) },
            "404": errorResponse("No such chain"),
          },
        },
        delete: {
          operationId: "deleteChain",
          summary: "Remove a chain and destroy its instances and pool",
          responses: {
            "200": { description: "Removed" },
            "404": errorResponse("No such chain"),
          },
        },
      },
      "/admin/chains/{name}/stats": {
        parameters: [nameParam],
        get: {
          operationId: "chainStats",
          summary: "Zero-copy counters, pool use and per-step hand-off statistics",
          responses: {
            "200": { description: "Statistics", content: json(ref("ChainStats")) },
            "404": errorResponse("No such chain"),
          },
        },
      },
      "/admin/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "This document",
          responses: { "200": { description: "OpenAPI 3.1 document" } },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus text format: requests, errors by kind, latency, instances, " +
            "cold starts, sidecar counters, chain pools, memory",
          responses: { "200": { description: "text/plain; version=0.0.4" } },
        },
      },
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Node health and capabilities",
          responses: { "200": { description: "Health", content: json(ref("Health")) } },
        },
      },
      "/invoke/{name}": {
        parameters: [nameParam],
        post: {
          operationId: "invoke",
          summary: "Run the function with the request body",
          requestBody: { content: { "*/*": { schema: { type: "string" } } } },
          responses: {
            "200": { description: "The function's answer (its status and bytes)" },
            "404": errorResponse("No such function"),
            "413": errorResponse("Body larger than the function's maxBody"),
            "502": errorResponse("The function faulted"),
            "429": errorResponse("Over the function's rate or concurrency limit"),
            "503": errorResponse("KVM unavailable, function overloaded or memory budget full"),
            "504": errorResponse("The function timed out, or waited past its deadline"),
          },
        },
        get: {
          operationId: "invokeGet",
          summary: "Run the function with an empty body",
          responses: { "200": { description: "The function's answer" } },
        },
      },
    },
    components: {
      schemas: {
        DeployForm: form,
        Deployment: schemaOf(DeploymentSchema),
        ScalingPatch: schemaOf(ScalingPatchSchema, "input"),
        ScaleRequest: schemaOf(ScaleRequestSchema, "input"),
        Instances: schemaOf(InstancesSchema),
        DeploymentList: schemaOf(DeploymentListSchema),
        Error: schemaOf(ErrorSchema),
        Health: schemaOf(HealthSchema),
        ChainInput: schemaOf(ChainSpecSchema, "input"),
        Chain: schemaOf(ChainSpecSchema),
        ChainStats: schemaOf(ChainStatsSchema),
      },
    },
  };
}

export function openApiRoutes(version: string): Hono {
  const doc = openApiDocument(version);
  const r = new Hono();
  r.get("/openapi.json", (c) => c.json(doc));
  return r;
}
