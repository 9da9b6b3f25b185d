/**
 * The version of the state a data dir holds (`["meta", "schema"]` in its
 * Deno KV), so that sure can change how it stores things without losing any:
 * a newer sure migrates older state step by step when it opens it; an older
 * sure refuses newer state before it writes anything, saying which versions
 * are involved. A data dir with no version is version 1: what sure wrote
 * before versions were kept.
 */
import { withDefaults } from "../settings/settings.ts";

export const STATE_SCHEMA = 2;
const SCHEMA_KEY = ["meta", "schema"] as const;

export class StateVersionError extends Error {}

/** Migration from version n to n + 1, by n. Each runs before the next. */
const MIGRATIONS: Record<number, (kv: Deno.Kv) => Promise<void>> = {
  // 1 -> 2: functions gained `access` (and versions began). Every stored
  // function record is written out whole, with the defaults of the settings
  // it predates, so that no reader depends on filling them in.
  1: async (kv) => {
    for await (const e of kv.list<Record<string, unknown>>({ prefix: ["functions"] })) {
      const r = await kv.atomic().check(e).set(e.key, withDefaults(e.value)).commit();
      if (!r.ok) throw new StateVersionError(`migrating ${e.key.join("/")}: changed meanwhile`);
    }
  },
};

/** The data dir's version (1 when it has none). */
export async function stateVersion(kv: Deno.Kv): Promise<number> {
  const v = (await kv.get<number>(SCHEMA_KEY)).value;
  return typeof v === "number" && Number.isInteger(v) && v >= 1 ? v : 1;
}

/**
 * Brings the state to STATE_SCHEMA, or refuses it (StateVersionError)
 * without writing when it is newer than this sure knows. Returns the version
 * it found.
 */
export async function upgradeState(kv: Deno.Kv, dataDir: string): Promise<number> {
  // A new data dir holds nothing to migrate: it starts at this version.
  let empty = true;
  for await (const _ of kv.list({ prefix: [] }, { limit: 1 })) empty = false;
  if (empty) {
    await kv.set(SCHEMA_KEY, STATE_SCHEMA);
    return STATE_SCHEMA;
  }
  const found = await stateVersion(kv);
  if (found > STATE_SCHEMA) {
    throw new StateVersionError(
      `the data directory ${dataDir} holds state version ${found}, written by a newer sure; this ` +
        `sure knows versions up to ${STATE_SCHEMA}: run the newer sure (nothing was changed)`,
    );
  }
  for (let v = found; v < STATE_SCHEMA; v++) {
    await MIGRATIONS[v](kv);
    await kv.set(SCHEMA_KEY, v + 1);
  }
  return found;
}
