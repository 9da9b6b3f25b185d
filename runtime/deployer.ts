/**
 * Deploying, removing and restoring functions: the one path from "bytes and
 * settings" to "stored and served", shared by the admin API and `sure dev`.
 *
 * The order matters: the image is checked by libsure BEFORE anything is
 * written, so a rejected upload leaves the KV store and the images directory
 * exactly as they were.
 */
import { checkImage } from "../ffi/mod.ts";
import { LIMITS } from "../ffi/abi.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Scheduler } from "./scheduler/scheduler.ts";
import type { DeployConfig, Deployment, FunctionConfig, Store } from "./store/store.ts";
import type { FunctionSettings } from "./settings/settings.ts";
import { checkConfig, encodeEnvBlock, EnvProblem, type EnvVars } from "./settings/env.ts";
import type { LogHub } from "./logs/hub.ts";
import type { Placement } from "./fleet/records.ts";

/** Largest image accepted (SURE_IMAGE_MAX_FILE in sure_abi.h). */
export const IMAGE_MAX_BYTES = LIMITS.imageMaxFile;

export interface DeployResult {
  deployment: Deployment;
  replaced: boolean;
}

/**
 * What the admin API changes functions through: the node's Deployer, or on a
 * fleet member the fleet's desired state (runtime/fleet/control.ts).
 */
export interface FunctionControl {
  deploy(
    name: string,
    image: Uint8Array,
    cfg: DeployConfig,
    config?: FunctionConfig,
    placement?: Placement,
  ): Promise<DeployResult>;
  updateScaling(name: string, change: Partial<FunctionSettings>): Promise<Deployment>;
  updateConfig(
    name: string,
    change: (current: FunctionConfig) => FunctionConfig,
    what: Record<string, unknown>,
  ): Promise<Deployment>;
  remove(name: string): Promise<Deployment>;
}

export class Deployer implements FunctionControl {
  constructor(
    readonly store: Store,
    readonly scheduler: Scheduler,
    readonly logger: Logger,
    readonly check: (image: Uint8Array, memMib: number) => string | null = checkImage,
    readonly logs?: LogHub,
  ) {}

  /**
   * config: env values (replacing the old ones) and secrets (over the old
   * ones, which are kept); checked before anything is stored.
   */
  async deploy(
    name: string,
    image: Uint8Array,
    cfg: DeployConfig,
    config: FunctionConfig = { env: {}, secrets: {} },
    placement: Placement = {},
  ): Promise<DeployResult> {
    if (Object.keys(placement).length > 0) {
      throw new ValidationError(
        "placement",
        "labels and replicas place a function on a fleet's nodes: this node is not in a fleet " +
          "(sure serve --fleet)",
      );
    }
    checkDeploy(image, cfg, config, this.check);
    const { deployment, previous, secrets } = await this.store.deploy(name, image, cfg, config)
      .catch((e) => {
        throw configError(e);
      });
    this.scheduler.deploy(deployment, image, envBlock(deployment, secrets));
    this.logger("info", previous ? "function replaced" : "function deployed", {
      function: name,
      digest: deployment.digest,
      memory: deployment.memory,
      timeout: deployment.timeout,
      maxBody: deployment.maxBody,
      minInstances: deployment.minInstances,
      maxInstances: deployment.maxInstances,
      coldStart: deployment.coldStart,
    });
    return { deployment, replaced: previous !== null };
  }

  /** Changes a function's scaling settings; its instances follow at once. */
  async updateScaling(name: string, change: Partial<FunctionSettings>): Promise<Deployment> {
    const dep = await this.store.update(name, change);
    if (!dep) throw new NotFoundError(`function ${name} is not deployed`);
    this.scheduler.updateScaling(dep);
    this.logger("info", "function scaling changed", { function: name, ...change });
    return dep;
  }

  /**
   * Changes a function's env values or secrets (same image): a new instance
   * group, so a new template whose sure_init sees the new values; requests
   * in flight finish on the old instances. Throws ValidationError (nothing
   * changed) or NotFoundError. The log line names the variables, never values.
   */
  async updateConfig(
    name: string,
    change: (current: FunctionConfig) => FunctionConfig,
    what: Record<string, unknown>,
  ): Promise<Deployment> {
    const out = await this.store.updateConfig(name, change).catch((e) => {
      throw configError(e);
    });
    if (!out) throw new NotFoundError(`function ${name} is not deployed`);
    const dep = out.deployment;
    this.scheduler.deploy(dep, await this.store.readImage(dep.digest), envBlock(dep, out.secrets));
    this.logger("info", "function configuration changed", { function: name, ...what });
    return dep;
  }

  /** Deletes a function and destroys its instances (after in-flight requests). */
  async remove(name: string): Promise<Deployment> {
    const dep = await this.store.remove(name);
    if (!dep) throw new NotFoundError(`function ${name} is not deployed`);
    await this.scheduler.remove(name);
    this.logs?.drop(name);
    this.logger("info", "function removed", { function: name });
    return dep;
  }

  /** Brings every stored deployment back into service (node start). */
  async restore(): Promise<number> {
    let n = 0;
    for (const dep of await this.store.list()) {
      let image: Uint8Array;
      try {
        image = await this.store.readImage(dep.digest);
      } catch (e) {
        this.logger("error", `image of ${dep.name} is missing: ${(e as Error).message}`, {
          function: dep.name,
        });
        continue;
      }
      const reason = this.check(image, dep.memory);
      if (reason !== null) {
        this.logger("error", `stored image of ${dep.name} no longer passes the check: ${reason}`, {
          function: dep.name,
        });
        continue;
      }
      this.scheduler.deploy(dep, image, envBlock(dep, await this.store.secrets(dep.name)));
      n++;
    }
    return n;
  }
}

/**
 * The checks of a deploy before anything is stored (here or in a fleet):
 * the image's size, the configuration, the image checker. Throws ValidationError.
 */
export function checkDeploy(
  image: Uint8Array,
  cfg: DeployConfig,
  config: FunctionConfig,
  check: (image: Uint8Array, memMib: number) => string | null,
): void {
  if (image.byteLength === 0) throw new ValidationError("image", "image file is empty");
  if (image.byteLength > IMAGE_MAX_BYTES) {
    throw new ValidationError("image", `image is larger than ${IMAGE_MAX_BYTES} bytes`);
  }
  try {
    checkConfig(config.env, config.secrets);
  } catch (e) {
    throw configError(e);
  }
  const reason = check(image, cfg.memory);
  if (reason !== null) throw new ValidationError("image", reason);
}

/** The guest's environment block, undefined when there is none. */
function envBlock(dep: Deployment, secrets: EnvVars): Uint8Array | undefined {
  const block = encodeEnvBlock(dep.env, secrets);
  return block.byteLength ? block : undefined;
}

/** A configuration problem as a 400 naming env or secrets; anything else as it is. */
function configError(e: unknown): unknown {
  return e instanceof EnvProblem ? new ValidationError(e.field, e.message) : e;
}
