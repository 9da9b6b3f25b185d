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
  validationError,
} from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { sidecarLimits } from "../scheduler/limits.ts";
import type { LogHub } from "../logs/hub.ts";
import type { Store } from "../store/store.ts";
import { ChainRuntime } from "./runtime.ts";
import { type ChainSpec, ChainSpecSchema, type StoredChain } from "./spec.ts";
import type { StepImage } from "./step.ts";
import { ChainStore } from "./store.ts";
import type { ChainServing } from "./serving.ts";

export class ChainManager {
  #running = new Map<string, ChainRuntime>();
  /** Chain records, in the node's KV next to the deployments. */
  readonly #chains: ChainStore;

  constructor(
    readonly store: Store,
    readonly scheduler: Scheduler,
    readonly logger: Logger,
    readonly logs?: LogHub,
    /** libsure's data plane, when it runs the chains' requests. */
    readonly serving?: ChainServing,
  ) {
    this.#chains = new ChainStore(store.kv);
  }

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
      try {
        return this.#stepImage(fn);
      } catch {
        throw new ValidationError(`steps.${i}`, `function ${fn} is not deployed`);
      }
    });
  }

  /** A deployed function as a chain step: its image, memory and sidecar limits. */
  #stepImage(fn: string): StepImage {
    const group = this.scheduler.group(fn);
    return {
      image: group.image,
      memory: group.deployment.memory,
      limits: sidecarLimits(group.deployment, true),
      env: group.env,
    };
  }

  /** Validates and stores a chain, then (re)starts it. */
  async apply(input: unknown): Promise<{ chain: StoredChain; replaced: boolean }> {
    const parsed = ChainSpecSchema.safeParse(input);
    if (!parsed.success) throw validationError(parsed.error, input);
    const spec = parsed.data;
    if (await this.store.get(spec.name)) {
      throw new ConflictError(`${spec.name} is a function; chains and functions share names`);
    }
    const images = this.#images(spec);
    if (!this.scheduler.kvmAvailable) throw new KvmUnavailableError("cannot start chain VMs");
    const previous = await this.#chains.get(spec.name);
    const now = new Date().toISOString();
    const stored: StoredChain = { ...spec, createdAt: previous?.createdAt ?? now, updatedAt: now };
    // Start first: a chain that cannot boot is refused and nothing is stored.
    let rt: ChainRuntime;
    try {
      rt = await ChainRuntime.start(
        spec,
        images,
        this.logger,
        this.scheduler.budget,
        this.logs,
        this.serving,
      );
    } catch (e) {
      throw new FunctionStartError(spec.name, (e as Error).message);
    }
    await this.#chains.put(stored);
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
    const stored = await this.#chains.get(name);
    if (!stored) throw new NotFoundError(`chain ${name} does not exist`);
    await this.#chains.delete(name);
    const rt = this.#running.get(name);
    this.#running.delete(name);
    await rt?.close();
    this.logger("info", "chain removed", { chain: name });
  }

  list(): Promise<StoredChain[]> {
    return this.#chains.list();
  }

  describe(name: string): Promise<StoredChain | null> {
    return this.#chains.get(name);
  }

  /** Starts every stored chain whose functions are deployed (node start). */
  async restore(): Promise<number> {
    let n = 0;
    for (const stored of await this.#chains.list()) {
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
            this.serving,
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
      await rt.replaceImage(fn, this.#stepImage(fn));
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
