/**
 * Fake VMs for unit tests: they satisfy the vmhost interfaces (vm.ts) without
 * libsure or /dev/kvm, and let a test decide how each request ends (answer,
 * hang until released, fault, time out) and whether starts fail.
 */
import {
  emptySidecarStats,
  type Fault,
  type InstanceOptions,
  type InvokeResult,
  type RequestRecord,
  type SidecarLimits,
  type SidecarStats,
} from "../../ffi/mod.ts";
import { placeholderFault } from "./failures.ts";
import type { Vm, VmFactory, VmTemplate } from "./vm.ts";

/** A page fault as a fake VM reports it. */
export const PF: Fault = {
  kind: "exception",
  vector: 14,
  name: "#PF",
  errorCode: 0n,
  address: 0n,
  rip: 1n,
  reason: "",
};

export interface FakeBehaviour {
  /** Runs a request; default: echoes the body with status 200. */
  handle?: (body: Uint8Array, vm: FakeVm) => InvokeResult | Promise<InvokeResult>;
  /** An error here makes the next start (boot or template build) fail with it. */
  failStart?: () => Error | undefined;
  /** What init writes to the log (the template's lines, or a boot's). */
  initLog?: string[];
}

let nextId = 1;

export class FakeVm implements Vm {
  readonly id = nextId++;
  requests = 0;
  destroyed = false;
  limits: SidecarLimits | undefined;
  trace: Uint8Array | undefined;
  /** Set by a handler that "crashes" the guest. */
  faultRecord: Fault = placeholderFault("none", "none");
  log: string[] = [];

  constructor(readonly factory: FakeVms, readonly from: "boot" | "clone") {}

  async invoke(body: Uint8Array, _timeoutMs: number): Promise<InvokeResult> {
    if (this.destroyed) throw new Error(`fake VM ${this.id} invoked after destroy`);
    this.requests++;
    const handle = this.factory.behaviour.handle;
    if (handle) return await handle(body, this);
    return { status: 200, body: new Uint8Array(body), reason: "handler" };
  }

  setTrace(trace: Uint8Array): void {
    this.trace = trace;
  }

  configureSidecar(limits: SidecarLimits): void {
    this.limits = limits;
  }

  /** Like the guest's sidecar: one admitted request per invoke; gone with the VM. */
  sidecarStats(): SidecarStats | null {
    if (this.destroyed) return null;
    return { ...emptySidecarStats(), requests: this.requests, admitted: this.requests };
  }

  requestRecords(): RequestRecord[] {
    return [];
  }

  fault(): Fault {
    return this.faultRecord;
  }

  drainLog(): string[] {
    return this.log.splice(0);
  }

  destroy(): Promise<void> {
    if (!this.destroyed) {
      this.destroyed = true;
      this.factory.live.delete(this);
    }
    return Promise.resolve();
  }
}

export class FakeTemplate implements VmTemplate {
  alive = true;
  clones = 0;
  readonly residentBytes = 4096;
  #log: string[];

  constructor(
    readonly factory: FakeVms,
    readonly image: Uint8Array,
    /** The environment block it was built with (what its init would see). */
    readonly env?: Uint8Array,
  ) {
    this.#log = [...(factory.behaviour.initLog ?? [])];
  }

  clone(_startTimeoutMs: number): Promise<Vm> {
    if (!this.alive) return Promise.reject(new Error("template destroyed"));
    this.clones++;
    return Promise.resolve(this.factory.add(new FakeVm(this.factory, "clone")));
  }

  drainLog(): string[] {
    return this.#log.splice(0);
  }

  destroy(): void {
    this.alive = false;
  }
}

export class FakeVms implements VmFactory {
  /** VMs not destroyed yet. */
  readonly live = new Set<FakeVm>();
  readonly templates: FakeTemplate[] = [];
  boots = 0;

  constructor(public behaviour: FakeBehaviour = {}) {}

  add(vm: FakeVm): FakeVm {
    this.live.add(vm);
    return vm;
  }

  boot(_image: Uint8Array, _opts: InstanceOptions): Promise<Vm> {
    const err = this.behaviour.failStart?.();
    if (err) return Promise.reject(err);
    this.boots++;
    const vm = this.add(new FakeVm(this, "boot"));
    vm.log.push(...(this.behaviour.initLog ?? []));
    return Promise.resolve(vm);
  }

  template(image: Uint8Array, opts: InstanceOptions): Promise<VmTemplate> {
    const err = this.behaviour.failStart?.();
    if (err) return Promise.reject(err);
    const t = new FakeTemplate(this, image, opts.env);
    this.templates.push(t);
    return Promise.resolve(t);
  }
}

/** A promise and its resolver: a request that runs until the test lets it finish. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
