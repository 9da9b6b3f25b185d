import assert from "node:assert/strict";
import {
  Errno,
  errnoName,
  errorFromErrno,
  isFatal,
  SureBusyError,
  SureDeadError,
  SureError,
  SureFaultError,
  SureInvalidError,
  SureProtocolError,
  SureTimeoutError,
  SureTooBigError,
  SureUnavailableError,
} from "./errors.ts";
import { decodeFault, hex } from "./fault.ts";
import { STRUCTS } from "./abi.ts";
import { CStructs } from "./struct.ts";

Deno.test("errorFromErrno picks the class for each documented errno", () => {
  const table: [number, unknown][] = [
    [-Errno.ETIMEDOUT, SureTimeoutError],
    [-Errno.EFAULT, SureFaultError],
    [-Errno.EPROTO, SureProtocolError],
    [-Errno.EPIPE, SureDeadError],
    [-Errno.EBUSY, SureBusyError],
    [-Errno.E2BIG, SureTooBigError],
    [-Errno.EINVAL, SureInvalidError],
    [-Errno.ENOENT, SureUnavailableError],
    [-Errno.ENODEV, SureUnavailableError],
  ];
  for (const [rc, cls] of table) {
    const e = errorFromErrno("op", rc, "why");
    assert.ok(e instanceof (cls as typeof SureError), `${rc} -> ${e.name}`);
    assert.equal(e.errno, -rc);
    assert.equal(e.message, `op: why (${errnoName(-rc)})`);
  }
  const other = errorFromErrno("op", -Errno.ENOMEM);
  assert.equal(other.constructor, SureError);
  assert.equal(other.code, "ENOMEM");
  assert.equal(errnoName(999), "E999");
});

Deno.test("isFatal is true exactly for the errors that kill an instance", () => {
  assert.ok(isFatal(errorFromErrno("x", -Errno.ETIMEDOUT)));
  assert.ok(isFatal(errorFromErrno("x", -Errno.EFAULT)));
  assert.ok(isFatal(errorFromErrno("x", -Errno.EPROTO)));
  assert.ok(isFatal(errorFromErrno("x", -Errno.EPIPE)));
  assert.ok(!isFatal(errorFromErrno("x", -Errno.EBUSY)));
  assert.ok(!isFatal(errorFromErrno("x", -Errno.E2BIG)));
  assert.ok(!isFatal(new Error("x")));
});

/** A struct sure_fault_info as libsure would fill it. */
function faultInfo(v: bigint[]): CStructs<typeof STRUCTS.sure_fault_info> {
  const s = new CStructs(STRUCTS.sure_fault_info);
  const fields = ["kind", "vector", "error_code", "address", "rip"] as const;
  const dv = new DataView(s.bytes.buffer);
  fields.forEach((f, i) => dv.setBigUint64(STRUCTS.sure_fault_info[f], v[i], true));
  return s;
}

Deno.test("decodeFault names kinds and exception vectors", () => {
  const pf = decodeFault(faultInfo([1n, 14n, 6n, 0n, 0x401000n]));
  assert.deepEqual(pf, {
    kind: "exception",
    vector: 14,
    name: "#PF",
    errorCode: 6n,
    address: 0n,
    rip: 0x401000n,
    reason: "",
  });
  assert.equal(decodeFault(faultInfo([1n, 6n, 0n, 0n, 0n])).name, "#UD");
  assert.equal(decodeFault(faultInfo([1n, 13n, 0n, 0n, 0n])).name, "#GP");
  const t = decodeFault(faultInfo([3n, 0n, 0n, 0n, 0n]));
  assert.equal(t.kind, "timeout");
  assert.equal(t.name, "timeout");
  assert.equal(decodeFault(faultInfo([99n, 0n, 0n, 0n, 0n])).kind, "unknown");
  // A guest exit carries its reason up to the NUL; anything unprintable is "?" again.
  const exit = faultInfo([6n, 0n, 1n, 0n, 0n]);
  exit.bytes.set(
    new TextEncoder().encode("disk\x07 on fire\0junk"),
    STRUCTS.sure_fault_info.reason,
  );
  assert.equal(decodeFault(exit).reason, "disk? on fire");
  // No NUL at all: the reason ends with the struct.
  const full = faultInfo([6n, 0n, 1n, 0n, 0n]);
  full.bytes.fill(0x61, STRUCTS.sure_fault_info.reason);
  assert.equal(decodeFault(full).reason.length, 256);
  assert.equal(hex(0n), "0x0");
  assert.equal(hex(0xdeadbeefn), "0xdeadbeef");
});
