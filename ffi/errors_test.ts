import assert from "node:assert/strict";
import {
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

Deno.test("errorFromErrno picks the class for each documented errno", () => {
  const table: [number, unknown][] = [
    [-110, SureTimeoutError],
    [-14, SureFaultError],
    [-71, SureProtocolError],
    [-32, SureDeadError],
    [-16, SureBusyError],
    [-7, SureTooBigError],
    [-22, SureInvalidError],
    [-2, SureUnavailableError],
    [-19, SureUnavailableError],
  ];
  for (const [rc, cls] of table) {
    const e = errorFromErrno("op", rc, "why");
    assert.ok(e instanceof (cls as typeof SureError), `${rc} -> ${e.name}`);
    assert.equal(e.errno, -rc);
    assert.equal(e.message, `op: why (${errnoName(-rc)})`);
  }
  const other = errorFromErrno("op", -12);
  assert.equal(other.constructor, SureError);
  assert.equal(other.code, "ENOMEM");
  assert.equal(errnoName(999), "E999");
});

Deno.test("isFatal is true exactly for the errors that kill an instance", () => {
  assert.ok(isFatal(errorFromErrno("x", -110)));
  assert.ok(isFatal(errorFromErrno("x", -14)));
  assert.ok(isFatal(errorFromErrno("x", -71)));
  assert.ok(isFatal(errorFromErrno("x", -32)));
  assert.ok(!isFatal(errorFromErrno("x", -16)));
  assert.ok(!isFatal(errorFromErrno("x", -7)));
  assert.ok(!isFatal(new Error("x")));
});

Deno.test("decodeFault names kinds and exception vectors", () => {
  const pf = decodeFault(new BigUint64Array([1n, 14n, 6n, 0n, 0x401000n]));
  assert.deepEqual(pf, {
    kind: "exception",
    vector: 14,
    name: "#PF",
    errorCode: 6n,
    address: 0n,
    rip: 0x401000n,
  });
  assert.equal(decodeFault(new BigUint64Array([1n, 6n, 0n, 0n, 0n])).name, "#UD");
  assert.equal(decodeFault(new BigUint64Array([1n, 13n, 0n, 0n, 0n])).name, "#GP");
  const t = decodeFault(new BigUint64Array([3n, 0n, 0n, 0n, 0n]));
  assert.equal(t.kind, "timeout");
  assert.equal(t.name, "timeout");
  assert.equal(decodeFault(new BigUint64Array([99n, 0n, 0n, 0n, 0n])).kind, "unknown");
  assert.equal(hex(0n), "0x0");
  assert.equal(hex(0xdeadbeefn), "0xdeadbeef");
});
