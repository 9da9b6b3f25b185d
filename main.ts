/**
 * sure: the command line. `sure help` lists the commands; each command's
 * module in runtime/cli/ documents its flags (`sure <cmd> --help`).
 *
 * Exit status: 0 success, 1 the command failed, 2 the command line is wrong.
 */
import {
  type Command,
  CommandError,
  commandHelp,
  parseCommand,
  UsageError,
} from "./runtime/cli/command.ts";
import { HttpFailure, useNodeFlags } from "./runtime/cli/client.ts";
import { installCommand, uninstallCommand } from "./runtime/cli/install.ts";
import { devCommand, serveCommand } from "./runtime/cli/serve.ts";
import { buildCommand } from "./runtime/cli/build.ts";
import { deployCommand } from "./runtime/cli/deploy.ts";
import { lsCommand } from "./runtime/cli/ls.ts";
import { nodesCommand } from "./runtime/cli/nodes.ts";
import { rmCommand } from "./runtime/cli/rm.ts";
import { invokeCommand } from "./runtime/cli/invoke.ts";
import { healthCommand } from "./runtime/cli/health.ts";
import { chainCommand } from "./runtime/cli/chain.ts";
import { instancesCommand, scaleCommand } from "./runtime/cli/scale.ts";
import { logsCommand } from "./runtime/cli/logs.ts";
import { envCommand, secretCommand } from "./runtime/cli/config.ts";
import { triggerCommand } from "./runtime/cli/trigger.ts";
import { eventsCommand } from "./runtime/cli/events.ts";
import { VERSION } from "./runtime/version.ts";

const COMMANDS: Command[] = [
  devCommand,
  serveCommand,
  buildCommand,
  deployCommand,
  lsCommand,
  nodesCommand,
  rmCommand,
  invokeCommand,
  instancesCommand,
  scaleCommand,
  logsCommand,
  envCommand,
  secretCommand,
  chainCommand,
  triggerCommand,
  eventsCommand,
  healthCommand,
  installCommand,
  uninstallCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `sure ${VERSION}: serverless functions in KVM micro-VMs`,
    "",
    "Usage: sure <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  Show this help, or \`sure help <command>\` for one command.`,
    "",
    "Run `sure <command> --help` for the flags of a command.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      if (name === "help" && rest.length > 0) {
        const cmd = COMMANDS.find((c) => c.name === rest[0]);
        if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(rest[0])}`);
        console.log(commandHelp(cmd));
        return 0;
      }
      console.log(usage());
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "version") {
      console.log(VERSION);
      return 0;
    }
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const parsed = parseCommand(cmd, rest);
    if (parsed.help) {
      console.log(commandHelp(cmd));
      return 0;
    }
    if (cmd.options && "token" in cmd.options) useNodeFlags(parsed.values);
    return await cmd.run(parsed.values, parsed.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`sure: ${e.message}\nRun \`sure help\` for the commands and their flags.`);
      return 2;
    }
    if (e instanceof HttpFailure) {
      // The node's JSON error body, as is: it names the error and the cause.
      console.error(e.body.trimEnd() || `HTTP ${e.status}`);
      return 1;
    }
    if (e instanceof CommandError) {
      console.error(`sure: ${e.message}`);
      return 1;
    }
    console.error(`sure: ${(e as Error).message ?? e}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
