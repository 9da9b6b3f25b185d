/**
 * The manifest of a function folder: an optional `sure.json` next to the C
 * sources. Every field is optional; the name defaults to the folder's name.
 * The settings and their ranges are those of the admin API (both come from
 * runtime/settings/settings.ts), so a built manifest always deploys.
 */
import { z } from "@hono/zod-openapi";
import { BuildError } from "./errors.ts";
import { FunctionName, isName } from "../names.ts";
import {
  type FunctionSettings,
  SCALE_RANGE_ISSUE,
  scaleRangeOk,
  SETTING_NAMES,
} from "../settings/settings.ts";
import { settingsShape } from "../settings/settings_schema.ts";
import { checkConfig, EnvProblem, type EnvVars } from "../settings/env.ts";
import { EnvVarsSchema } from "../settings/env_schema.ts";

/** sure.json. Unknown keys are refused: a typo must not pass silently. */
export const ManifestSchema = z.strictObject({
  name: FunctionName.optional(),
  ...settingsShape(false),
  // Environment values (public; secrets never go in a file that is checked in).
  env: EnvVarsSchema.optional(),
}).refine(scaleRangeOk, SCALE_RANGE_ISSUE);

/** Every setting a manifest may hold (besides its name and env), from the settings module. */
export const MANIFEST_SETTINGS = SETTING_NAMES;

/** Every field of sure.json. */
export const MANIFEST_FIELDS = ["name", ...MANIFEST_SETTINGS, "env"];

/**
 * The keys of the top-level object of a JSON text that appear more than
 * once: JSON.parse keeps the last silently, so the others would be lost.
 * text must be valid JSON.
 */
export function duplicateKeys(text: string): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const token = text.slice(i, j + 1);
      i = j;
      // A key of the top-level object: a string at depth 1 followed by ':'.
      let k = j + 1;
      while (/\s/.test(text[k] ?? "")) k++;
      if (depth === 1 && text[k] === ":") {
        const key = JSON.parse(token) as string;
        if (seen.has(key)) dups.add(key);
        seen.add(key);
      }
    }
  }
  return [...dups];
}

/** A manifest with every default applied. */
export interface FunctionManifest extends FunctionSettings {
  name: string;
  /** Environment values ({} if none). */
  env: EnvVars;
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
    const text = await Deno.readTextFile(path);
    raw = JSON.parse(text);
    const dups = duplicateKeys(text);
    if (dups.length) {
      throw new BuildError(`${path}: ${dups.map((k) => `${k}: given more than once`).join("; ")}`);
    }
  } catch (e) {
    if (e instanceof BuildError) throw e;
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new BuildError(
        `${path}: ${e instanceof SyntaxError ? "not valid JSON: " : ""}${(e as Error).message}`,
      );
    }
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      if (i.code === "unrecognized_keys") {
        return i.keys.map((k) => `${k}: unknown field (known: ${MANIFEST_FIELDS.join(", ")})`)
          .join("; ");
      }
      return i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message;
    });
    throw new BuildError(`${path}: ${problems.join("; ")}`);
  }
  const { name, env = {}, ...settings } = parsed.data;
  if (name === undefined && !isName(folderName)) {
    throw new BuildError(
      `"${folderName}" is not a valid function name: set "name" in ${path}` +
        " (or deploy it with --name)",
    );
  }
  try {
    checkConfig(env, {});
  } catch (e) {
    if (e instanceof EnvProblem) throw new BuildError(`${path}: env: ${e.message}`);
    throw e;
  }
  return { name: name ?? folderName, ...settings, env };
}
