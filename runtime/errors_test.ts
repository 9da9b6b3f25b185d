import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import {
  errorResponse,
  FunctionFaultError,
  FunctionTimeoutError,
  KvmUnavailableError,
  MethodNotAllowedError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  toHttpError,
  ValidationError,
  validationError,
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

Deno.test("405 names the methods the path serves, in Allow and in the body", async () => {
  const res = errorResponse(new MethodNotAllowedError("PUT", "/invoke/x", ["GET", "POST"]));
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, POST");
  assert.deepEqual((await body(res)).allow, ["GET", "POST"]);
});

Deno.test("validationError: the one zod -> 400 mapping names the field at fault", () => {
  const schema = z.strictObject({
    a: z.number({ error: "must be a number" }),
    inner: z.object({ list: z.array(z.string()) }).optional(),
  });
  const fail = (input: unknown) => {
    const r = schema.safeParse(input);
    assert.ok(!r.success);
    const e = validationError(r.error, input);
    return [e.status, e.field, e.message.replace(/^[^:]*: /, "")];
  };
  assert.deepEqual(fail({}), [400, "a", "is required"]);
  assert.deepEqual(fail({ a: "1" }), [400, "a", "must be a number"]);
  assert.deepEqual(fail({ a: 1, b: 2 }), [400, "b", "unknown field"]);
  assert.deepEqual(fail({ a: 1, inner: { list: [1] } })[1], "inner.list.0");
  assert.equal(fail(7)[1], undefined, "a body that is not an object names no field");
});

Deno.test("toHttpError: what Hono throws about bodies becomes the node's own errors", () => {
  const bad = toHttpError(new HTTPException(400, { message: "Malformed JSON in request body" }));
  assert.ok(bad instanceof ValidationError);
  assert.equal(toHttpError(new HTTPException(415, { message: "x" })).status, 415);
  const nf = new NotFoundError("x");
  assert.equal(toHttpError(nf), nf);
  assert.equal(toHttpError("boom").code, "internal_error");
});
