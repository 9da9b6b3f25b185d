/** libsure failures and sidecar refusals as HTTP errors (shared by functions and chains). */
import assert from "node:assert/strict";
import {
  SureBusyError,
  SureDeadError,
  SureFaultError,
  SureInvalidError,
  SureProtocolError,
  SureTimeoutError,
  SureTooBigError,
} from "../../ffi/mod.ts";
import { FunctionFaultError, type HttpError } from "../errors.ts";
import { invokeError, placeholderFault, readFault, refusalError } from "./failures.ts";
import { PF } from "./fake_vms.ts";

const ctx = { fn: "f", requestId: "r1", timeoutMs: 300, ioCap: 4096, instance: 7 };

function answer(e: unknown): [number, string] {
  const h = e as HttpError;
  return [h.status, h.code];
}

Deno.test("invokeError: each libsure failure gets its status and code", () => {
  const table: [Error, [number, string]][] = [
    [new SureTimeoutError("invoke", 110), [504, "function_timeout"]],
    [new SureFaultError("invoke", 14), [502, "function_fault"]],
    [new SureProtocolError("invoke", 71), [502, "function_fault"]],
    [new SureDeadError("invoke", 32), [502, "function_fault"]],
    [new SureTooBigError("invoke", 7), [413, "payload_too_large"]],
    [new SureBusyError("invoke", 16), [500, "internal_error"]],
  ];
  for (const [err, want] of table) assert.deepEqual(answer(invokeError(err, ctx)), want, err.name);
  // Anything else is passed on as it is (the app answers 500 with its message).
  const other = new SureInvalidError("invoke", 22);
  assert.equal(invokeError(other, ctx), other);
});

Deno.test("invokeError: a fault names what the instance read, or the errno when it could not", () => {
  const read = invokeError(new SureFaultError("invoke", 14), { ...ctx, fault: PF });
  assert.equal((read as FunctionFaultError).fault.name, "#PF");
  const unread = invokeError(new SureDeadError("invoke", 32), ctx) as FunctionFaultError;
  assert.equal(unread.fault.kind, "unknown");
  assert.equal(unread.fault.name, "EPIPE");
  // A located fault says where; a guest exit is the function giving up, with its reason.
  const at = { function: "parse_header", file: "main.c", line: 42, address: "0x1" };
  const located = invokeError(new SureFaultError("invoke", 14), { ...ctx, fault: PF, at });
  assert.deepEqual((located as FunctionFaultError).at, at);
  const exit = { ...PF, kind: "guest_exit" as const, name: "guest_exit", reason: "disk on fire" };
  const aborted = invokeError(new SureFaultError("invoke", 14), { ...ctx, fault: exit });
  assert.deepEqual(answer(aborted), [502, "function_aborted"]);
  assert.match((aborted as Error).message, /sure_abort: disk on fire$/);
});

Deno.test("refusalError: the sidecar's reasons, and null when the handler answered", () => {
  assert.equal(refusalError("f", "handler", 0), null);
  assert.deepEqual(answer(refusalError("f", "rate", 0)), [429, "rate_limited"]);
  assert.deepEqual(answer(refusalError("f", "inflight", 0)), [429, "concurrency_limited"]);
  assert.deepEqual(answer(refusalError("f", "deadline", 20)), [504, "deadline_exceeded"]);
  const failed = refusalError("f", "failed", 0, 3, "r");
  assert.deepEqual(answer(failed), [500, "function_failed"]);
  assert.equal(failed!.message, "function f: handle() returned 3");
});

Deno.test("readFault: null once the VM cannot say", () => {
  assert.equal(readFault({ fault: () => PF }), PF);
  assert.equal(
    readFault({
      fault: () => {
        throw new Error("destroyed");
      },
    }),
    null,
  );
  assert.equal(placeholderFault("none", "none").rip, 0n);
});
