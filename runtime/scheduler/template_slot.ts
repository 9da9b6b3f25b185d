/**
 * A deployment's template (ffi/template.ts), built on first use with its
 * memory reserved in the node's budget, kept until the deployment drains.
 * A failed build is not kept: the next instance tries again (init may fail
 * for reasons that pass).
 */
import { Template } from "../../ffi/mod.ts";
import { InternalError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LogHub } from "../logs/hub.ts";
import type { MemoryBudget } from "./budget.ts";

export interface TemplateSlotOptions {
  name: string;
  image: Uint8Array;
  memMib: number;
  ioCap: number;
  initTimeoutMs: number;
  budget: MemoryBudget;
  logger: Logger;
  logs?: LogHub;
}

export class TemplateSlot {
  #building: Promise<Template> | undefined;
  #ready: Template | undefined;
  #release: (() => void) | undefined;
  #closed = false;

  constructor(readonly opts: TemplateSlotOptions) {}

  /** The template once built (size and clone count for the admin API). */
  get ready(): Template | undefined {
    return this.#ready?.alive ? this.#ready : undefined;
  }

  get(): Promise<Template> {
    if (this.#building) return this.#building;
    const o = this.opts;
    let release: () => void;
    try {
      release = o.budget.reserve(o.memMib * 1048576, `the template of ${o.name}`);
    } catch (e) {
      return Promise.reject(e);
    }
    const t0 = performance.now();
    this.#building = Template.create(o.image, {
      memMib: o.memMib,
      ioCap: o.ioCap,
      initTimeoutMs: o.initTimeoutMs,
    }).then(
      (t) => {
        for (const msg of t.drainLog()) {
          o.logger("info", msg, { function: o.name, instance: "template" });
          o.logs?.add(o.name, msg, { instance: "template" });
        }
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

  /** No new builds are kept from now on (the deployment drains). */
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
