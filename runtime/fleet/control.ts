/**
 * The admin API's function changes on a fleet member: each one is checked
 * here as it would be on a single node (size, configuration, the image
 * checker), then written to the fleet's desired state: the image into the
 * object store by digest, the record (settings, env, secrets sealed with the
 * fleet key, placement) into the desired bucket. Every node converges to it
 * (member.ts); this one answers once it has, where the function is placed on
 * it, so a deploy that answers 201 is served here at once. Record updates use
 * the bucket's revisions: two nodes changing one function at once cannot
 * lose either change.
 */
import type { DeployResult, FunctionControl } from "../deployer.ts";
import { checkDeploy } from "../deployer.ts";
import { checkImage } from "../../ffi/mod.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { FleetLink } from "./link.ts";
import { callFleet } from "./call.ts";
import {
  type DeployConfig,
  type Deployment,
  type FunctionConfig,
  pickSettings,
} from "../store/store.ts";
import { checkConfig, EnvProblem, sortedVars } from "../settings/env.ts";
import type { FunctionSettings } from "../settings/settings.ts";
import type { FleetMember } from "./member.ts";
import { placedOn } from "./placement.ts";
import {
  decode,
  encode,
  FUNCTION_PREFIX,
  type FunctionRecord,
  FunctionRecordSchema,
  type Placement,
} from "./records.ts";
import { openSecrets, sealSecrets } from "./seal.ts";

/** How long an admin change waits for the fleet and for this node to converge. */
const WAIT_MS = 60_000;

export class FleetControl implements FunctionControl {
  constructor(
    readonly member: FleetMember,
    readonly check: (image: Uint8Array, memMib: number) => string | null = checkImage,
  ) {}

