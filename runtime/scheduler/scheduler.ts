/**
 * All function pools of the node, by function name.
 *
 * Replacing a function swaps in a new pool at once (new requests go to the
 * new image) and drains the old one in the background: its in-flight and
 * queued requests finish, then its instances are destroyed.
 */
import { type Capabilities, type InvokeResult, keepEmptyVms, placeVcpus } from "../../ffi/mod.ts";
import { vcpuCpus, type VcpuPlacement } from "./placement.ts";
import { KvmUnavailableError, NotFoundError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import { MemoryBudget } from "./budget.ts";
import type { LogHub } from "../logs/hub.ts";
import { DEFAULT_POOL_OPTIONS, Pool, type PoolOptions, type PoolStatus } from "./pool.ts";

export interface SchedulerOptions extends Partial<Omit<PoolOptions, "logger" | "budget">> {
  kvm: Capabilities["kvm"];
  logger: Logger;
  /** The node's memory budget for VMs, bytes (default: 75% of MemAvailable). */
  memoryBudgetBytes?: number;
  /** Empty VMs kept ready for new instances (default 4; 0: none). */
  emptyVms?: number;
  /** Where functions' own log lines go (sure logs). */
  logs?: LogHub;
  /** Where vCPU threads run (runtime/scheduler/placement.ts; default "auto"). */
  vcpuPlacement?: VcpuPlacement;
}

export const DEFAULT_EMPTY_VMS = 4;

export class Scheduler {
  #pools = new Map<string, Pool>();
  #draining = new Set<Pool>();
  readonly #poolOpts: PoolOptions;
  readonly #kvm: Capabilities["kvm"];
  /** Shared by every pool and by the chains' VMs. */
  readonly budget: MemoryBudget;

  constructor(opts: SchedulerOptions) {
    this.#kvm = opts.kvm;
    this.budget = opts.memoryBudgetBytes !== undefined
      ? new MemoryBudget(opts.memoryBudgetBytes)
      : MemoryBudget.fromHost();
    // A few VMs made ahead: a cold start skips KVM_CREATE_VM (see libsure/src/shells.c).
    if (this.#kvm.available) {
      keepEmptyVms(opts.emptyVms ?? DEFAULT_EMPTY_VMS);
      placeVcpus(vcpuCpus(opts.vcpuPlacement ?? "auto"));
    }
    this.#poolOpts = {
      maxQueue: opts.maxQueue ?? DEFAULT_POOL_OPTIONS.maxQueue,
      initTimeoutMs: opts.initTimeoutMs ?? DEFAULT_POOL_OPTIONS.initTimeoutMs,
      logger: opts.logger,
      budget: this.budget,
      logs: opts.logs,
    };
  }

  get kvmAvailable(): boolean {
    return this.#kvm.available;
  }

  /** Installs (or replaces) the pool of a deployment and puts it into service. */
  deploy(dep: Deployment, image: Uint8Array): void {
    const old = this.#pools.get(dep.name);
    const pool = new Pool(dep, image, this.#poolOpts);
    this.#pools.set(dep.name, pool);
    if (old) this.#retire(old); // first: the old instances' memory goes back sooner
    if (this.#kvm.available) pool.start();
  }

  /** New scaling settings for a deployed function (same image). */
  updateScaling(dep: Deployment): void {
    if (this.#kvm.available) this.pool(dep.name).updateScaling(dep);
  }

  /** Scales a function to n instances by hand (see Pool.scale). */
  scale(name: string, n: number): Promise<void> {
    const pool = this.pool(name);
    if (!this.#kvm.available) {
      throw new KvmUnavailableError(this.#kvm.reason ?? "no usable /dev/kvm");
    }
    return pool.scale(n);
  }

  status(name: string): PoolStatus {
    return this.pool(name).status();
  }

  /** Removes a function's pool; resolves once its instances are gone. */
  remove(name: string): Promise<void> {
    const pool = this.#pools.get(name);
    if (!pool) return Promise.resolve();
    this.#pools.delete(name);
    return this.#retire(pool);
  }

  #retire(pool: Pool): Promise<void> {
    this.#draining.add(pool);
    return pool.drain().then(() => {
      this.#draining.delete(pool);
    });
  }

  /** The pool of a function; NotFoundError if it is not deployed. */
  pool(name: string): Pool {
    const pool = this.#pools.get(name);
    if (!pool) throw new NotFoundError(`function ${name} is not deployed`);
    return pool;
  }

  invoke(
    name: string,
    body: Uint8Array,
    requestId: string,
    trace?: Uint8Array,
  ): Promise<InvokeResult> {
    const pool = this.pool(name);
    if (!this.#kvm.available) {
      throw new KvmUnavailableError(this.#kvm.reason ?? "no usable /dev/kvm");
    }
    return pool.invoke(body, requestId, trace);
  }

  /** Every pool in service (not those being drained), by function name. */
  pools(): Pool[] {
    return [...this.#pools.values()];
  }

  /** Live instances over all pools, including pools being drained. */
  get instances(): number {
    let n = 0;
    for (const p of this.#pools.values()) n += p.instances;
    for (const p of this.#draining) n += p.instances;
    return n;
  }

  get functions(): number {
    return this.#pools.size;
  }

  /** Drains every pool (node shutdown). */
  async close(): Promise<void> {
    const all = [...this.#pools.keys()].map((n) => this.remove(n));
    await Promise.all([...all, ...[...this.#draining].map((p) => p.drain())]);
  }
}
