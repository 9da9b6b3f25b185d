/**
 * The manifest of a function folder: an optional `sure.json` next to the C
 * sources. Every field is optional; the name defaults to the folder's name.
 * The settings and their ranges are those of the admin API (both come from
 * runtime/settings/settings.ts), so a built manifest always deploys.
 */
import { z } from "zod";
import { BuildError } from "./errors.ts";
import { FunctionName, isName } from "../names.ts";
import {
  type FunctionSettings,
  SCALE_RANGE_ISSUE,
  scaleRangeOk,
  settingsShape,
} from "../settings/settings.ts";

/** sure.json. Unknown keys are refused: a typo must not pass silently. */
export const ManifestSchema = z.strictObject({
  name: FunctionName.optional(),
  ...settingsShape(false),
}).refine(scaleRangeOk, SCALE_RANGE_ISSUE);

/** A manifest with every default applied. */
export interface FunctionManifest extends FunctionSettings {
  name: string;
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
  if (name === undefined && !isName(folderName)) {
    throw new BuildError(
      `folder name "${folderName}" is not a valid function name: set "name" in ${path}`,
    );
  }
  return { name: name ?? folderName, ...settings };
}