  /** Runs fn against the fleet; a write that lost a race is a ConflictRetry. */
  #nats<T>(fn: (link: FleetLink) => Promise<T>): Promise<T> {
    return callFleet(this.member, fn, (e) => {
      if (e instanceof ConflictRetry) return e;
      if (/wrong last sequence/i.test(e.message)) return new ConflictRetry(e.message);
      return undefined;
    });
  }

  /**
   * The current record and its revision, or null; `record` is null when what
   * the bucket holds does not parse (written by hand, or by a newer sure): a
   * deploy replaces it, a removal deletes it, anything else is a 409.
   */
  async #stored(name: string): Promise<{ record: FunctionRecord | null; revision: number } | null> {
    const e = await this.#nats((link) => link.desired.get(`${FUNCTION_PREFIX}${name}`));
    if (!e || e.operation !== "PUT") return null;
    return { record: decode(FunctionRecordSchema, e.value), revision: e.revision };
  }

  /** The current record (null: none), for a change that needs one that parses. */
  async #current(name: string): Promise<{ record: FunctionRecord; revision: number } | null> {
    const cur = await this.#stored(name);
    if (cur && !cur.record) {
      throw new ConflictError(
        `the fleet's record of ${name} does not parse: deploy ${name} again, or remove it`,
      );
    }
    return cur as { record: FunctionRecord; revision: number } | null;
  }

  /** Writes a record (create, or update from `revision`), then waits for this node. */
  async #write(record: FunctionRecord, revision: number | null): Promise<void> {
    const key = `${FUNCTION_PREFIX}${record.name}`;
    const rev = await this.#nats((link) =>
      revision === null
        ? link.desired.create(key, encode(record))
        : link.desired.update(key, encode(record), revision)
    );
    await this.#converged(record.name, rev, record.placement);
  }

  async #converged(name: string, rev: number, placement: Placement | null): Promise<void> {
    const here = placement !== null && placedOn(name, placement, [
      { name: this.member.name, labels: this.member.labels },
      ...this.member.liveNodes(),
    ]).includes(this.member.name);
    if (!here && placement !== null) return;
    const failed = await this.member.applied(name, rev, WAIT_MS);
    if (failed) throw new ValidationError(undefined, `stored in the fleet, but here: ${failed}`);
  }

  /** Runs a read-modify-write until no other node changed the record in between. */
  async #retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0;; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof ConflictRetry) || i >= 5) {
          throw e instanceof ConflictRetry
            ? new Error(`the fleet's record kept changing: ${e.message}`)
            : e;
        }
      }
    }
  }

  deploy(
    name: string,
    image: Uint8Array,
    cfg: DeployConfig,
    config: FunctionConfig = { env: {}, secrets: {} },
    placement: Placement = {},
  ): Promise<DeployResult> {
    checkDeploy(image, cfg, config, this.check);
    return this.#retry(async () => {
      const digest = await sha256(image);
      await this.#nats(async (link) => {
        // An image deleted once (no function used it) leaves a marker that info() returns.
        const info = await link.images.info(digest);
        if (!info || info.deleted) await link.images.putBlob({ name: digest }, image);
      });
      const stored = await this.#stored(name);
      const prev = stored?.record ? { record: stored.record, revision: stored.revision } : null;
      const kept = prev ? await openSecrets(this.member.key, name, prev.record.sealed) : {};
      const secrets = { ...kept, ...config.secrets };
      configChecked(config.env, secrets);
      const now = new Date().toISOString();
      const record: FunctionRecord = {
        name,
        digest,
        size: image.byteLength,
        settings: pickSettings(cfg),
        env: sortedVars(config.env),
        secrets: Object.keys(secrets).sort(),
        sealed: await sealSecrets(this.member.key, name, secrets),
        placement,
        createdAt: prev?.record.createdAt ?? now,
        updatedAt: now,
        by: this.member.name,
      };
      await this.#write(record, stored?.revision ?? null);
      if (prev && prev.record.digest !== digest) await this.#dropImageIfUnused(prev.record.digest);
      return { deployment: toDeployment(record), replaced: stored !== null };
    });
  }

  updateScaling(name: string, change: Partial<FunctionSettings>): Promise<Deployment> {
    return this.#retry(async () => {
      const prev = await this.#current(name);
      if (!prev) throw new NotFoundError(`function ${name} is not deployed`);
      const record = {
        ...prev.record,
        settings: { ...prev.record.settings, ...change },
        updatedAt: new Date().toISOString(),
        by: this.member.name,
      };
      await this.#write(record, prev.revision);
      return toDeployment(record);
    });
  }

  updateConfig(
    name: string,
    change: (current: FunctionConfig) => FunctionConfig,
  ): Promise<Deployment> {
    return this.#retry(async () => {
      const prev = await this.#current(name);
      if (!prev) throw new NotFoundError(`function ${name} is not deployed`);
      const secrets = await openSecrets(this.member.key, name, prev.record.sealed);
      const next = change({ env: { ...prev.record.env }, secrets });
      configChecked(next.env, next.secrets);
      const record = {
        ...prev.record,
        env: sortedVars(next.env),
        secrets: Object.keys(next.secrets).sort(),
        sealed: await sealSecrets(this.member.key, name, next.secrets),
        updatedAt: new Date().toISOString(),
        by: this.member.name,
      };
      await this.#write(record, prev.revision);
      return toDeployment(record);
    });
  }

  remove(name: string): Promise<Deployment> {
    return this.#retry(async () => {
      const prev = await this.#stored(name);
      if (!prev) throw new NotFoundError(`function ${name} is not deployed`);
      await this.#nats((link) =>
        link.desired.delete(`${FUNCTION_PREFIX}${name}`, { previousSeq: prev.revision })
      );
      await this.#converged(name, 0, null);
      if (!prev.record) {
        throw new NotFoundError(
          `function ${name} is not deployed (the fleet's record of it did not parse; it is removed)`,
        );
      }
      await this.#dropImageIfUnused(prev.record.digest);
      return toDeployment(prev.record);
    });
  }

  /** Deletes an image from the object store when no desired record names it. */
  async #dropImageIfUnused(digest: string): Promise<void> {
    await this.#nats(async (link) => {
      const keys = await link.desired.keys(`${FUNCTION_PREFIX}>`);
      for await (const k of keys) {
        const e = await link.desired.get(k);
        if (e?.operation === "PUT" && decode(FunctionRecordSchema, e.value)?.digest === digest) {
          return;
        }
      }
      await link.images.delete(digest).catch(() => {});
    });
  }
}

/** Another node changed the record between read and write: read again. */
class ConflictRetry extends Error {}

function configChecked(env: Record<string, string>, secrets: Record<string, string>): void {
  try {
    checkConfig(env, secrets);
  } catch (e) {
    throw e instanceof EnvProblem ? new ValidationError(e.field, e.message) : e;
  }
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A record as the admin API answers a deployment. */
export function toDeployment(r: FunctionRecord): Deployment {
  return {
    name: r.name,
    digest: r.digest,
    size: r.size,
    ...r.settings,
    env: r.env,
    secrets: r.secrets,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
