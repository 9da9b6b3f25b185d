/**
 * The node's durable state in its data directory:
 *   <dataDir>/state.kv           Deno KV: deployments, event triggers; chains
 *                                and events keep their records in it too
 *                                (runtime/chains/store.ts, runtime/events/records.ts)
 *   <dataDir>/images/<sha>.sure  function images, content addressed
 *
 * The store knows functions only: the chains open their records on `kv`
 * themselves, so the store imports nothing above it (no import cycle).
 *
 * Callers validate images BEFORE calling deploy(): the store writes whatever
 * it is given. Mutations are serialised so that the "is this image still
 * referenced?" check on delete cannot race with a deploy of the same bytes.
 */
import { type Deployment, DeploymentStore } from "./deployments.ts";
import { ImageStore } from "./images.ts";
import { TriggerStore } from "./triggers.ts";
import { defaultSettings, type FunctionSettings } from "../settings/settings.ts";
import { checkConfig, type EnvVars, sortedVars } from "../settings/env.ts";
import { STATE_SCHEMA, upgradeState } from "./schema.ts";

export type { Deployment } from "./deployments.ts";

export type DeployConfig = FunctionSettings;

/** A function's configuration with the secrets' values (never answered). */
export interface FunctionConfig {
  env: EnvVars;
  secrets: EnvVars;
}

export interface ConfigOutcome {
  deployment: Deployment;
  /** The secrets' values, to build the guest's environment. */
  secrets: EnvVars;
}

export interface DeployOutcome {
  deployment: Deployment;
  /** The secrets' values it has now (kept ones included), to build the guest's environment. */
  secrets: EnvVars;
  /** The deployment this one replaced, if any. */
  previous: Deployment | null;
}

export class Store {
  readonly images: ImageStore;
  readonly deployments: DeploymentStore;
  /** Event triggers (the event sink's routing table). */
  readonly triggers: TriggerStore;
  /** The node's KV database, for modules that keep their own records in it. */
  readonly kv: Deno.Kv;
  /** The state version the data dir held when opened (STATE_SCHEMA: none migrated). */
  migratedFrom = STATE_SCHEMA;
  /** The latest mutation: the next one runs after it. */
  #last: Promise<unknown> = Promise.resolve();

  private constructor(readonly dataDir: string, kv: Deno.Kv) {
    this.kv = kv;
    this.images = new ImageStore(`${dataDir}/images`);
    this.deployments = new DeploymentStore(kv);
    this.triggers = new TriggerStore(kv);
  }

  static async open(dataDir: string): Promise<Store> {
    await Deno.mkdir(dataDir, { recursive: true });
    const kv = await Deno.openKv(`${dataDir}/state.kv`);
    const store = new Store(dataDir, kv);
    try {
      // Before anything is written (images.init tidies): newer state is refused untouched.
      store.migratedFrom = await upgradeState(kv, dataDir);
      await store.images.init();
      await store.#collect();
    } catch (e) {
      kv.close();
      throw e;
    }
    return store;
  }

  /** Runs fn after every earlier mutation finished. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#last.then(fn, fn);
    this.#last = run.catch(() => {});
    return run;
  }

  get(name: string): Promise<Deployment | null> {
    return this.deployments.get(name);
  }

  list(): Promise<Deployment[]> {
    return this.deployments.list();
  }

  readImage(digest: string): Promise<Uint8Array> {
    return this.images.read(digest);
  }

  /** The values of a function's secrets ({} if none). */
  secrets(name: string): Promise<EnvVars> {
    return this.deployments.secrets(name);
  }

  /**
   * Stores the image and creates or replaces the deployment `name` with its
   * configuration. The env values are replaced; secrets the previous
   * deployment had and config does not name are kept (their values cannot be
   * read back to be sent again). The result is checked (checkConfig throws
   * EnvProblem, and nothing is written).
   */
  deploy(
    name: string,
    image: Uint8Array,
    cfg: DeployConfig,
    config: FunctionConfig = { env: {}, secrets: {} },
  ): Promise<DeployOutcome> {
    return this.#serial(async () => {
      const previous = await this.deployments.get(name);
      const secrets = previous
        ? { ...await this.deployments.secrets(name), ...config.secrets }
        : config.secrets;
      checkConfig(config.env, secrets);
      const digest = await this.images.put(image);
      const now = new Date().toISOString();
      const deployment: Deployment = {
        name,
        digest,
        size: image.byteLength,
        ...pickSettings(cfg),
        env: sortedVars(config.env),
        secrets: Object.keys(secrets).sort(),
        createdAt: previous?.createdAt ?? now,
        updatedAt: now,
      };
      await this.deployments.put(deployment, secrets);
      if (previous && previous.digest !== digest) await this.#dropIfUnused(previous.digest);
      return { deployment, previous, secrets };
    });
  }

  /** Changes settings of a deployment in place (no new image); null if there is none. */
  update(name: string, change: Partial<FunctionSettings>): Promise<Deployment | null> {
    return this.#serial(async () => {
      const dep = await this.deployments.get(name);
      if (!dep) return null;
      const next = { ...dep, ...change, updatedAt: new Date().toISOString() };
      await this.deployments.put(next);
      return next;
    });
  }

  /**
   * Changes a deployment's configuration (same image): change gets the
   * current one and returns the new one, which is checked (checkConfig
   * throws EnvProblem, and nothing is written). null if there is none.
   */
  updateConfig(
    name: string,
    change: (current: FunctionConfig) => FunctionConfig,
  ): Promise<ConfigOutcome | null> {
    return this.#serial(async () => {
      const dep = await this.deployments.get(name);
      if (!dep) return null;
      const next = change({ env: { ...dep.env }, secrets: await this.deployments.secrets(name) });
      checkConfig(next.env, next.secrets);
      const deployment: Deployment = {
        ...dep,
        env: sortedVars(next.env),
        secrets: Object.keys(next.secrets).sort(),
        updatedAt: new Date().toISOString(),
      };
      await this.deployments.put(deployment, next.secrets);
      return { deployment, secrets: next.secrets };
    });
  }

  /** Deletes a deployment; returns it, or null if there was none. */
  remove(name: string): Promise<Deployment | null> {
    return this.#serial(async () => {
      const dep = await this.deployments.get(name);
      if (!dep) return null;
      await this.deployments.delete(name);
      await this.#dropIfUnused(dep.digest);
      return dep;
    });
  }

  async #dropIfUnused(digest: string): Promise<void> {
    const all = await this.deployments.list();
    if (!all.some((d) => d.digest === digest)) await this.images.remove(digest);
  }

  /** Removes images that no deployment references (left by a crash mid-deploy). */
  async #collect(): Promise<void> {
    const used = new Set((await this.deployments.list()).map((d) => d.digest));
    for (const digest of await this.images.list()) {
      if (!used.has(digest)) await this.images.remove(digest);
    }
  }

  close(): Promise<void> {
    return this.#serial(() => {
      this.kv.close();
      return Promise.resolve();
    });
  }
}

/** Only the settings (a manifest or form may carry more, like a name). */
export function pickSettings(cfg: FunctionSettings): FunctionSettings {
  const out = defaultSettings() as unknown as Record<string, unknown>;
  for (const key of Object.keys(out)) out[key] = (cfg as unknown as Record<string, unknown>)[key];
  return out as unknown as FunctionSettings;
}
