import assert from "node:assert/strict";
import { type Command, commandHelp, intFlag, parseCommand, UsageError } from "./command.ts";

const cmd: Command = {
  name: "demo",
  summary: "A demo.",
  usage: "demo <x> [--n N]",
  options: {
    n: { type: "string", arg: "N", help: "a number" },
    flag: { type: "boolean", short: "f", help: "a flag" },
  },
  positionals: [1, 1],
  run: () => Promise.resolve(0),
};

Deno.test("parseCommand reads flags and positionals", () => {
  const p = parseCommand(cmd, ["a", "--n", "3", "-f"]);
  assert.equal(p.help, false);
  assert.deepEqual(p.positionals, ["a"]);
  assert.equal(p.values.n, "3");
  assert.equal(p.values.flag, true);
});

Deno.test("parseCommand: unknown flags and wrong arity are usage errors", () => {
  assert.throws(() => parseCommand(cmd, ["a", "--nope"]), UsageError);
  assert.throws(() => parseCommand(cmd, []), /missing argument/);
  assert.throws(() => parseCommand(cmd, ["a", "b"]), /unexpected argument "b"/);
  assert.throws(() => parseCommand(cmd, ["a", "--n"]), UsageError);
});

Deno.test("parseCommand: --help wins over missing arguments", () => {
  assert.equal(parseCommand(cmd, ["--help"]).help, true);
  assert.equal(parseCommand(cmd, ["-h"]).help, true);
});

Deno.test("intFlag names the flag when the value is not a whole number", () => {
  assert.equal(intFlag("port", "80"), 80);
  assert.equal(intFlag("port", undefined), undefined);
  assert.throws(() => intFlag("port", "8o"), /--port must be a whole number/);
});

Deno.test("commandHelp documents every flag", () => {
  const text = commandHelp(cmd);
  for (const s of ["Usage: sure demo <x> [--n N]", "--n N", "-f, --flag", "--help"]) {
    assert.ok(text.includes(s), `help lacks ${s}:\n${text}`);
  }
});
