/**
 * Holds the template of one function (or of one chain step for one image):
 * built on first use, kept until its owner drains, destroyed once. A failed
 * build is not kept: the next instance tries again (init may fail for
 * reasons that pass). Init's log lines are read once, here: clones do not
 * repeat them.
 */
import { InternalError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LogDrain } from "./log_drain.ts";
import type { VmTemplate } from "./vm.ts";

export interface TemplateHolderOptions {
  /** Function (or chain) name, for logs and errors. */
  name: string;
  /** Boots the image and stops it after init. */
  build(): Promise<VmTemplate>;
  /**
   * Takes the template's memory from the node's budget before it is built
   * (throws MemoryBudgetError) and returns how to give it back. Absent when
   * the owner reserved it already (a chain reserves all its VMs up front).
   */
  reserve?: () => () => void;
  logger: Logger;
  /** Where init's log lines go. */
  logs: LogDrain;
}

export class TemplateHolder {
  #building: Promise<VmTemplate> | undefined;
  #ready: VmTemplate | undefined;
  #release: (() => void) | undefined;
  #closed = false;

  constructor(readonly opts: TemplateHolderOptions) {}

  /** The template once built (size and clone count for the admin API). */
  get ready(): VmTemplate | undefined {
    return this.#ready?.alive ? this.#ready : undefined;
  }

  /** The template, built now if there is none (concurrent callers share one build). */
  get(): Promise<VmTemplate> {
    if (this.#building) return this.#building;
    const o = this.opts;
    let release: () => void;
    try {
      release = o.reserve?.() ?? (() => {});
    } catch (e) {
      return Promise.reject(e);
    }
    const t0 = performance.now();
    this.#building = o.build().then(
      (t) => {
        o.logs.drain(t, "template");
        o.logger("debug", "template ready", {
          function: o.name,
          ms: Math.round((performance.now() - t0) * 1000) / 1000,
          residentBytes: t.residentBytes,
        });
        if (this.#closed) {
          t.destroy();
          release();
          throw new InternalError(`function ${o.name} is being replaced`);
        }
        this.#ready = t;
        this.#release = release;
        return t;
      },
      (err) => {
        release();
        this.#building = undefined;
        throw err;
      },
    );
    return this.#building;
  }

  /** No new builds are kept from now on (the owner drains). */
  close(): void {
    this.#closed = true;
  }

  /** Frees the template and its budget (clones live on: they map its memory). */
  destroy(): void {
    this.#closed = true;
    this.#ready?.destroy();
    this.#ready = undefined;
    this.#release?.();
    this.#release = undefined;
  }
}
