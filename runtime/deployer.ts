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
import type { DeployConfig, Deployment, Store } from "./store/store.ts";
import type { FunctionSettings } from "./settings/settings.ts";
import type { LogHub } from "./logs/hub.ts";

/** Largest image accepted (SURE_IMAGE_MAX_FILE in sure_abi.h). */
export const IMAGE_MAX_BYTES = LIMITS.imageMaxFile;

export interface DeployResult {
  deployment: Deployment;
  replaced: boolean;
}

export class Deployer {
  constructor(
    readonly store: Store,
    readonly scheduler: Scheduler,
    readonly logger: Logger,
    readonly check: (image: Uint8Array, memMib: number) => string | null = checkImage,
    readonly logs?: LogHub,
  ) {}

  async deploy(name: string, image: Uint8Array, cfg: DeployConfig): Promise<DeployResult> {
    if (image.byteLength === 0) throw new ValidationError("image", "image file is empty");
    if (image.byteLength > IMAGE_MAX_BYTES) {
      throw new ValidationError("image", `image is larger than ${IMAGE_MAX_BYTES} bytes`);
    }
    const reason = this.check(image, cfg.memory);
    if (reason !== null) throw new ValidationError("image", reason);
    const { deployment, previous } = await this.store.deploy(name, image, cfg);
    this.scheduler.deploy(deployment, image);
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
      this.scheduler.deploy(dep, image);
      n++;
    }
    return n;
  }
}
