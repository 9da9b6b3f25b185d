/**
 * Host capabilities, image checking and process-wide accounting: the
 * synchronous corners of libsure.
 */
import { cString, ERR_CAP, libsure } from "./libsure.ts";
import { Errno, errnoName, errorFromErrno } from "./errors.ts";
import { STRUCTS } from "./abi.ts";
import { CStructs } from "./struct.ts";

export interface Capabilities {
  kvm: { available: boolean; reason?: string };
  /** The host CPU has protection keys. */
  pku: boolean;
  /** Guests have them too, and the gates use them (KVM offers PKU; SURE_GUEST_PKU is not off). */
  guestPku: boolean;
  afxdp: boolean;
}

/** Asks libsure what this host can do. Never throws for a missing /dev/kvm. */
export function probe(): Capabilities {
  const sym = libsure();
  const err = new Uint8Array(ERR_CAP);
  const rc = sym.sure_kvm_probe(err, BigInt(ERR_CAP));
  const kvm: Capabilities["kvm"] = rc === 0
    ? { available: true }
    : { available: false, reason: cString(err) || `KVM probe failed: ${errnoName(-rc)}` };
  return {
    kvm,
    pku: sym.sure_pku_probe() === 1,
    guestPku: kvm.available && sym.sure_guest_pku_probe() === 1,
    afxdp: sym.sure_afxdp_probe() === 1,
  };
}

export interface Stats {
  instances: number;
  vcpuThreads: number;
  guestBytes: number;
}

/** Live instances, vCPU threads and guest memory of this process. */
export function stats(): Stats {
  const out = new CStructs(STRUCTS.sure_process_stats);
  const rc = libsure().sure_stats(out.bytes, out.size);
  if (rc < 0) throw errorFromErrno("sure_stats", rc);
  return {
    instances: out.u64("instances"),
    vcpuThreads: out.u64("vcpu_threads"),
    guestBytes: out.u64("mapped_bytes"),
  };
}

/**
 * Keeps n empty VMs ready in the background so that a new instance skips
 * KVM_CREATE_VM (0 turns it off). Needs KVM.
 */
export function keepEmptyVms(n: number): void {
  const rc = libsure().sure_vm_shells(n);
  if (rc < 0) throw errorFromErrno("sure_vm_shells", rc);
}

/** The CPUs vCPU threads of new VMs may run on; [] means anywhere. */
export function placeVcpus(cpus: number[]): void {
  const n = cpus.length ? Math.max(...cpus) + 1 : 0;
  const mask = new Uint8Array(Math.max(n, 1));
  for (const c of cpus) mask[c] = 1;
  const rc = libsure().sure_vcpu_cpus(mask, n);
  if (rc < 0) throw errorFromErrno("sure_vcpu_cpus", rc);
}

/** The nice value plain instances' vCPU threads take from now on (best effort; 0: as is). */
export function weighVcpus(nice: number): void {
  const rc = libsure().sure_vcpu_nice(nice);
  if (rc < 0) throw errorFromErrno("sure_vcpu_nice", rc);
}

/** Empty VMs ready right now. */
export function emptyVmsReady(): number {
  return libsure().sure_vm_shells_ready();
}

/**
 * Runs libsure's image checker. Returns null if the image is acceptable for a
 * guest of memMib MiB, else the checker's one-line reason.
 */
export function checkImage(image: Uint8Array, memMib: number): string | null {
  const err = new Uint8Array(ERR_CAP);
  const rc = libsure().sure_image_check(
    image,
    BigInt(image.byteLength),
    memMib,
    err,
    BigInt(ERR_CAP),
  );
  if (rc === 0) return null;
  const reason = cString(err);
  if (rc === -Errno.EINVAL) return reason || "not a sure function image";
  throw errorFromErrno("sure_image_check", rc, reason || undefined);
}
