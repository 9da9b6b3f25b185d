/**
 * Admin API for a function's configuration without a new image:
 *   PATCH  /admin/functions/{name}/env            set and unset env values
 *   PUT    /admin/functions/{name}/secrets/{key}  set one secret (write-only)
 *   DELETE /admin/functions/{name}/secrets/{key}  remove one secret
 * Each answers the deployment (secret NAMES only) and makes a new instance
 * group, as a redeploy of the same image would: a new template whose
 * sure_init sees the new values; requests in flight finish on the old ones.
 * A secret's value is in no answer, error or log line (the zod messages
 * below never quote it).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FunctionControl } from "../deployer.ts";
import { NotFoundError } from "../errors.ts";
import type { AppEnv } from "../middleware/env.ts";
import { FunctionName } from "../names.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { ChainManager } from "../chains/manager.ts";
import type { FunctionConfig } from "../store/store.ts";
import { ENV_NAME_MAX, ENV_NAME_RE } from "../settings/env.ts";
import { EnvVarsSchema } from "../settings/env_schema.ts";
import { deployedFunction } from "./deployed.ts";
import { DeployResultSchema } from "./functions.ts";
import { ANY_OTHER_ERROR, error, json, NameParams } from "./schemas.ts";

const VarName = z.string().regex(ENV_NAME_RE, {
  error: "must match [A-Za-z_][A-Za-z0-9_]*",
}).max(ENV_NAME_MAX, { error: `must be at most ${ENV_NAME_MAX} characters` });

/** PATCH .../env: values to set and names to remove (at least one of them). */
export const EnvPatchSchema = z.strictObject({
  set: EnvVarsSchema.optional().describe("Values to set (name -> value)"),
  unset: z.array(VarName).optional().describe("Names to remove (unknown names are ignored)"),
}).refine((p) => Object.keys(p.set ?? {}).length + (p.unset ?? []).length > 0, {
  path: ["set"],
  error: "give at least one name in set or unset",
}).openapi("EnvPatch");

/** PUT .../secrets/{key}: its value (never answered). */
export const SecretValueSchema = z.strictObject({
  value: z.string({ error: "must be a string" }).refine((v) => !v.includes("\0"), {
    error: "must not contain a NUL character",
  }).describe("The secret's value: write-only"),
}).openapi("SecretValue");

const SecretParams = z.object({
  name: FunctionName,
  key: VarName.openapi({ param: { name: "key", in: "path" }, example: "API_TOKEN" }),
});

const TAGS = ["functions"];
const NO_FUNCTION = error("No such function");
const CHANGED = json(DeployResultSchema, "The deployment with its new configuration");

export interface ConfigRoutesDeps {
  deployer: FunctionControl;
  scheduler: Scheduler;
  chains?: ChainManager;
}

export function configRoutes(deps: ConfigRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  const deployed = deployedFunction(deps.scheduler);

  /** Applies a change; chains using the function restart their step with it. */
  async function apply(
    name: string,
    change: (cur: FunctionConfig) => FunctionConfig,
    what: Record<string, unknown>,
  ) {
    const dep = await deps.deployer.updateConfig(name, change, what);
    const warnings = await deps.chains?.functionDeployed(name);
    return warnings?.length ? { ...dep, warnings } : dep;
  }

  r.openapi(
    createRoute({
      method: "patch",
      path: "/{name}/env",
      operationId: "updateEnv",
      summary: "Set or remove a function's env values (same image; new instances see them)",
      tags: TAGS,
      middleware: [deployed],
      request: {
        params: NameParams,
        body: { required: true, content: { "application/json": { schema: EnvPatchSchema } } },
      },
      responses: {
        200: CHANGED,
        400: error("Invalid name or value, or over the limits; nothing was changed"),
        404: NO_FUNCTION,
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const patch = c.req.valid("json");
      const set = patch.set ?? {};
      const unset = patch.unset ?? [];
      const dep = await apply(name, (cur) => {
        const env = { ...cur.env, ...set };
        for (const k of unset) delete env[k];
        return { env, secrets: cur.secrets };
      }, { envSet: Object.keys(set), envUnset: unset });
      return c.json(dep, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "put",
      path: "/{name}/secrets/{key}",
      operationId: "setSecret",
      summary: "Set one secret of a function (write-only; new instances see it)",
      tags: TAGS,
      middleware: [deployed],
      request: {
        params: SecretParams,
        body: { required: true, content: { "application/json": { schema: SecretValueSchema } } },
      },
      responses: {
        200: CHANGED,
        400: error("Invalid name or value, or over the limits; nothing was changed"),
        404: NO_FUNCTION,
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name, key } = c.req.valid("param");
      const { value } = c.req.valid("json");
      const dep = await apply(
        name,
        (cur) => ({ env: cur.env, secrets: { ...cur.secrets, [key]: value } }),
        { secretSet: key },
      );
      return c.json(dep, 200);
    },
  );

  r.openapi(
    createRoute({
      method: "delete",
      path: "/{name}/secrets/{key}",
      operationId: "deleteSecret",
      summary: "Remove one secret of a function (new instances no longer see it)",
      tags: TAGS,
      middleware: [deployed],
      request: { params: SecretParams },
      responses: {
        200: CHANGED,
        404: error("No such function or secret"),
        default: ANY_OTHER_ERROR,
      },
    }),
    async (c) => {
      const { name, key } = c.req.valid("param");
      const dep = await apply(name, (cur) => {
        if (!Object.hasOwn(cur.secrets, key)) {
          throw new NotFoundError(`function ${name} has no secret ${key}`);
        }
        const secrets = { ...cur.secrets };
        delete secrets[key];
        return { env: cur.env, secrets };
      }, { secretRemoved: key });
      return c.json(dep, 200);
    },
  );

  return r;
}
