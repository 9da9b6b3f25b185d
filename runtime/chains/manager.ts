/**
 * All chains of a node: creating, replacing and removing them (KV first,
 * then the running chain), bringing them back at start, and keeping them in
 * step with the functions they use.
 */
import type { ChainControl } from "./control.ts";
import { type IsolationModel, isolationModel } from "../isolation.ts";
import {
  ConflictError,
  FunctionStartError,
  HttpError,
  IsolationUnavailableError,
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
import { ChainRuntime, type RemoteStep } from "./runtime.ts";
import { type ChainSpec, ChainSpecSchema, stepNames, stepNode, type StoredChain } from "./spec.ts";
import type { StepImage } from "./step.ts";
import { ChainStore } from "./store.ts";
import type { ChainServing } from "./serving.ts";

/** How a stored chain runs on this node (GET /admin/chains answers it). */
export interface ChainStatus {
  /** running: every step runs; degraded: one cannot start (its requests get a 502 naming it,
   * and it is tried again); down: the chain could not come back (503, tried again). */
  state: "running" | "degraded" | "down";
  reason?: string;
  /** ISO 8601: since when it is not running in full. */
  since?: string;
  /** The step that cannot start (degraded). */
  step?: number;
  function?: string;
}

/** A stored chain that could not come back is tried again this often, then less often. */
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 60_000;

export class ChainManager implements ChainControl {
  #running = new Map<string, ChainRuntime>();
  /** Stored chains that could not come back: why, since when, and the functions they run here. */
  #down = new Map<string, { reason: string; since: string; functions: string[] }>();
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryMs = RETRY_FIRST_MS;
  #closed = false;
  /** Chain records, in the node's KV next to the deployments. */
  readonly #chains: ChainStore;

  constructor(
    readonly store: Store,
    readonly scheduler: Scheduler,
    readonly logger: Logger,
    readonly logs?: LogHub,
    /** libsure's data plane, when it runs the chains' requests. */
    readonly serving?: ChainServing,
    /** This node's name and the other nodes' data planes (name -> "a.b.c.d:port"). */
    readonly placement: { self?: string; peers: Record<string, string> } = { peers: {} },
    /** The data isolation this node gives (a chain asking for more is refused). */
    readonly isolation: IsolationModel = isolationModel(false),
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

  /** Chains with a step this node runs that is function fn. */
  usedBy(fn: string): string[] {
    const running = [...this.#running.values()].filter((c) => c.runsHere(fn)).map((c) => c.name);
    const down = [...this.#down].filter(([, d]) => d.functions.includes(fn)).map(([n]) => n);
    return [...running, ...down];
  }

  /** Why a stored chain does not run here (it could not come back at start), if so. */
  notRunning(name: string): string | undefined {
    return this.#running.has(name) ? undefined : this.#down.get(name)?.reason;
  }

  /** How chain `name` (stored) runs on this node. */
  status(name: string): ChainStatus {
    const rt = this.#running.get(name);
    if (rt) {
      const u = rt.unavailable;
      if (!u) return { state: "running" };
      return {
        state: "degraded",
        reason: `step ${u.step} (${u.function}) cannot start: ${u.reason}`,
        since: u.since,
        step: u.step,
        function: u.function,
      };
    }
    const d = this.#down.get(name);
    return d
      ? { state: "down", reason: d.reason, since: d.since }
      : { state: "down", reason: "not started on this node" };
  }

  /** Which steps other nodes run (and where), from the steps' "node" and --peer. */
  #remote(spec: ChainSpec): (RemoteStep | undefined)[] {
    const { self, peers } = this.placement;
    const remote = stepNames(spec).map((_, i) => {
      const node = stepNode(spec, i);
      if (node === undefined || node === self) return undefined;
      const addr = peers[node];
      if (!addr) {
        throw new ValidationError(
          `steps.${i}.node`,
          `unknown node ${node}: this node is ${self ?? "unnamed (--node-name)"}; ` +
            `give the others with --peer ${node}=ADDR:PORT, or let them join this node's fleet`,
        );
      }
      return { node, addr };
    });
    if (remote.some((r) => r) && !this.serving) {
      throw new ValidationError(
        "steps",
        "steps on other nodes need libsure's data plane (--dataplane sockets)",
      );
    }
    return remote;
  }

  #images(spec: ChainSpec, remote: (RemoteStep | undefined)[]): (StepImage | null)[] {
    return stepNames(spec).map((fn, i) => {
      if (remote[i]) return null; // its node has it
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
    if (spec.isolation === "request" && !this.isolation.requestLevel) {
      throw new IsolationUnavailableError(spec.name, this.isolation.level, this.isolation.reason);
    }
    if (await this.store.get(spec.name)) {
      throw new ConflictError(`${spec.name} is a function; chains and functions share names`);
    }
    const remote = this.#remote(spec);
    const images = this.#images(spec, remote);
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
        remote,
      );
    } catch (e) {
      // A step that did not start names itself (ChainStepStartError); so do
      // the node's own refusals (the memory budget).
      if (e instanceof HttpError) throw e;
      throw new FunctionStartError(spec.name, (e as Error).message);
    }
    try {
      await this.#chains.put(stored);
    } catch (e) {
      // Not stored: the chain that started for it must not serve either.
      await rt.close();
      throw e;
    }
    const old = this.#running.get(spec.name);
    this.#running.set(spec.name, rt);
    this.#down.delete(spec.name);
    if (old) await old.close();
    this.logger("info", previous ? "chain replaced" : "chain created", {
      chain: spec.name,
      steps: stepNames(spec).join(","),
    });
    return { chain: stored, replaced: previous !== null };
  }

  async remove(name: string): Promise<void> {
    const stored = await this.#chains.get(name);
    if (!stored) throw new NotFoundError(`chain ${name} does not exist`);
    await this.#chains.delete(name);
    this.#down.delete(name);
    const rt = this.#running.get(name);
    this.#running.delete(name);
    await rt?.close();
    this.logger("info", "chain removed", { chain: name });
    await this.#retryDown(); // its memory may let another come back
  }

  list(): Promise<StoredChain[]> {
    return this.#chains.list();
  }

  describe(name: string): Promise<StoredChain | null> {
    return this.#chains.get(name);
  }

  /**
   * Starts every stored chain whose functions are deployed (node start). A
   * chain with a step that cannot start runs without it, answering 502
   * naming it and trying it again (runtime.ts), as after a redeploy that
   * broke it: not a chain that GET shows and /invoke says is not there. A
   * chain that cannot start at all (a function not deployed, the memory
   * budget, an unknown node) stays stored, answers 503 saying why, and is
   * tried again: when a function is deployed or a chain removed, and every
   * few seconds to a minute.
   */
  async restore(): Promise<number> {
    let n = 0;
    for (const stored of await this.#chains.list()) {
      if (await this.#bringBack(stored)) n++;
    }
    this.#scheduleRetry();
    return n;
  }

  /** Starts a stored chain: true if it runs, else it is down (logged, with why). */
  async #bringBack(stored: StoredChain): Promise<boolean> {
    try {
      const spec = ChainSpecSchema.parse(stripTimes(stored));
      const remote = this.#remote(spec);
      const rt = await ChainRuntime.start(
        spec,
        this.#images(spec, remote),
        this.logger,
        this.scheduler.budget,
        this.logs,
        this.serving,
        remote,
        "refuse",
      );
      if (this.#closed || this.#running.has(spec.name)) {
        await rt.close(); // closed, or applied meanwhile: that one serves
        return false;
      }
      this.#running.set(spec.name, rt);
      if (this.#down.delete(spec.name)) {
        this.logger("info", `chain ${spec.name} runs again`, { chain: spec.name });
      }
      return true;
    } catch (e) {
      const reason = (e as Error).message;
      const was = this.#down.get(stored.name);
      if (was?.reason !== reason) {
        this.logger("error", `chain ${stored.name} cannot start: ${reason}`, {
          chain: stored.name,
        });
      }
      // Still stored: its requests say why it does not run, and the
      // functions it runs here stay protected from DELETE.
      const spec = stored as ChainSpec;
      const here = (i: number) => [undefined, this.placement.self].includes(stepNode(spec, i));
      this.#down.set(stored.name, {
        reason,
        since: was?.since ?? new Date().toISOString(),
        functions: stepNames(spec).filter((_, i) => here(i)),
      });
      return false;
    }
  }

  /** Tries every chain that is down again (something changed that may let it start; none
   * down: nothing to do). */
  async #retryDown(): Promise<void> {
    for (const name of [...this.#down.keys()]) {
      if (this.#closed) return;
      const stored = await this.#chains.get(name);
      if (!stored) {
        this.#down.delete(name);
        continue;
      }
      if (!this.#running.has(name)) await this.#bringBack(stored);
    }
  }

  /** While a chain is down, a try every RETRY_FIRST_MS, twice as long after each that fails. */
  #scheduleRetry(again = false): void {
    if (this.#closed || this.#retry !== undefined) return;
    if (this.#down.size === 0) {
      this.#retryMs = RETRY_FIRST_MS;
      return;
    }
    this.#retryMs = again ? Math.min(this.#retryMs * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
    const id = setTimeout(() => {
      this.#retry = undefined;
      this.#retryDown().catch((e) =>
        this.logger("error", `chains: a retry failed: ${(e as Error).message}`)
      ).finally(() => this.#scheduleRetry(true));
    }, this.#retryMs);
    Deno.unrefTimer(id as unknown as number); // a retry never keeps the process alive
    this.#retry = id;
  }

  /**
   * A function was redeployed: chains using it switch to the new image. What
   * it returns says which of them cannot run now (a step that did not start
   * on it; those chains answer 502 naming it until a start succeeds).
   */
  async functionDeployed(fn: string): Promise<string[]> {
    await this.#retryDown(); // it may be what a chain that is down lacked
    const down: string[] = [];
    for (const rt of this.#running.values()) {
      if (!rt.runsHere(fn)) continue;
      await rt.replaceImage(fn, this.#stepImage(fn));
      const u = rt.unavailable;
      if (u) {
        down.push(`chain ${rt.name}: step ${u.step} (${u.function}) could not start: ${u.reason}`);
      }
    }
    return down;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const all = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

function stripTimes(c: StoredChain): ChainSpec {
  const { createdAt: _c, updatedAt: _u, ...spec } = c;
  return spec;
}
