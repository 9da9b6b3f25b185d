/**
 * Admin API for functions: /admin/functions[/{name}]. Each route is declared
 * once with its zod schemas (request and responses): Hono validates the
 * request with them and the OpenAPI document is generated from them.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FunctionControl } from "../deployer.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import {
  ACCESS_MODES,
  COLD_START_MODES,
  INT_SETTINGS,
  SCALE_RANGE_ISSUE,
  scaleRangeOk,
  SCALING_FIELDS,
  SIDECAR_MODES,
} from "../settings/settings.ts";
import { scalingPatchShape, settingsShape } from "../settings/settings_schema.ts";
import type { Store } from "../store/store.ts";
import type { ChainManager } from "../chains/manager.ts";
import { deployedFunction } from "./deployed.ts";
import { DeployFormDoc, readDeployForm } from "./deploy_form.ts";
import { ANY_OTHER_ERROR, error, json, NameParams } from "./schemas.ts";

/** Deployment settings, as they come in a form (strings, coerced) or a manifest (`sure dev`). */
export const DeployConfigSchema = z.object(settingsShape(true)).refine(
  scaleRangeOk,
  SCALE_RANGE_ISSUE,
);

/** The settings as they are answered: plain values, described. */
function describedSettings() {
  const out: Record<string, z.ZodType> = {};
  for (const [key, s] of Object.entries(INT_SETTINGS)) {
    out[key] = z.number().int().describe(s.help);
  }
  out.coldStart = z.enum(COLD_START_MODES).describe("How new instances start");
  out.sidecar = z.enum(SIDECAR_MODES).describe("The library sidecar: on or off");
  out.access = z.enum(ACCESS_MODES).describe(
    "Who may invoke it: public, or private (only with the node's admin token)",
  );
  return out;
}

/** What the admin API answers for a function. */
export const DeploymentSchema = z.object({
  name: FunctionName,
  digest: z.string().regex(/^[0-9a-f]{64}$/).describe("SHA-256 of the image"),
  size: z.number().int().describe("Image size in bytes"),
  ...describedSettings(),
  env: z.record(z.string(), z.string()).describe(
    "Environment values the function reads with sure_getenv (name -> value)",
  ),
  secrets: z.array(z.string()).describe(
    "Names of its secrets (sure_getenv reads them too; their values are never answered)",
  ),
  createdAt: z.string().describe("ISO 8601 time of the first deploy"),
  updatedAt: z.string().describe("ISO 8601 time of the last deploy"),
}).openapi("Deployment");

/** A deploy's answer: the deployment, and what it broke, if anything. */
export const DeployResultSchema = DeploymentSchema.extend({
  warnings: z.array(z.string()).optional().describe(
    "Chains using the function whose step could not start on it: they answer 502 " +
      "function_start_failed naming the step until a start succeeds (the node retries, and " +
      "every deploy tries again)",
  ),
}).openapi("DeployResult");

export const DeploymentListSchema = z.object({ functions: z.array(DeploymentSchema) })
  .openapi("DeploymentList");

/** PATCH /admin/functions/{name}: new scaling settings, without a new image. */
export const ScalingPatchSchema = z.strictObject(scalingPatchShape()).refine(
  (p) => Object.keys(p).length > 0,
  { error: `give at least one of ${SCALING_FIELDS.join(", ")}` },
).openapi("ScalingPatch");

const TAGS = ["functions"];
const NO_FUNCTION = error("No such function");

export interface FunctionRoutesDeps {
  store: Store;
  deployer: FunctionControl;
  scheduler: Scheduler;
  chains?: ChainManager;
}

export function functionRoutes(deps: FunctionRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  r.openAPIRegistry.register("DeployForm", DeployFormDoc);

  r.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "deployFunction",
      summary: "Deploy or replace a function",
      tags: TAGS,
      request: {
        body: {
          required: true,
          // Described, not validated by Hono: readDeployForm reads the upload (deploy_form.ts).
          content: {
            "multipart/form-data": { schema: { $ref: "#/components/schemas/DeployForm" } },
          },
        },
      },
      responses: {
        201: json(DeployResultSchema, "Deployed (new function)"),
        200: json(DeployResultSchema, "Replaced an existing function"),
        400: error("Invalid field or image; nothing was stored"),
        409: error("A chain has that name"),
        413: error("Upload too large"),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name, image, env, secrets, placement, ...cfg } = await readDeployForm(c.req.raw);
      if (deps.chains?.get(name)) {
        throw new ConflictError(`${name} is a chain; chains and functions share names`);
      }
      const { deployment, replaced } = await deps.deployer.deploy(
        name,
        image,
        cfg,
        { env, secrets },
        placement,
      );
      const warnings = replaced ? await deps.chains?.functionDeployed(name) : undefined;
      const body = warnings?.length ? { ...deployment, warnings } : deployment;
      return replaced ? c.json(body, 200) : c.json(body, 201);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/",
      operationId: "listFunctions",
      summary: "List deployed functions",
      tags: TAGS,
      responses: { 200: json(DeploymentListSchema, "All deployments"), default: ANY_OTHER_ERROR },
    }),
    async (c) => {
      const functions = (await deps.store.list()).sort((a, b) => a.name.localeCompare(b.name));
      return c.json({ functions }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "get",
      path: "/{name}",
      operationId: "getFunction",
      summary: "One deployment",
      tags: TAGS,
      request: { params: NameParams },
      responses: {
        200: json(DeploymentSchema, "The deployment"),
        404: NO_FUNCTION,
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const dep = await deps.store.get(name);
      if (!dep) throw notFound(name);
      return c.json(dep, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "patch",
      path: "/{name}",
      operationId: "updateScaling",
      summary: "Change a function's scaling settings (no new image); instances follow now",
      tags: TAGS,
      middleware: [deployedFunction(deps.scheduler)],
      request: {
        params: NameParams,
        body: { required: true, content: { "application/json": { schema: ScalingPatchSchema } } },
      },
      responses: {
        200: json(DeploymentSchema, "The updated deployment"),
        400: error("Invalid or empty settings; nothing was changed"),
        404: NO_FUNCTION,
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const patch = c.req.valid("json");
      const dep = await deps.store.get(name);
      if (!dep) throw notFound(name);
      if (!scaleRangeOk({ ...dep, ...patch })) {
        throw new ValidationError(
          "minInstances",
          `must not be larger than maxInstances (${patch.maxInstances ?? dep.maxInstances})`,
        );
      }
      return c.json(await deps.deployer.updateScaling(name, patch), 200);
    },
  );

  r.openapi(
    createRoute({
      method: "delete",
      path: "/{name}",
      operationId: "deleteFunction",
      summary: "Remove a function and destroy its instances",
      tags: TAGS,
      request: { params: NameParams },
      responses: {
        200: json(DeploymentSchema, "The removed deployment"),
        404: NO_FUNCTION,
        409: error("A chain uses the function"),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const users = deps.chains?.usedBy(name) ?? [];
      if (users.length) {
        throw new ConflictError(`function ${name} is used by chain(s) ${users.join(", ")}`);
      }
      return c.json(await deps.deployer.remove(name), 200);
    },
  );

  return r;
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`function ${name} is not deployed`);
}
