/**
 * `sure env <fn> [set NAME=VALUE... | unset NAME...]` and
 * `sure secret <fn> [ls | set NAME=@FILE... | rm NAME...]`: a function's
 * configuration without a rebuild. Each change is a new template on the node
 * (its sure_init sees the new values); requests in flight finish on the old
 * instances. Secrets are write-only: only their names are ever printed.
 */
import { type Command, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, requestJson } from "./client.ts";
import { parseAssignment } from "../settings/env.ts";
import { readSecretArg, readSecretSource } from "./secret_arg.ts";

interface ConfigView {
  name: string;
  env: Record<string, string>;
  secrets: string[];
}

const fnPath = (fn: string) => `/admin/functions/${encodeURIComponent(fn)}`;

function printEnv(dep: ConfigView): void {
  for (const [k, v] of Object.entries(dep.env)) console.log(`${k}=${v}`);
}

function printSecrets(dep: ConfigView): void {
  for (const k of dep.secrets) console.log(k);
}

export const envCommand: Command = {
  name: "env",
  summary: "Show or change a function's environment values: <fn> [set NAME=VALUE... | " +
    "unset NAME...].",
  usage: "env <fn> [set NAME=VALUE... | unset NAME...] [--node URL]",
  details: "Without an action prints NAME=VALUE lines. set/unset change the values without a " +
    "rebuild: the node makes a new template, so sure_init sees them; requests in flight " +
    "finish on the old values. Secrets: `sure secret`.",
  options: { ...NODE_OPTION },
  positionals: [1, 1000],
  async run(values, [fn, action, ...args]) {
    const base = nodeUrl(values.node);
    if (action === undefined) {
      printEnv(await requestJson<ConfigView>(base, fnPath(fn)));
      return 0;
    }
    if (action !== "set" && action !== "unset") {
      throw new UsageError(`env: unknown action ${JSON.stringify(action)} (set, unset)`);
    }
    if (!args.length) throw new UsageError(`env ${action} needs at least one name`);
    let body: { set?: Record<string, string>; unset?: string[] };
    if (action === "set") {
      const set: Record<string, string> = {};
      for (const text of args) {
        const a = parseAssignment(text);
        if (typeof a === "string") throw new UsageError(`env set: ${a}`);
        set[a[0]] = a[1];
      }
      body = { set };
    } else {
      body = { unset: args };
    }
    const dep = await requestJson<ConfigView>(base, `${fnPath(fn)}/env`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    printEnv(dep);
    return 0;
  },
};

export const secretCommand: Command = {
  name: "secret",
  summary: "List or change a function's secrets: <fn> [ls | set NAME=@FILE... | rm NAME...].",
  usage: "secret <fn> [ls | set NAME=@FILE... | rm NAME...] [--node URL]",
  details: "A secret is read by the function with sure_getenv like an env value, but the node " +
    "never shows, answers or logs its value: `ls` (the default) prints names only. " +
    "set NAME=@FILE takes the file's contents exactly (NAME=@-: standard input). Each change " +
    "makes a new template, so sure_init sees it.",
  options: { ...NODE_OPTION },
  positionals: [1, 1000],
  async run(values, [fn, action = "ls", ...args]) {
    const base = nodeUrl(values.node);
    if (action === "ls") {
      if (args.length) throw new UsageError("secret ls takes no more arguments");
      printSecrets(await requestJson<ConfigView>(base, fnPath(fn)));
      return 0;
    }
    if (action !== "set" && action !== "rm") {
      throw new UsageError(`secret: unknown action ${JSON.stringify(action)} (ls, set, rm)`);
    }
    if (!args.length) throw new UsageError(`secret ${action} needs at least one name`);
    let dep: ConfigView | undefined;
    if (action === "set") {
      // Every file is read (and checked) before the first one is sent.
      const stdin = { used: false };
      const pairs: [string, string][] = [];
      for (const text of args) {
        pairs.push(await readSecretArg("secret set:", text, readSecretSource, stdin));
      }
      for (const [name, value] of pairs) {
        dep = await requestJson<ConfigView>(
          base,
          `${fnPath(fn)}/secrets/${encodeURIComponent(name)}`,
          {
            method: "PUT",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ value }),
          },
        );
      }
    } else {
      for (const name of args) {
        dep = await requestJson<ConfigView>(
          base,
          `${fnPath(fn)}/secrets/${encodeURIComponent(name)}`,
          { method: "DELETE" },
        );
      }
    }
    if (dep) printSecrets(dep);
    return 0;
  },
};
