/**
 * `sure deploy <image> --name N ...`: upload an image to a node.
 * `sure deploy <folder> ...`: build the folder (as `sure build` does) and
 * deploy it with its sure.json: its name and every setting, flags over them.
 * `--env NAME=VALUE` and `--secret NAME=@file` (or `NAME=@-`: standard
 * input) repeat; --env values override sure.json's "env" name by name.
 */
import { type Command, CommandError, type FlagValue, intFlag, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, requestJson } from "./client.ts";
import { SCALING_FLAGS, SCALING_OPTIONS } from "./scale.ts";
import { buildFolder } from "./build.ts";
import type { FunctionManifest } from "../builder/manifest.ts";
import { type FunctionSettings, INT_SETTINGS, SETTING_NAMES } from "../settings/settings.ts";
import { checkConfig, EnvProblem, type EnvVars, parseAssignment } from "../settings/env.ts";
import { readSecretArg, readSecretSource, type SecretReader } from "./secret_arg.ts";

/** CLI flag -> settings field, for every setting (a test checks that none is missing). */
export const DEPLOY_FLAGS: readonly (readonly [string, keyof FunctionSettings])[] = [
  ["memory", "memory"],
  ["timeout", "timeout"],
  ["max-body", "maxBody"],
  ...SCALING_FLAGS as [string, keyof FunctionSettings][],
  ["cold-start", "coldStart"],
  ["sidecar", "sidecar"],
  ["access", "access"],
];

type Values = Record<string, FlagValue>;

/** Every value of a repeatable flag. */
function repeated(v: FlagValue): string[] {
  if (v === undefined || typeof v === "boolean") return [];
  return typeof v === "string" ? [v] : v;
}

/** --env NAME=VALUE flags. Throws UsageError naming the flag. */
export function envFlags(values: Values): EnvVars {
  const env: EnvVars = {};
  for (const text of repeated(values.env)) {
    const a = parseAssignment(text);
    if (typeof a === "string") throw new UsageError(`deploy: --env ${a}`);
    if (Object.hasOwn(env, a[0])) {
      throw new UsageError(`deploy: --env ${JSON.stringify(a[0])} given more than once`);
    }
    env[a[0]] = a[1];
  }
  return env;
}

/** --secret NAME=@FILE flags (FILE "-": standard input, once). */
export async function secretFlags(
  values: Values,
  read: SecretReader = readSecretSource,
): Promise<EnvVars> {
  const secrets: EnvVars = {};
  const stdin = { used: false };
  for (const text of repeated(values.secret)) {
    const [name, value] = await readSecretArg("deploy: --secret", text, read, stdin);
    if (Object.hasOwn(secrets, name)) {
      throw new UsageError(`deploy: --secret ${JSON.stringify(name)} given more than once`);
    }
    secrets[name] = value;
  }
  return secrets;
}

/** The settings given as flags, as deploy form fields. Throws UsageError naming the flag. */
export function flagFields(values: Values): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [flag, field] of DEPLOY_FLAGS) {
    const v = values[flag];
    if (v === undefined) continue;
    fields[field] = field in INT_SETTINGS ? String(intFlag(flag, v)) : String(v);
  }
  return fields;
}

/** The deploy form fields of a folder: its manifest's name and every setting, flags over them. */
export function folderFields(
  manifest: FunctionManifest,
  flags: Record<string, string>,
  name?: string,
): Record<string, string> {
  const fields: Record<string, string> = { name: name ?? manifest.name };
  for (const key of SETTING_NAMES) fields[key] = String(manifest[key]);
  return { ...fields, ...flags };
}

export interface DeployPlan {
  /** The image file to upload. */
  image: string;
  /** The text fields of the deploy form, name first. */
  fields: Record<string, string>;
  /** Environment values: sure.json's "env", --env flags over them. */
  env: EnvVars;
  /** Secrets (--secret). */
  secrets: EnvVars;
}

/** What builds a folder: `sure build`'s builder (replaceable in tests). */
/** Builds a folder; name: --name, the function's name when its sure.json has none. */
export type FolderBuilder = (
  dir: string,
  name?: string,
) => Promise<{ image: string; manifest: FunctionManifest }>;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * What `sure deploy <target>` sends. A folder is built first (a bad
 * sure.json or a bad flag stops it before anything reaches the node).
 */
