/**
 * The manifest of a function folder: an optional `sure.json` next to the C
 * sources. Every field is optional; the name defaults to the folder's name.
 * The ranges match the deploy settings of the admin API (DeployConfigSchema
 * in runtime/admin/functions.ts), so a built manifest always deploys. The
 * builder does not import that module: building must not pull in the node.
 */
import { z } from "zod";
import { BuildError } from "./errors.ts";

export const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

function int(min: number, max: number, def: number) {
  return z.number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(def);
}

/** sure.json. Unknown keys are refused: a typo must not pass silently. */
export const ManifestSchema = z.strictObject({
  name: z.string({ error: "must be a string" }).regex(NAME_RE, {
    error: "must start with a-z and contain only a-z, 0-9 and '-' (at most 63 characters)",
  }).optional(),
  /** Guest memory in MiB. */
  memory: int(8, 1024, 16),
  /** Per-request timeout in milliseconds. */
  timeout: int(1, 300000, 5000),
  /** Largest request body in bytes. */
  maxBody: int(1, 16777216, 1048576),
});

/** A manifest with every default applied. */
export interface FunctionManifest {
  name: string;
  memory: number;
  timeout: number;
  maxBody: number;
}

export const MANIFEST_FILE = "sure.json";

/**
 * Reads and checks `<dir>/sure.json` (absent = all defaults). folderName
 * is the name used when the manifest gives none. Throws BuildError.
 */
export async function readManifest(dir: string, folderName: string): Promise<FunctionManifest> {
  const path = `${dir}/${MANIFEST_FILE}`;
  let raw: unknown = {};
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new BuildError(
        `${path}: ${e instanceof SyntaxError ? "not valid JSON: " : ""}${(e as Error).message}`,
      );
    }
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message
    );
    throw new BuildError(`${path}: ${problems.join("; ")}`);
  }
  const { name, ...settings } = parsed.data;
  if (name === undefined && !NAME_RE.test(folderName)) {
    throw new BuildError(
      `folder name "${folderName}" is not a valid function name: set "name" in ${path}`,
    );
  }
  return { name: name ?? folderName, ...settings };
}
