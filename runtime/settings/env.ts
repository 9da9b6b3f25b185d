/**
 * A function's configuration: environment values (shown by the admin API)
 * and secrets (write-only: listed by name, never answered, logged or put in
 * a KV key). Both reach the guest as one block of "NAME=VALUE\0" entries that
 * sure_getenv reads (libsure/guest/src/env.c; libsure checks it again).
 * Shared by sure.json manifests, the CLI, the deploy form and the admin
 * routes; imports nothing of the node, so the builder can use it.
 *
 * Problems name the variable, never its value: the value may be a secret.
 */
import { LIMITS } from "../../ffi/abi.ts";

export type EnvVars = Record<string, string>;

export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Longest name. */
export const ENV_NAME_MAX = 128;
/** Most variables, environment and secrets together. */
export const ENV_MAX_VARS = 128;
/**
 * Largest block (environment and secrets together, "NAME=VALUE\0" each, in
 * UTF-8): a quarter of what the guest ABI allows (SURE_ENV_MAX), because each
 * half is kept in one Deno KV value (at most 64 KiB), where a string may take
 * two bytes a character.
 */
export const ENV_MAX_BYTES = LIMITS.envMax / 4;

const utf8 = new TextEncoder();

/** What is wrong with a name, or null. */
export function envNameProblem(name: string): string | null {
  if (name.length === 0) return "the name is empty";
  if (name.length > ENV_NAME_MAX) return `the name is longer than ${ENV_NAME_MAX} characters`;
  if (!ENV_NAME_RE.test(name)) {
    return "the name must match [A-Za-z_][A-Za-z0-9_]* (letters, digits, _; not a digit first)";
  }
  return null;
}

/** What is wrong with a value, or null (never quotes it). */
export function envValueProblem(value: unknown): string | null {
  if (typeof value !== "string") return "the value must be a string";
  if (value.includes("\0")) return "the value must not contain a NUL character";
  return null;
}

/** A problem with the configuration, naming the variable (never its value). */
export class EnvProblem extends Error {
  /** field: "env" or "secrets", where the problem is. */
  constructor(readonly field: "env" | "secrets", message: string) {
    super(message);
    this.name = "EnvProblem";
  }
}

/** Bytes a variable takes in the block. */
function entryBytes(name: string, value: string): number {
  return utf8.encode(name).byteLength + 1 + utf8.encode(value).byteLength + 1;
}

/**
 * Checks a whole configuration: every name and value, no name both a value
 * and a secret, the count and the block's size. Throws EnvProblem.
 */
export function checkConfig(env: EnvVars, secrets: EnvVars): void {
  let bytes = 0;
  let count = 0;
  for (const [field, vars] of [["env", env], ["secrets", secrets]] as const) {
    for (const [name, value] of Object.entries(vars)) {
      const p = envNameProblem(name) ?? envValueProblem(value);
      if (p) throw new EnvProblem(field, `${JSON.stringify(name)}: ${p}`);
      if (field === "secrets" && Object.hasOwn(env, name)) {
        throw new EnvProblem(
          field,
          `${JSON.stringify(name)} is both an environment value and a secret`,
        );
      }
      bytes += entryBytes(name, value);
      count++;
    }
  }
  if (count > ENV_MAX_VARS) {
    throw new EnvProblem("env", `${count} variables: at most ${ENV_MAX_VARS} (env and secrets)`);
  }
  if (bytes > ENV_MAX_BYTES) {
    throw new EnvProblem(
      "env",
      `env and secrets take ${bytes} bytes ("NAME=VALUE" + 1 each): at most ${ENV_MAX_BYTES}`,
    );
  }
}

/** The block the guest reads: environment, then secrets, each sorted by name; empty for none. */
export function encodeEnvBlock(env: EnvVars, secrets: EnvVars): Uint8Array {
  const parts: string[] = [];
  for (const vars of [env, secrets]) {
    for (const name of Object.keys(vars).sort()) parts.push(`${name}=${vars[name]}\0`);
  }
  return utf8.encode(parts.join(""));
}

/**
 * "NAME=VALUE" as given on a command line (the value may hold "=" and be
 * empty). Returns the problem instead when there is one (never quoting the
 * value).
 */
export function parseAssignment(text: string): [string, string] | string {
  const eq = text.indexOf("=");
  // No value to leak here: the whole text is a name.
  if (eq < 0) return `${JSON.stringify(text)}: expected NAME=VALUE`;
  const name = text.slice(0, eq);
  const p = envNameProblem(name) ?? envValueProblem(text.slice(eq + 1));
  return p ? `${JSON.stringify(name)}: ${p}` : [name, text.slice(eq + 1)];
}

/** A copy without null-prototype surprises, names sorted (stable answers and records). */
export function sortedVars(vars: EnvVars): EnvVars {
  const out: EnvVars = {};
  for (const name of Object.keys(vars).sort()) out[name] = vars[name];
  return out;
}
