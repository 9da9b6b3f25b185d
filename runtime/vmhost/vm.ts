/**
 * What the node needs of a VM: the one seam between the scheduling logic
 * (runtime/scheduler/, runtime/chains/) and libsure. The ffi classes satisfy
 * these interfaces as they are (runtime/vmhost/ffi_vms.ts); unit tests pass
 * fakes, so queueing and scaling are tested on machines without /dev/kvm.
 */
import type {
  Fault,
  InstanceOptions,
  InvokeResult,
  RequestHead,
  RequestRecord,
  SidecarLimits,
  SidecarStats,
} from "../../ffi/mod.ts";

/** One running instance (ffi Instance). */
export interface Vm {
  /** Process-unique number, for logs and the admin API. */
  readonly id: number;
  /** libsure's handle when it is a real VM (the data plane runs it); fakes have none. */
  readonly pointer?: Deno.PointerObject | null;
  /** Requests it has served. */
  readonly requests: number;
  /** Rejects with an ffi SureError; see isFatal for the ones that kill it. */
  /** head: what the function sees of the HTTP request (method, path, query, headers). */
  invoke(body: Uint8Array, timeoutMs: number, head?: RequestHead): Promise<InvokeResult>;
  setTrace(trace: Uint8Array): void;
  configureSidecar(limits: SidecarLimits): void;
  /** null once destroyed (its counters must have been folded in before: SidecarTally). */
  sidecarStats(): SidecarStats | null;
  requestRecords(): RequestRecord[];
  /** Why it died (kind "none" while healthy); may throw once destroyed. */
  fault(): Fault;
  /** The log lines the guest wrote since the last call. */
  drainLog(): string[];
  /** Resolves when the VM and its memory are gone. */
  destroy(): Promise<void>;
  /** True while its vCPU sleeps waiting for a request, false while it runs
   * guest code, null once dead (the host's view; fakes may leave it out). */
  sleeping?(): boolean | null;
  /** Stops its guest for good (a runaway); destroy() still frees it. */
  stop?(): void;
}

/** A VM stopped right after init, cloned copy-on-write into instances (ffi Template). */
export interface VmTemplate {
  /** False once destroyed. */
  readonly alive: boolean;
  readonly residentBytes: number;
  readonly clones: number;
  clone(startTimeoutMs: number): Promise<Vm>;
  /** What init wrote (read once: clones do not repeat it). */
  drainLog(): string[];
  /** Frees it; its clones live on. */
  destroy(): void;
}

/** Makes the VMs of plain functions. */
export interface VmFactory {
  /** A fresh boot of the image (coldStart "boot"). */
  boot(image: Uint8Array, opts: InstanceOptions): Promise<Vm>;
  /** A template of the image, to clone instances from (coldStart "clone"). */
  template(image: Uint8Array, opts: InstanceOptions): Promise<VmTemplate>;
}
