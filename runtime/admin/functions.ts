/**
 * Admin API for functions: /admin/functions[/:name].
 *
 * The zod schemas here are the single source of truth for validation and for
 * the OpenAPI document (runtime/admin/openapi.ts generates from them).
 */
import { Hono } from "hono";
import { z } from "zod";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../errors.ts";
import { type Deployer, IMAGE_MAX_BYTES } from "../deployer.ts";
import type { Store } from "../store/store.ts";
import type { ChainManager } from "../chains/manager.ts";
import { ConflictError } from "../errors.ts";
import {
  COLD_START_MODES,
  INT_SETTINGS,
  SCALE_RANGE_ISSUE,
  scaleRangeOk,
  SCALING_FIELDS,
  scalingPatchShape,
  settingsShape,
  SIDECAR_MODES,
} from "../settings/settings.ts";
import { readJson } from "./json.ts";

export const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

export const FunctionName = z.string().regex(NAME_RE, {
  error: "must start with a-z and contain only a-z, 0-9 and '-' (at most 63 characters)",
}).describe("Function name, also its URL: /invoke/{name}");

/** Deployment settings, as they come in a form (strings, coerced) or a manifest. */
export const DeployConfigSchema = z.object(settingsShape(true)).refine(
  scaleRangeOk,
  SCALE_RANGE_ISSUE,
);

/** The text fields of POST /admin/functions (multipart/form-data). */
export const DeployFormSchema = z.object({ ...settingsShape(true), name: FunctionName }).refine(
  scaleRangeOk,
  SCALE_RANGE_ISSUE,
);

/** What the admin API answers for a function. */
export const DeploymentSchema = z.object({
  name: FunctionName,
  digest: z.string().regex(/^[0-9a-f]{64}$/).describe("SHA-256 of the image"),
  size: z.number().int().describe("Image size in bytes"),
  ...describedSettings(),
  createdAt: z.string().describe("ISO 8601 time of the first deploy"),
  updatedAt: z.string().describe("ISO 8601 time of the last deploy"),
});

/** The settings as they are answered: plain values, described. */
function describedSettings() {
  const out: Record<string, z.ZodType> = {};
  for (const [key, s] of Object.entries(INT_SETTINGS)) {
    out[key] = z.number().int().describe(s.help);
  }
  out.coldStart = z.enum(COLD_START_MODES).describe("How new instances start");
  out.sidecar = z.enum(SIDECAR_MODES).describe("The library sidecar: on or off");
  return out;
}

export const DeploymentListSchema = z.object({ functions: z.array(DeploymentSchema) });

export const ErrorSchema = z.object({
  error: z.string().describe("Machine-readable error code"),
  message: z.string().describe("What went wrong, for people"),
  field: z.string().optional().describe("The request field at fault (validation errors)"),
}).loose();

/** PATCH /admin/functions/:name: new scaling settings, without a new image. */
export const ScalingPatchSchema = z.strictObject(scalingPatchShape()).refine(
  (p) => Object.keys(p).length > 0,
  { error: `give at least one of ${SCALING_FIELDS.join(", ")}` },
);

/** Text fields accepted by the deploy form; anything else is refused by name. */
const FORM_TEXT_FIELDS = new Set(["name", "coldStart", "sidecar", ...Object.keys(INT_SETTINGS)]);

/** Parses and validates the deploy form. Throws ValidationError naming the field. */
async function readDeployForm(req: Request) {
  const ct = req.headers.get("content-type") ?? "";
  if (!ct.toLowerCase().startsWith("multipart/form-data")) {
    throw new ValidationError(undefined, "body must be multipart/form-data");
  }
  // The form is buffered whole: refuse absurd uploads before reading them.
  const cl = Number(req.headers.get("content-length") ?? "0");
  if (cl > IMAGE_MAX_BYTES + (1 << 20)) throw new PayloadTooLargeError(IMAGE_MAX_BYTES);
  let form: FormData;
  try {
    form = await req.formData();
  } catch (e) {
    throw new ValidationError(undefined, `malformed multipart body: ${(e as Error).message}`);
  }
  const fields: Record<string, string> = {};
  let image: File | undefined;
  for (const [key, value] of form.entries()) {
    if (key === "image") {
      if (!(value instanceof File)) {
        throw new ValidationError("image", "must be a file upload, not a text field");
      }
      if (image) throw new ValidationError("image", "given more than once");
      image = value;
    } else if (FORM_TEXT_FIELDS.has(key)) {
      if (typeof value !== "string") throw new ValidationError(key, "must be a text field");
      if (key in fields) throw new ValidationError(key, "given more than once");
      // An empty optional field means "use the default".
      if (value !== "" || key === "name") fields[key] = value;
    } else {
      throw new ValidationError(key, "unknown field");
    }
  }
  const parsed = DeployFormSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length ? String(issue.path[0]) : undefined;
    const msg = field !== undefined && !(field in fields) ? "is required" : issue.message;
    throw new ValidationError(field, msg);
  }
  if (!image) throw new ValidationError("image", "is required (a file field)");
  return { ...parsed.data, image: new Uint8Array(await image.arrayBuffer()) };
}

export interface FunctionRoutesDeps {
  store: Store;
  deployer: Deployer;
  chains?: ChainManager;
}

export function functionRoutes(deps: FunctionRoutesDeps): Hono {
  const r = new Hono();

  r.post("/", async (c) => {
    const { name, image, ...cfg } = await readDeployForm(c.req.raw);
    if (deps.chains?.get(name)) {
      throw new ConflictError(`${name} is a chain; chains and functions share names`);
    }
    const { deployment, replaced } = await deps.deployer.deploy(name, image, cfg);
    if (replaced) await deps.chains?.functionDeployed(name);
    return c.json(deployment, replaced ? 200 : 201);
  });

  r.get("/", async (c) => {
    const functions = (await deps.store.list()).sort((a, b) => a.name.localeCompare(b.name));
    return c.json({ functions });
  });

  r.get("/:name", async (c) => {
    const name = c.req.param("name");
    const dep = NAME_RE.test(name) ? await deps.store.get(name) : null;
    if (!dep) throw notFound(name);
    return c.json(dep);
  });

  r.patch("/:name", async (c) => {
    const name = c.req.param("name");
    const dep = NAME_RE.test(name) ? await deps.store.get(name) : null;
    if (!dep) throw notFound(name);
    const patch = await readJson(c.req.raw, ScalingPatchSchema, "scaling settings");
    if (!scaleRangeOk({ ...dep, ...patch })) {
      throw new ValidationError(
        "minInstances",
        `must not be larger than maxInstances (${patch.maxInstances ?? dep.maxInstances})`,
      );
    }
    return c.json(await deps.deployer.updateScaling(name, patch));
  });

  r.delete("/:name", async (c) => {
    const name = c.req.param("name");
    if (!NAME_RE.test(name)) throw notFound(name);
    const users = deps.chains?.usedBy(name) ?? [];
    if (users.length) {
      throw new ConflictError(`function ${name} is used by chain(s) ${users.join(", ")}`);
    }
    return c.json(await deps.deployer.remove(name));
  });

  return r;
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`function ${name} is not deployed`);
}
