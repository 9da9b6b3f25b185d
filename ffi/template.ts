/**
 * A function's template: its VM as it stood right after init (memory in a
 * memfd, registers saved). Every instance made by clone() is a copy-on-write
 * clone of it, so init never runs again and pages only read stay shared.
 */
import { ERR_CAP, libsure, takeHandle } from "./libsure.ts";
import { Errno, errorFromErrno } from "./errors.ts";
import { Instance, type InstanceOptions } from "./instance.ts";
import { readLogLines } from "./log.ts";

export class Template {
  #handle: Deno.PointerObject | null;
  #cloning = 0;
  #destroyPending = false;

  private constructor(handle: Deno.PointerObject) {
    this.#handle = handle;
  }

  /** Boots the image once, runs its init and keeps the result. */
  static async create(image: Uint8Array, opts: InstanceOptions): Promise<Template> {
    const out = new BigUint64Array(1);
    const err = new Uint8Array(ERR_CAP);
    const rc = await libsure().sure_template_create(
      image,
      BigInt(image.byteLength),
      opts.memMib,
      opts.ioCap,
      opts.initTimeoutMs ?? 5000,
      opts.env ?? null,
      opts.env?.byteLength ?? 0,
      out,
      err,
      BigInt(ERR_CAP),
    );
    return Template.#wrap("sure_template_create", rc, out, err);
  }

  /**
   * The template of a chain's step: booted as that step, stopped after init.
   * Its clones are that step's instances (one at a time); destroy it before the chain.
   */
  static async createInChain(
    chain: Deno.PointerObject,
    step: number,
    image: Uint8Array,
    memMib: number,
    initTimeoutMs = 5000,
    env?: Uint8Array,
  ): Promise<Template> {
    const out = new BigUint64Array(1);
    const err = new Uint8Array(ERR_CAP);
    const rc = await libsure().sure_chain_template_create(
      chain,
      step,
      image,
      BigInt(image.byteLength),
      memMib,
      initTimeoutMs,
      env ?? null,
      env?.byteLength ?? 0,
      out,
      err,
      BigInt(ERR_CAP),
    );
    return Template.#wrap("sure_chain_template_create", rc, out, err);
  }

  static #wrap(op: string, rc: number, out: BigUint64Array, err: Uint8Array): Template {
    return new Template(takeHandle(op, rc, out, err));
  }

  get alive(): boolean {
    return this.#handle !== null && !this.#destroyPending;
  }

  /** A new instance continuing from the template; its sure_start runs first. */
  async clone(startTimeoutMs: number): Promise<Instance> {
    const handle = this.#handle;
    if (!handle || this.#destroyPending) {
      throw errorFromErrno("sure_instance_clone", -Errno.EPIPE, "template destroyed");
    }
    this.#cloning++;
    try {
      return await Instance.cloneOf(handle, Math.max(1, startTimeoutMs));
    } finally {
      this.#cloning--;
      if (this.#destroyPending && this.#cloning === 0) this.#free();
    }
  }

  /** The log lines the template's init wrote (once). */
  drainLog(): string[] {
    const handle = this.#handle;
    if (!handle) return [];
    const sym = libsure();
    return readLogLines((buf, cap) => sym.sure_template_read_log(handle, buf, cap));
  }

  /** Host memory the template's RAM holds (resident bytes). */
  get residentBytes(): number {
    return this.#handle ? Number(libsure().sure_template_resident(this.#handle)) : 0;
  }

  /** Clones made so far. */
  get clones(): number {
    return this.#handle ? libsure().sure_template_clones(this.#handle) : 0;
  }

  /** Frees the template (clones live on); deferred while a clone is being made. */
  destroy(): void {
    if (!this.#handle) return;
    if (this.#cloning > 0) {
      this.#destroyPending = true;
      return;
    }
    this.#free();
  }

  #free(): void {
    const handle = this.#handle;
    if (!handle) return;
    this.#handle = null;
    libsure().sure_template_destroy(handle);
  }
}
