/**
 * The instance groups of the node's functions (group.ts), by function name.
 *
 * Replacing a function swaps in a new group at once (new requests go to the
 * new image) and drains the old one in the background: its in-flight and
 * queued requests finish, then its instances are destroyed.
 */
import {
  type Capabilities,
  type InvokeResult,
  keepEmptyVms,
  placeVcpus,
  type RequestHead,
  weighVcpus,
} from "../../ffi/mod.ts";
import { allowedCpus, vcpuCpus, vcpuNice, type VcpuPlacement } from "./placement.ts";
import { KvmUnavailableError, NotFoundError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import { MemoryBudget } from "./budget.ts";
import type { LogHub } from "../logs/hub.ts";
import { DEFAULT_GROUP_OPTIONS, type GroupOptions, InstanceGroup } from "./group.ts";
import type { GroupStatus } from "./status.ts";
import { ffiVms } from "../vmhost/ffi_vms.ts";

export interface SchedulerOptions
  extends Partial<Omit<GroupOptions, "logger" | "budget" | "logs" | "vms">> {
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
  #groups = new Map<string, InstanceGroup>();
  #draining = new Set<InstanceGroup>();
  readonly #groupOpts: GroupOptions;
  readonly #kvm: Capabilities["kvm"];
  /** Shared by every function's instances and by the chains' VMs. */
  readonly budget: MemoryBudget;

  constructor(opts: SchedulerOptions) {
    this.#kvm = opts.kvm;
    this.budget = opts.memoryBudgetBytes !== undefined
      ? new MemoryBudget(opts.memoryBudgetBytes)
      : MemoryBudget.fromHost();
    // A few VMs made ahead: a cold start skips KVM_CREATE_VM (see libsure/src/shells.c).
    // Where the vCPU threads run ([]: anywhere allowed): what a start is weighed against.
    const vcpus = vcpuCpus(opts.vcpuPlacement ?? "auto");
    if (this.#kvm.available) {
      keepEmptyVms(opts.emptyVms ?? DEFAULT_EMPTY_VMS);
      placeVcpus(vcpus);
      weighVcpus(vcpuNice(opts.vcpuPlacement ?? "auto"));
    }
    this.#groupOpts = {
      maxQueue: opts.maxQueue ?? DEFAULT_GROUP_OPTIONS.maxQueue,
      initTimeoutMs: opts.initTimeoutMs ?? DEFAULT_GROUP_OPTIONS.initTimeoutMs,
      logger: opts.logger,
      budget: this.budget,
      logs: opts.logs,
      vms: ffiVms,
      // Without KVM nothing can serve in C: invocations stay on the Hono
      // path, which answers 503 kvm_unavailable.
      lending: this.#kvm.available ? opts.lending : undefined,
      vcpuCpus: vcpus.length || allowedCpus()?.length || navigator.hardwareConcurrency || 1,
    };
  }

  get kvmAvailable(): boolean {
    return this.#kvm.available;
  }

  /**
   * Installs (or replaces) the instance group of a deployment and puts it
   * into service. env: the block its guests read (sure_getenv), if any; a
   * new one is a new group, so a new template whose init sees it.
   */
  deploy(dep: Deployment, image: Uint8Array, env?: Uint8Array): void {
    const old = this.#groups.get(dep.name);
    const group = new InstanceGroup(dep, image, this.#groupOpts, env);
    this.#groups.set(dep.name, group);
    if (old) this.#retire(old); // first: the old instances' memory goes back sooner
    if (this.#kvm.available) group.start();
  }

  /** New scaling settings for a deployed function (same image). */
  updateScaling(dep: Deployment): void {
    if (this.#kvm.available) this.group(dep.name).updateScaling(dep);
  }

  /** Scales a function to n instances by hand (see InstanceGroup.scale). */
  scale(name: string, n: number): Promise<void> {
    const group = this.group(name);
    if (!this.#kvm.available) {
      throw new KvmUnavailableError(this.#kvm.reason ?? "no usable /dev/kvm");
    }
    return group.scale(n);
  }

  status(name: string): GroupStatus {
    return this.group(name).status();
  }

  /** Removes a function's instance group; resolves once its instances are gone. */
  remove(name: string): Promise<void> {
    const group = this.#groups.get(name);
    if (!group) return Promise.resolve();
    this.#groups.delete(name);
    return this.#retire(group);
  }

  #retire(group: InstanceGroup): Promise<void> {
    this.#draining.add(group);
    return group.drain().then(() => {
      this.#draining.delete(group);
    });
  }

  /** Whether a deployed function is private (only holders of the admin token invoke it). */
  isPrivate(name: string): boolean {
    return this.#groups.get(name)?.deployment.access === "private";
  }

  /** The instance group of a function; NotFoundError if it is not deployed. */
  group(name: string): InstanceGroup {
    const group = this.#groups.get(name);
    if (!group) throw new NotFoundError(`function ${name} is not deployed`);
    return group;
  }

  invoke(
    name: string,
    body: Uint8Array,
    requestId: string,
    trace?: Uint8Array,
    head?: RequestHead,
  ): Promise<InvokeResult> {
    const group = this.group(name);
    if (!this.#kvm.available) {
      throw new KvmUnavailableError(this.#kvm.reason ?? "no usable /dev/kvm");
    }
    return group.invoke(body, requestId, trace, head);
  }

  /** Every instance group in service (not those being drained), by function name. */
  groups(): InstanceGroup[] {
    return [...this.#groups.values()];
  }

  /** Live instances over all groups, including groups being drained. */
  get instances(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.instances;
    for (const g of this.#draining) n += g.instances;
    return n;
  }

  get functions(): number {
    return this.#groups.size;
  }

  /** Drains every instance group (node shutdown). */
  async close(): Promise<void> {
    const all = [...this.#groups.keys()].map((n) => this.remove(n));
    await Promise.all([...all, ...[...this.#draining].map((g) => g.drain())]);
  }
}
