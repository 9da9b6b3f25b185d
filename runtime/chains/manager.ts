/**
 * All chains of a node: creating, replacing and removing them (KV first,
 * then the running chain), bringing them back at start, and keeping them in
 * step with the functions they use.
 */
import {
  ConflictError,
  FunctionStartError,
  KvmUnavailableError,
  NotFoundError,
  ValidationError,
} from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { sidecarLimits } from "../scheduler/limits.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Store } from "../store/store.ts";
import { ChainRuntime, type StepImage } from "./runtime.ts";
import { type ChainSpec, ChainSpecSchema, type StoredChain } from "./spec.ts";

export class ChainManager {
  #running = new Map<string, ChainRuntime>();

  constructor(
    readonly store: Store,
    readonly scheduler: Scheduler,
    readonly logger: Logger,
    readonly logs?: LogHub,
  ) {}

  /** Every chain in service. */
  all(): ChainRuntime[] {
    return [...this.#running.values()];
  }

  get(name: string): ChainRuntime | undefined {
    return this.#running.get(name);
  }

  get count(): number {
    return this.#running.size;
  }

  /** Chains whose steps include function fn. */
  usedBy(fn: string): string[] {
    return [...this.#running.values()].filter((c) => c.spec.steps.includes(fn)).map((c) => c.name);
  }

  #images(spec: ChainSpec): StepImage[] {
    return spec.steps.map((fn, i) => {
      let pool;
      try {
        pool = this.scheduler.pool(fn);
      } catch {
        throw new ValidationError(`steps.${i}`, `function ${fn} is not deployed`);
      }
      return {
        image: pool.image,
        memory: pool.deployment.memory,
        limits: sidecarLimits(pool.deployment, true),
      };
    });
  }

  /** Validates and stores a chain, then (re)starts it. */
  async apply(input: unknown): Promise<{ chain: StoredChain; replaced: boolean }> {
    const parsed = ChainSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue.path.join(".") || "body";
      throw new ValidationError(field, `${field}: ${issue.message}`);
    }
    const spec = parsed.data;
    if (await this.store.get(spec.name)) {
      throw new ConflictError(`${spec.name} is a function; chains and functions share names`);
    }
    const images = this.#images(spec);
    if (!this.scheduler.kvmAvailable) throw new KvmUnavailableError("cannot start chain VMs");
    const previous = await this.store.chains.get(spec.name);
    const now = new Date().toISOString();
    const stored: StoredChain = { ...spec, createdAt: previous?.createdAt ?? now, updatedAt: now };
    // Start first: a chain that cannot boot is refused and nothing is stored.
    let rt: ChainRuntime;
    try {
      rt = await ChainRuntime.start(spec, images, this.logger, this.scheduler.budget, this.logs);
    } catch (e) {
      throw new FunctionStartError(spec.name, (e as Error).message);
    }
    await this.store.chains.put(stored);
    const old = this.#running.get(spec.name);
    this.#running.set(spec.name, rt);
    if (old) await old.close();
    this.logger("info", previous ? "chain replaced" : "chain created", {
      chain: spec.name,
      steps: spec.steps.join(","),
    });
    return { chain: stored, replaced: previous !== null };
  }

  async remove(name: string): Promise<void> {
    const stored = await this.store.chains.get(name);
    if (!stored) throw new NotFoundError(`chain ${name} does not exist`);
    await this.store.chains.delete(name);
    const rt = this.#running.get(name);
    this.#running.delete(name);
    await rt?.close();
    this.logger("info", "chain removed", { chain: name });
  }

  list(): Promise<StoredChain[]> {
    return this.store.chains.list();
  }

  describe(name: string): Promise<StoredChain | null> {
    return this.store.chains.get(name);
  }

  /** Starts every stored chain whose functions are deployed (node start). */
  async restore(): Promise<number> {
    let n = 0;
    for (const stored of await this.store.chains.list()) {
      try {
        const spec = ChainSpecSchema.parse(stripTimes(stored));
        this.#running.set(
          spec.name,
          await ChainRuntime.start(
            spec,
            this.#images(spec),
            this.logger,
            this.scheduler.budget,
            this.logs,
          ),
        );
        n++;
      } catch (e) {
        this.logger("error", `chain ${stored.name} cannot start: ${(e as Error).message}`, {
          chain: stored.name,
        });
      }
    }
    return n;
  }

  /** A function was redeployed: chains using it switch to the new image. */
  async functionDeployed(fn: string): Promise<void> {
    for (const rt of this.#running.values()) {
      if (!rt.spec.steps.includes(fn)) continue;
      const pool = this.scheduler.pool(fn);
      await rt.replaceImage(fn, {
        image: pool.image,
        memory: pool.deployment.memory,
        limits: sidecarLimits(pool.deployment, true),
      });
    }
  }

  async close(): Promise<void> {
    const all = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

function stripTimes(c: StoredChain): ChainSpec {
  const { createdAt: _c, updatedAt: _u, ...spec } = c;
  return spec;
}
