import assert from "node:assert/strict";
import {
  checkConfig,
  encodeEnvBlock,
  ENV_MAX_BYTES,
  ENV_MAX_VARS,
  envNameProblem,
  EnvProblem,
  parseAssignment,
} from "./env.ts";
import { LIMITS } from "../../ffi/abi.ts";

const dec = new TextDecoder();

Deno.test("env: names are [A-Za-z_][A-Za-z0-9_]*, at most 128 characters", () => {
  for (const ok of ["A", "_", "a_b", "API_TOKEN2", "_9", "x".repeat(128)]) {
    assert.equal(envNameProblem(ok), null, ok);
  }
  for (const bad of ["", "1A", "A-B", "A B", "A=B", "é", "x".repeat(129), "A\0"]) {
    assert.ok(envNameProblem(bad), JSON.stringify(bad));
  }
});

Deno.test("env: NAME=VALUE keeps every = after the first and empty values", () => {
  assert.deepEqual(parseAssignment("A=1"), ["A", "1"]);
  assert.deepEqual(parseAssignment("URL=a=b=c"), ["URL", "a=b=c"]);
  assert.deepEqual(parseAssignment("EMPTY="), ["EMPTY", ""]);
  assert.match(parseAssignment("NOEQUALS") as string, /expected NAME=VALUE/);
  assert.match(parseAssignment("1X=v") as string, /must match/);
  // A bad value is named by its variable, never quoted.
  const p = parseAssignment("TOKEN=sec\0ret") as string;
  assert.match(p, /"TOKEN".*NUL/);
  assert.ok(!p.includes("sec"));
});

Deno.test("env: the whole configuration is checked and problems never quote values", () => {
  checkConfig({}, {});
  checkConfig({ A: "1" }, { B: "s3cr3t" });
  const problem = (env: Record<string, string>, secrets: Record<string, string>) => {
    try {
      checkConfig(env, secrets);
    } catch (e) {
      assert.ok(e instanceof EnvProblem);
      assert.ok(!e.message.includes("s3cr3t"), e.message);
      return e;
    }
    assert.fail("expected a problem");
  };
  assert.equal(problem({}, { "bad-name": "s3cr3t" }).field, "secrets");
  assert.equal(problem({}, { OK: "s3cr3t\0" }).field, "secrets");
  assert.match(problem({ A: "1" }, { A: "s3cr3t" }).message, /both an environment value and/);
  const many: Record<string, string> = {};
  for (let i = 0; i <= ENV_MAX_VARS; i++) many[`V${i}`] = "";
  assert.match(problem(many, {}).message, /at most 128/);
  assert.match(problem({ A: "x".repeat(ENV_MAX_BYTES) }, {}).message, /bytes/);
  // Exactly at the limit passes: "A=" + value + NUL.
  checkConfig({ A: "x".repeat(ENV_MAX_BYTES - 3) }, {});
  // UTF-8 bytes count, not characters.
  assert.match(problem({ A: "é".repeat(ENV_MAX_BYTES / 2) }, {}).message, /bytes/);
  assert.ok(ENV_MAX_BYTES <= LIMITS.envMax);
});

Deno.test("env: the block is env then secrets, each sorted, NUL after every entry", () => {
  assert.equal(encodeEnvBlock({}, {}).byteLength, 0);
  const block = encodeEnvBlock({ B: "2", A: "1=x" }, { Z: "", C: "é" });
  assert.equal(dec.decode(block), "A=1=x\0B=2\0C=é\0Z=\0");
});
