import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { z } from "@hono/zod-openapi";
import {
  errorResponse,
  FunctionAbortedError,
  FunctionFailedError,
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
    reason: "",
  };
  const res = errorResponse(new FunctionFaultError("faulty", fault, "req-1"));
  assert.equal(res.status, 502);
  assert.deepEqual(await body(res), {
    error: "function_fault",
    message: "function faulty faulted (page fault at 0x0) at rip 0x401234",
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

Deno.test("FunctionFaultError names the function, file and line when the fault was symbolised", async () => {
  const fault = {
    kind: "exception" as const,
    vector: 14,
    name: "#PF",
    errorCode: 4n,
    address: 0n,
    rip: 0x401234n,
    reason: "",
  };
  const at = { function: "parse_header", file: "main.c", line: 42, address: "0x401234" };
  const b = await body(errorResponse(new FunctionFaultError("crashy", fault, "r", at)));
  assert.equal(
    b.message,
    "function crashy faulted (page fault at 0x0) in parse_header (main.c:42)",
  );
  assert.deepEqual(b.at, at);
  const sym = { function: "parse_header", offset: 0x1c, address: "0x401234" };
  const b2 = await body(errorResponse(new FunctionFaultError("crashy", fault, "r", sym)));
  assert.equal(b2.message, "function crashy faulted (page fault at 0x0) in parse_header+0x1c");
});

Deno.test("FunctionAbortedError is a 502 with the function's reason", async () => {
  const exit = (reason: string) => ({
    kind: "guest_exit" as const,
    vector: 0,
    name: "guest_exit",
    errorCode: 1n,
    address: 0n,
    rip: 0n,
    reason,
  });
  const res = errorResponse(new FunctionAbortedError("f", exit("disk on fire"), "r"));
  assert.equal(res.status, 502);
  const b = await body(res);
  assert.equal(b.error, "function_aborted");
  assert.equal(b.message, "function f called sure_abort: disk on fire");
  assert.equal(b.reason, "disk on fire");
  const msg = async (r: string) =>
    (await body(errorResponse(new FunctionAbortedError("f", exit(r), "r")))).message;
  assert.equal(await msg("abort() called"), "function f called abort()");
  assert.equal(await msg("exit(3) called"), "function f called exit(3)");
  assert.equal(await msg(""), "function f exited (code 1)");
});

Deno.test("FunctionFailedError is a 500 naming handle()'s return value", async () => {
  const res = errorResponse(new FunctionFailedError("f", 3, "r"));
  assert.equal(res.status, 500);
  assert.deepEqual(await body(res), {
    error: "function_failed",
    message: "function f: handle() returned 3",
    function: "f",
    rc: 3,
    requestId: "r",
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
