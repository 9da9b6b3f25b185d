import assert from "node:assert/strict";
import {
  errorResponse,
  FunctionFaultError,
  FunctionTimeoutError,
  KvmUnavailableError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  ValidationError,
} from "./errors.ts";

async function body(res: Response) {
  assert.equal(res.headers.get("content-type"), "application/json");
  return await res.json();
}

Deno.test("errorResponse maps each error class to its status and JSON body", async () => {
  let res = errorResponse(new ValidationError("memory", "must be at least 8"));
  assert.equal(res.status, 400);
  assert.deepEqual(await body(res), {
    error: "validation_error",
    message: "memory: must be at least 8",
    field: "memory",
  });

  res = errorResponse(new NotFoundError("function x is not deployed"));
  assert.equal(res.status, 404);
  assert.equal((await body(res)).error, "not_found");

  res = errorResponse(new PayloadTooLargeError(10));
  assert.equal(res.status, 413);
  assert.equal((await body(res)).limit, 10);

  res = errorResponse(new FunctionTimeoutError("loop", 300));
  assert.equal(res.status, 504);
  const t = await body(res);
  assert.equal(t.error, "function_timeout");
  assert.equal(t.function, "loop");
  assert.equal(t.timeoutMs, 300);

  res = errorResponse(new KvmUnavailableError("/nonexistent: no such file"));
  assert.equal(res.status, 503);
  const k = await body(res);
  assert.equal(k.error, "kvm_unavailable");
  assert.match(k.message, /KVM is unavailable/);

  res = errorResponse(new OverloadedError("f", 2));
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "2");
  assert.equal((await body(res)).error, "overloaded");
});

Deno.test("FunctionFaultError body carries the decoded fault with hex addresses", async () => {
  const fault = {
    kind: "exception" as const,
    vector: 14,
    name: "#PF",
    errorCode: 6n,
    address: 0n,
    rip: 0x401234n,
  };
  const res = errorResponse(new FunctionFaultError("faulty", fault, "req-1"));
  assert.equal(res.status, 502);
  assert.deepEqual(await body(res), {
    error: "function_fault",
    message: "function faulty crashed: #PF at rip 0x401234",
    function: "faulty",
    fault: {
      kind: "exception",
      vector: 14,
      name: "#PF",
      errorCode: 6,
      address: "0x0",
      rip: "0x401234",
    },
    requestId: "req-1",
  });
});

Deno.test("errorResponse turns unknown throwables into 500 internal_error", async () => {
  const res = errorResponse(new TypeError("boom"));
  assert.equal(res.status, 500);
  assert.deepEqual(await body(res), { error: "internal_error", message: "boom" });
});
