/**
 * The body of POST /admin/functions: multipart/form-data with the function's
 * name, its settings as text fields and the image as a file. Read here by
 * hand rather than by Hono's form validator: the upload is refused by size
 * before it is read, and a field given twice, as a file instead of text, or
 * unknown is named in the 400. `env` and `secret` may repeat, one
 * "NAME=VALUE" each; a problem with a secret never quotes its value.
 */
import { z } from "@hono/zod-openapi";
import { IMAGE_MAX_BYTES } from "../deployer.ts";
import { PayloadTooLargeError, ValidationError, validationError } from "../errors.ts";
import { readLimited } from "../gateway/body.ts";
import { FunctionName } from "../names.ts";
import { parseLabels, type Placement } from "../fleet/records.ts";
import { type EnvVars, parseAssignment } from "../settings/env.ts";
import { INT_SETTINGS, SCALE_RANGE_ISSUE, scaleRangeOk } from "../settings/settings.ts";
import { settingsShape } from "../settings/settings_schema.ts";

/** The text fields (strings, coerced). */
export const DeployFormSchema = z.object({ ...settingsShape(true), name: FunctionName }).refine(
  scaleRangeOk,
  SCALE_RANGE_ISSUE,
);

/** The form as the OpenAPI document describes it: the fields as values, and the image file. */
export const DeployFormDoc = z.object({
  name: FunctionName,
  // Not coerced here: coercion would let null pass (as 0), and the document would say nullable.
  ...settingsShape(false),
  image: z.string().meta({
    contentMediaType: "application/octet-stream",
    description: "The function image (static ELF built by `sure build`)",
  }),
  env: z.array(z.string()).optional().describe(
    "Environment values, one NAME=VALUE per field (the field repeats); sure_getenv reads them",
  ),
  secret: z.array(z.string()).optional().describe(
    "Secrets, one NAME=VALUE per field (the field repeats): read by sure_getenv like env, " +
      "but never answered or logged (GET lists their names)",
  ),
  labels: z.string().optional().describe(
    "Fleet placement: only on nodes with these labels, k=v[,k=v...] (a fleet member only)",
  ),
  replicas: z.number().int().min(1).max(1000).optional().describe(
    "Fleet placement: on at most this many of the matching nodes (a fleet member only)",
  ),
});

/** The placement fields (a fleet member's; a single node refuses them). */
const PlacementFormSchema = z.object({
  labels: z.string().optional(),
  replicas: z.coerce.number({ error: "must be a number" }).int().min(1).max(1000).optional(),
});

/** The repeatable NAME=VALUE fields: form field -> what the deploy gets. */
const ASSIGNMENT_FIELDS = { env: "env", secret: "secrets" } as const;

/** Text fields accepted by the deploy form; anything else is refused by name. */
const FORM_TEXT_FIELDS = new Set([
  "name",
  "coldStart",
  "sidecar",
  "access",
  ...Object.keys(INT_SETTINGS),
]);
const PLACEMENT_FIELDS = new Set(["labels", "replicas"]);

/** Parses and validates the deploy form. Throws ValidationError naming the field. */
export async function readDeployForm(req: Request) {
  const ct = req.headers.get("content-type") ?? "";
  if (!ct.toLowerCase().startsWith("multipart/form-data")) {
    throw new ValidationError(undefined, "body must be multipart/form-data");
  }
  // The form is buffered whole: an absurd upload is refused by its length
  // before it is read, and a chunked one (no length) once it grows past it.
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = await readLimited(req, IMAGE_MAX_BYTES + (1 << 20));
  } catch (e) {
    if (e instanceof PayloadTooLargeError) throw new PayloadTooLargeError(IMAGE_MAX_BYTES);
    throw e;
  }
  let form: FormData;
  try {
    form = await new Response(body, { headers: { "content-type": ct } }).formData();
  } catch (e) {
    throw new ValidationError(undefined, `malformed multipart body: ${(e as Error).message}`);
  }
  const fields: Record<string, string> = {};
  const vars: Record<"env" | "secrets", EnvVars> = { env: {}, secrets: {} };
  let image: File | undefined;
  for (const [key, value] of form.entries()) {
    if (key === "env" || key === "secret") {
      if (typeof value !== "string") throw new ValidationError(key, "must be a text field");
      const kind = ASSIGNMENT_FIELDS[key];
      const a = parseAssignment(value);
      if (typeof a === "string") throw new ValidationError(key, a);
      if (Object.hasOwn(vars[kind], a[0])) {
        throw new ValidationError(key, `${JSON.stringify(a[0])} given more than once`);
      }
      vars[kind][a[0]] = a[1];
    } else if (key === "image") {
      if (!(value instanceof File)) {
        throw new ValidationError("image", "must be a file upload, not a text field");
      }
      if (image) throw new ValidationError("image", "given more than once");
      image = value;
    } else if (FORM_TEXT_FIELDS.has(key) || PLACEMENT_FIELDS.has(key)) {
      if (typeof value !== "string") throw new ValidationError(key, "must be a text field");
      if (key in fields) throw new ValidationError(key, "given more than once");
      // An empty optional field means "use the default".
      if (value !== "" || key === "name") fields[key] = value;
    } else {
      throw new ValidationError(key, "unknown field");
    }
  }
  const { labels, replicas, ...settings } = fields;
  const parsed = DeployFormSchema.safeParse(settings);
  if (!parsed.success) throw validationError(parsed.error, settings);
  const place = PlacementFormSchema.safeParse({ labels, replicas });
  if (!place.success) throw validationError(place.error, fields);
  const placement: Placement = {};
  if (place.data.labels !== undefined) {
    try {
      placement.labels = parseLabels(place.data.labels);
    } catch (e) {
      throw new ValidationError("labels", (e as Error).message);
    }
  }
  if (place.data.replicas !== undefined) placement.replicas = place.data.replicas;
  if (!image) throw new ValidationError("image", "is required (a file field)");
  return {
    ...parsed.data,
    image: new Uint8Array(await image.arrayBuffer()),
    env: vars.env,
    secrets: vars.secrets,
    placement,
  };
}
