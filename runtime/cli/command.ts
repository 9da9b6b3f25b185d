/**
 * What every CLI command module provides, and the argument parsing they
 * share: node:util parseArgs in strict mode, with its errors turned into a
 * UsageError (exit status 2) that names the problem.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure the command already explained; exit status 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

export interface OptionDoc {
  type: "string" | "boolean";
  /** The flag may repeat: its value is then an array of strings. */
  multiple?: boolean;
  short?: string;
  /** e.g. "PORT" for `--port PORT` */
  arg?: string;
  help: string;
  /**
   * The SURE_* variable that stands for the flag when it is not given (serve
   * reads it, install writes it): comma-separated for a repeatable flag, "1"
   * for a boolean one, and the file's content for a flag marked fileContent.
   */
  env?: string;
  /** The flag names a file; its variable holds what the file holds (a key). */
  fileContent?: boolean;
  /** The flag names a file that holds a secret: a node warns when others can read it. */
  secret?: boolean;
}

/** A parsed flag: a string, a boolean, every value of a repeatable one, or absent. */
export type FlagValue = string | boolean | string[] | undefined;

export interface Command {
  name: string;
  summary: string;
  /** Usage line after `sure `, e.g. "build <dir> [-o OUT]". */
  usage: string;
  options: Record<string, OptionDoc>;
  /** Number of positionals: [min, max]. */
  positionals: [number, number];
  /** Longer explanation printed by `sure <cmd> --help`. */
  details?: string;
  run(values: Record<string, FlagValue>, positionals: string[]): Promise<number>;
}

export interface Parsed {
  help: boolean;
  values: Record<string, FlagValue>;
  positionals: string[];
}

/** Parses argv for cmd; throws UsageError on unknown flags or wrong arity. */
export function parseCommand(cmd: Command, argv: string[]): Parsed {
  const options: ParseArgsOptionsConfig = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs' messages already say which flag; drop its hint about "--".
    const msg = (e as Error).message.split(". To specify")[0];
    throw new UsageError(`${cmd.name}: ${msg}`);
  }
  const values = parsed.values as Record<string, FlagValue>;
  if (values.help) return { help: true, values, positionals: parsed.positionals };
  const [min, max] = cmd.positionals;
  const n = parsed.positionals.length;
  if (n < min) throw new UsageError(`${cmd.name}: missing argument (usage: sure ${cmd.usage})`);
  if (n > max) {
    throw new UsageError(
      `${cmd.name}: unexpected argument ${JSON.stringify(parsed.positionals[max])}`,
    );
  }
  return { help: false, values, positionals: parsed.positionals };
}

/** Parses a flag that must be a whole number, naming the flag if it is not. */
export function intFlag(name: string, value: FlagValue): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** How a flag's variable is written, beyond its plain value. */
function envForm(o: OptionDoc): string {
  if (o.fileContent) return ": the file's content";
  if (o.multiple) return ": comma-separated";
  return o.type === "boolean" ? "=1" : "";
}

/** Help text of one command. */
export function commandHelp(cmd: Command): string {
  const lines = [`Usage: sure ${cmd.usage}`, "", cmd.summary];
  if (cmd.details) lines.push("", cmd.details);
  const opts = Object.entries(cmd.options);
  lines.push("", "Options:");
  const rows = opts.map(([name, o]) => {
    const flag = (o.short ? `-${o.short}, ` : "    ") + `--${name}` + (o.arg ? ` ${o.arg}` : "");
    return [flag, o.env ? `${o.help} (env ${o.env}${envForm(o)})` : o.help];
  });
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([f]) => f.length));
  for (const [f, h] of rows) lines.push(`  ${f.padEnd(width)}  ${h}`);
  return lines.join("\n");
}
