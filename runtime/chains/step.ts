/**
 * One step of a running chain: its single instance, always a clone of the
 * step's template (booted as that step, stopped after init, made when there
 * is none for the step's current image). So a restart after a fault or a
 * timeout is a clone, and init runs once per step and image. What an
 * instance leaves behind (its fault, last log lines, sidecar counters) is
 * kept when it goes, through the same vmhost pieces plain functions use.
 */
import type { Fault, SidecarLimits, SidecarStats } from "../../ffi/mod.ts";
import type { Logger } from "../log.ts";
import type { LogHub } from "../logs/hub.ts";
import { placeholderFault, readFault } from "../vmhost/failures.ts";
import { LogDrain } from "../vmhost/log_drain.ts";
import { SidecarTally } from "../vmhost/sidecar_tally.ts";
import { TemplateHolder } from "../vmhost/template_holder.ts";
import type { Vm, VmTemplate } from "../vmhost/vm.ts";

export interface StepImage {
  image: Uint8Array;
  memory: number;
  /** What the step's library sidecar enforces (runtime/scheduler/limits.ts). */
  limits?: SidecarLimits;
  /** The function's environment block (sure_getenv), if any. */
  env?: Uint8Array;
}

/** How long a clone may take to say it is ready. */
const CLONE_START_TIMEOUT_MS = 5000;

/** Before a step's instance ever faulted. */
const NO_FAULT = placeholderFault("none", "none");

export class ChainStep {
  /** The live instance; null while (re)starting or after close. */
  vm: Vm | null = null;
  /** Set while the step restarts (runtime.ts). */
  restarting: Promise<void> | null = null;
  /** Why its last start failed, while it has not started since (runtime.ts). */
  startError: string | undefined;
  /** Another node runs this step: no instance here, ever. */
  remote: { node: string; addr: string } | undefined;
  #template: { holder: TemplateHolder; image: Uint8Array; env?: Uint8Array } | undefined;
  #lastFault: Fault | undefined;
  readonly #logs: LogDrain;
  readonly #sidecar = new SidecarTally();

  /**
   * build: makes the step's template of an image inside the chain (libsure's
   * sure_chain_template_create: its page tables fit that chain only).
   */
  constructor(
    readonly fn: string,
    public image: StepImage,
    readonly logger: Logger,
    readonly build: (img: StepImage) => Promise<VmTemplate>,
    chain: string,
    logs?: LogHub,
  ) {
    this.#logs = new LogDrain(fn, logger, logs, chain);
  }

  /** Starts the step's instance (a clone of the template of its current image). */
  async start(): Promise<void> {
    let t = this.#template;
    if (t && (t.image !== this.image.image || t.env !== this.image.env)) {
      t.holder.destroy(); // redeployed function (or new env): a template of the new image
      t = undefined;
    }
    if (!t) {
      const img = this.image;
      const holder = new TemplateHolder({
        name: this.fn,
        build: () => this.build(img),
        logger: this.logger,
        logs: this.#logs,
      });
      t = this.#template = { holder, image: img.image, env: img.env };
    }
    const vm = await (await t.holder.get()).clone(CLONE_START_TIMEOUT_MS);
    if (this.image.limits) vm.configureSidecar(this.image.limits);
    this.vm = vm;
  }

  /** What stopped the step's instance last (read it before the instance is replaced). */
  fault(): Fault {
    const f = this.#instanceFault();
    if (f && f.kind !== "none") this.#lastFault = f;
    return this.#lastFault ?? NO_FAULT;
  }

  /** No instance, or its instance stopped (it has a fault). */
  isDown(): boolean {
    const f = this.#instanceFault();
    return !f || f.kind !== "none";
  }

  /** The live instance's fault ("none" while it runs), or null without one. */
  #instanceFault(): Fault | null {
    return this.vm ? readFault(this.vm) : null;
  }

  /** A node's line (why an instance died) in the step function's own log. */
  note(line: string, instance: number): void {
    this.#logs.note(line, instance);
  }

  /** Reads the instance's new log lines. */
  drainLog(): void {
    if (this.vm) this.#logs.drain(this.vm, this.vm.id);
  }

  /** Destroys the instance, keeping its fault, log lines and sidecar counters first. */
  async stop(): Promise<void> {
    const vm = this.vm;
    if (!vm) return;
    this.fault();
    this.#logs.drain(vm, vm.id);
    this.#sidecar.fold(vm);
    this.vm = null;
    await vm.destroy(); // fails whatever the step still held
  }

  /** The step's sidecar counters over all its instances. */
  sidecarStats(): SidecarStats {
    return this.#sidecar.total(this.vm ? [this.vm] : []);
  }

  /** Frees the template (after the instance: clones map its memory; before the chain). */
  destroyTemplate(): void {
    this.#template?.holder.destroy();
    this.#template = undefined;
  }
}
