/**
 * Request slots of a plain instance (ABI 7): how many requests the data
 * plane may post to it at once, each with its own request and response
 * areas and head blocks. The rule is libsure's sure_io_slots, computed from
 * the generated constants; ffi/instance_test.ts checks that the two agree.
 */
import { LIMITS } from "./abi.ts";

/** Bytes of one slot: a request and a response area of ioCap bytes and their head blocks. */
export function slotBytes(ioCap: number): number {
  return 2 * ioCap + LIMITS.slotHeadSize;
}

/** Slots an instance with ioCap-byte areas has: as many as LIMITS.ioQueueBytes hold, 1 to LIMITS.ioQueueMax. */
export function ioSlots(ioCap: number): number {
  const n = Math.floor(LIMITS.ioQueueBytes / slotBytes(ioCap));
  return Math.min(Math.max(n, 1), LIMITS.ioQueueMax);
}
