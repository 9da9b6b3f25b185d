/**
 * Deployments in Deno KV: one entry per function under ["functions", name],
 * and its secrets' values, if it has any, apart under ["secrets", name] (the
 * public record holds their names only, so nothing that reads deployments
 * can leak them). Both are written in one atomic operation.
 */

import type { EnvVars } from "../settings/env.ts";
import { type FunctionSettings, withDefaults } from "../settings/settings.ts";

/** One deployed function: its image, its settings (runtime/settings) and configuration. */
export interface Deployment extends FunctionSettings {
  name: string;
  /** SHA-256 of the image, the name of its file in the images directory. */
  digest: string;
  /** Image size in bytes. */
  size: number;
  /** Environment values (public: shown by the admin API). */
  env: EnvVars;
  /** Names of its secrets (their values are kept apart, never answered). */
  secrets: string[];
  createdAt: string;
  updatedAt: string;
}

const PREFIX = "functions";
const SECRETS = "secrets";

/** Records stored before env and secrets existed have none. */
function withConfig(dep: Deployment): Deployment {
  const d = withDefaults(dep);
  if (typeof d.env !== "object" || d.env === null) d.env = {};
  if (!Array.isArray(d.secrets)) d.secrets = [];
  return d;
}

export class DeploymentStore {
  constructor(readonly kv: Deno.Kv) {}

  async get(name: string): Promise<Deployment | null> {
    const v = (await this.kv.get<Deployment>([PREFIX, name])).value;
    // Records stored before a setting existed get its default.
    return v ? withConfig(v) : null;
  }

  async list(): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for await (const e of this.kv.list<Deployment>({ prefix: [PREFIX] })) {
      out.push(withConfig(e.value));
    }
    return out;
  }

  /** The values of a function's secrets ({} if none). */
  async secrets(name: string): Promise<EnvVars> {
    return (await this.kv.get<EnvVars>([SECRETS, name])).value ?? {};
  }

  /** Writes the record and, when given, replaces its secrets' values (in one commit). */
  async put(dep: Deployment, secrets?: EnvVars): Promise<void> {
    const op = this.kv.atomic().set([PREFIX, dep.name], dep);
    if (secrets && Object.keys(secrets).length) op.set([SECRETS, dep.name], secrets);
    else if (secrets) op.delete([SECRETS, dep.name]);
    const r = await op.commit();
    if (!r.ok) throw new Error(`could not store deployment ${dep.name}`);
  }

  async delete(name: string): Promise<void> {
    const r = await this.kv.atomic().delete([PREFIX, name]).delete([SECRETS, name]).commit();
    if (!r.ok) throw new Error(`could not delete deployment ${name}`);
  }
}
