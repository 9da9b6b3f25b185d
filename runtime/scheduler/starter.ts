/**
 * How one instance of a deployed function comes to life (the instance group
 * decides when): its memory is reserved in the node's budget first, at
 * once, so that a request learns without waiting that none fits; then it is
 * a copy-on-write clone of the function's template (built on first use,
 * kept until the group drains) or a fresh boot (coldStart "boot").
 */
import type { ColdStart } from "../settings/settings.ts";
import type { Deployment } from "../store/store.ts";
import type { Logger } from "../log.ts";
import type { LogDrain } from "../vmhost/log_drain.ts";
import { TemplateHolder } from "../vmhost/template_holder.ts";
import type { Vm, VmFactory, VmTemplate } from "../vmhost/vm.ts";
import { type MemoryBudget, vmBytes } from "./budget.ts";
import { LIMITS } from "../../ffi/abi.ts";

/** Smallest request/response area: responses may be larger than requests. */
const MIN_IO_CAP = 1 << 20;
const MIB = 1048576;

export interface StarterOptions {
  initTimeoutMs: number;
  budget: MemoryBudget;
  vms: VmFactory;
  logger: Logger;
  /** Where init's log lines go. */
  logs: LogDrain;
}

export interface Started {
  vm: Vm;
  /** How long the start took. */
  startMs: number;
  /** Gives the instance's memory back to the budget (once it is destroyed). */
  release: () => void;
}

export class InstanceStarter {
  /** Bytes of each of an instance's request and response areas. */
  readonly ioCap: number;
  readonly #template: TemplateHolder;

  /** dep: the deployment's image settings (name, memory, maxBody: fixed for its image). */
  constructor(
    readonly dep: Deployment,
    readonly image: Uint8Array,
    readonly opts: StarterOptions,
    /** The environment block its guests read (sure_getenv), if any. */
    readonly env?: Uint8Array,
  ) {
    this.ioCap = Math.ceil(Math.max(dep.maxBody, MIN_IO_CAP) / LIMITS.pageSize) * LIMITS.pageSize;
    this.#template = new TemplateHolder({
      name: dep.name,
      build: () => opts.vms.template(image, this.#vmOptions()),
      reserve: () => opts.budget.reserve(dep.memory * MIB, `the template of ${dep.name}`),
      logger: opts.logger,
      logs: opts.logs,
    });
  }

  /** Bytes one instance reserves in the budget. */
  get instanceBytes(): number {
    return vmBytes(this.dep.memory, this.ioCap);
  }

  /** The template once built (for the admin API). */
  get template(): VmTemplate | undefined {
    return this.#template.ready;
  }

  /**
   * Starts one instance. Throws MemoryBudgetError at once when it does not
   * fit; the promise rejects (its memory given back) when it cannot start.
   */
  start(mode: ColdStart): Promise<Started> {
    const release = this.opts.budget.reserve(this.instanceBytes, `an instance of ${this.dep.name}`);
    const t0 = performance.now();
    return this.#newVm(mode).then(
      (vm) => ({ vm, startMs: performance.now() - t0, release }),
      (err) => {
        release();
        throw err;
      },
    );
  }

  /** No template built from now on is kept (the group drains). */
  close(): void {
    this.#template.close();
  }

  /** Frees the template (the instances live on). */
  destroy(): void {
    this.#template.destroy();
  }

  #vmOptions() {
    return {
      memMib: this.dep.memory,
      ioCap: this.ioCap,
      initTimeoutMs: this.opts.initTimeoutMs,
      env: this.env,
    };
  }

  async #newVm(mode: ColdStart): Promise<Vm> {
    if (mode === "boot") return await this.opts.vms.boot(this.image, this.#vmOptions());
    const template = await this.#template.get();
    return await template.clone(this.opts.initTimeoutMs);
  }
}