export async function planDeploy(
  target: string,
  values: Values,
  build: FolderBuilder = (dir, name) => buildFolder(dir, undefined, name),
  readSecret: SecretReader = readSecretSource,
): Promise<DeployPlan> {
  const name = values.name;
  const env = envFlags(values);
  const secrets = await secretFlags(values, readSecret);
  let plan: DeployPlan;
  if (await isDirectory(target)) {
    if (name === "") throw new UsageError("deploy: --name must not be empty");
    const flags = flagFields(values);
    const built = await build(target, name as string | undefined);
    plan = {
      image: built.image,
      fields: folderFields(built.manifest, flags, name as string | undefined),
      env: { ...built.manifest.env, ...env },
      secrets,
    };
  } else {
    if (typeof name !== "string" || name === "") {
      throw new UsageError("deploy: --name is required (or deploy a function folder)");
    }
    plan = { image: target, fields: { name, ...flagFields(values) }, env, secrets };
  }
  try {
    checkConfig(plan.env, plan.secrets); // the node checks again; this is before any upload
  } catch (e) {
    if (e instanceof EnvProblem) throw new UsageError(`deploy: ${e.field}: ${e.message}`);
    throw e;
  }
  return plan;
}

export const deployCommand: Command = {
  name: "deploy",
  summary: "Deploy (or replace) a function from an image file or a function folder; " +
    "prints the deployment.",
  usage: "deploy <image|folder> [--name NAME] [--memory MIB] [--timeout MS] [--max-body BYTES] " +
    "[--min N] [--max N] [--target N] [--idle-timeout MS] [--cold-start clone|boot] " +
    "[--concurrency-limit N] [--rate-limit N] [--rate-burst N] [--deadline MS] [--sidecar on|off] [--access public|private] " +
    "[--env NAME=VALUE]... [--secret NAME=@FILE]... [--labels K=V,...] [--replicas N]",
  details: "An image needs --name. A folder is built as `sure build` builds it and deployed " +
    "with its sure.json: its name (else the folder's) and every setting; flags override them. " +
    "The function reads --env and --secret values with sure_getenv (also in sure_init); " +
    "secrets are write-only: the node lists their names and never shows their values.",
  options: {
    name: {
      type: "string",
      short: "n",
      arg: "NAME",
      help: "function name: [a-z][a-z0-9-]{0,62} (a folder: default from sure.json)",
    },
    memory: { type: "string", arg: "MIB", help: "guest memory, 8..1024 MiB (default 16)" },
    timeout: {
      type: "string",
      arg: "MS",
      help: "per-request timeout, 1..300000 ms (default 5000)",
    },
    "max-body": {
      type: "string",
      arg: "BYTES",
      help: "largest request body, 1..16777216 (default 1048576)",
    },
    ...SCALING_OPTIONS,
    "cold-start": {
      type: "string",
      arg: "MODE",
      help: "clone (of the template taken after init; default) or boot",
    },
    sidecar: {
      type: "string",
      arg: "on|off",
      help: "the library sidecar: limits, accounting, trace context (default on)",
    },
    access: {
      type: "string",
      arg: "public|private",
      help: "who may invoke it: anyone (public; default) or holders of the node's token (private)",
    },
    env: {
      type: "string",
      multiple: true,
      arg: "NAME=VALUE",
      help: "an environment value (repeat the flag; overrides sure.json's env by name)",
    },
    secret: {
      type: "string",
      multiple: true,
      arg: "NAME=@FILE",
      help: "a secret from a file's contents (@-: standard input); never shown again",
    },
    labels: {
      type: "string",
      arg: "K=V,...",
      help: "in a fleet: run only on nodes with these labels",
    },
    replicas: {
      type: "string",
      arg: "N",
      help: "in a fleet: run on at most N of the matching nodes",
    },
    ...NODE_OPTION,
  },
  positionals: [1, 1],
  async run(values, [target]) {
    // A path that is not there is the mistake to name, before any flag is.
    if (!await exists(target)) {
      throw new UsageError(
        `deploy: ${target}: no such file or folder (deploy an image file with --name, ` +
          "or a function folder)",
      );
    }
    const plan = await planDeploy(target, values);
    const form = new FormData();
    for (const [field, value] of Object.entries(plan.fields)) form.append(field, value);
    for (const [k, v] of Object.entries(plan.env)) form.append("env", `${k}=${v}`);
    for (const [k, v] of Object.entries(plan.secrets)) form.append("secret", `${k}=${v}`);
    // Placement: checked by the node (a node not in a fleet refuses it, saying why).
    if (typeof values.labels === "string") form.append("labels", values.labels);
    if (typeof values.replicas === "string") form.append("replicas", values.replicas);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(plan.image);
    } catch (e) {
      throw new CommandError(`deploy: cannot read ${plan.image}: ${(e as Error).message}`);
    }
    form.append("image", new File([bytes], plan.image.split("/").pop() || "image.sure"));
    const dep = await requestJson(nodeUrl(values.node), "/admin/functions", {
      method: "POST",
      body: form,
    });
    console.log(JSON.stringify(dep, null, 2));
    // Stored and served, but a chain using it cannot run on it: say so where it shows.
    const warnings = (dep as { warnings?: unknown }).warnings;
    if (Array.isArray(warnings)) { for (const w of warnings) console.error(`warning: ${w}`); }
    return 0;
  },
};
