/**
 * Deployments in Deno KV: one entry per function under ["functions", name].
 */

import { type FunctionSettings, withDefaults } from "../settings/settings.ts";

/** One deployed function: its image and its settings (runtime/settings). */
export interface Deployment extends FunctionSettings {
  name: string;
  /** SHA-256 of the image, the name of its file in the images directory. */
  digest: string;
  /** Image size in bytes. */
  size: number;
  createdAt: string;
  updatedAt: string;
}

const PREFIX = "functions";

export class DeploymentStore {
  constructor(readonly kv: Deno.Kv) {}

  async get(name: string): Promise<Deployment | null> {
    const v = (await this.kv.get<Deployment>([PREFIX, name])).value;
    // Records stored before a setting existed get its default.
    return v ? withDefaults(v) : null;
  }

  async list(): Promise<Deployment[]> {
    const out: Deployment[] = [];
    for await (const e of this.kv.list<Deployment>({ prefix: [PREFIX] })) {
      out.push(withDefaults(e.value));
    }
    return out;
  }

  async put(dep: Deployment): Promise<void> {
    const r = await this.kv.atomic().set([PREFIX, dep.name], dep).commit();
    if (!r.ok) throw new Error(`could not store deployment ${dep.name}`);
  }

  async delete(name: string): Promise<void> {
    await this.kv.delete([PREFIX, name]);
  }
}
