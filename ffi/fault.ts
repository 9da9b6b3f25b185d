/**
 * Decoding of sure_instance_fault()'s five numbers into names a person (and
 * an HTTP error body) can read.
 */

import { FAULT_KIND, STRUCTS } from "./abi.ts";
import type { CStructs } from "./struct.ts";

/** Bytes of sure_fault_info.reason: the struct's tail after the field. */
const FAULT_REASON_BYTES = STRUCTS.sure_fault_info.size - STRUCTS.sure_fault_info.reason;

export type FaultKind = keyof typeof FAULT_KIND | "unknown";

/** enum sure_fault_kind by value, from the generated ABI. */
const KIND_BY_VALUE = new Map<number, FaultKind>(
  Object.entries(FAULT_KIND).map(([k, v]) => [v, k as FaultKind]),
);

/** x86 exception mnemonics by vector (Intel SDM vol. 3, table 6-1). */
const VECTOR_NAMES: Record<number, string> = {
  0: "#DE",
  1: "#DB",
  2: "NMI",
  3: "#BP",
  4: "#OF",
  5: "#BR",
  6: "#UD",
  7: "#NM",
  8: "#DF",
  9: "CSO",
  10: "#TS",
  11: "#NP",
  12: "#SS",
  13: "#GP",
  14: "#PF",
  16: "#MF",
  17: "#AC",
  18: "#MC",
  19: "#XM",
  20: "#VE",
  21: "#CP",
};

export interface Fault {
  /** Why the instance died (enum sure_fault_kind as a word). */
  kind: FaultKind;
  /** CPU exception vector; only meaningful when kind is "exception". */
  vector: number;
  /** "#PF", "#UD", ... for exceptions; the kind otherwise. */
  name: string;
  /** Exception error code, guest exit code or errno, depending on kind. */
  errorCode: bigint;
  /** CR2 for #PF, the offending address for bad exits; else 0. */
  address: bigint;
  /** Guest instruction pointer at the fault. */
  rip: bigint;
  /**
   * Kind "guest_exit": why the function gave up (sure_abort's words,
   * "abort() called", "exit(n) called"), as libsure cleaned it: printable
   * ASCII, at most 255 bytes; "" if none.
   */
  reason: string;
}

/** The reason field: the bytes before the NUL, kept printable and bounded again. */
function decodeReason(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b === 0) break;
    s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "?";
  }
  return s;
}

/** Turns the struct sure_fault_info that sure_instance_fault filled into a Fault. */
export function decodeFault(raw: CStructs<typeof STRUCTS.sure_fault_info>): Fault {
  const kind: FaultKind = KIND_BY_VALUE.get(raw.u64("kind")) ?? "unknown";
  const vector = raw.u64("vector");
  const name = kind === "exception" ? (VECTOR_NAMES[vector] ?? `vector ${vector}`) : kind;
  return {
    kind,
    vector,
    name,
    errorCode: raw.u64n("error_code"),
    address: raw.u64n("address"),
    rip: raw.u64n("rip"),
    reason: kind === "guest_exit" ? decodeReason(raw.raw("reason", FAULT_REASON_BYTES)) : "",
  };
}

/** 0x-prefixed lowercase hex, the way addresses appear in error bodies. */
export function hex(v: bigint | number): string {
  return "0x" + BigInt(v).toString(16);
}
