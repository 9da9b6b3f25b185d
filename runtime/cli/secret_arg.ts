/**
 * A secret on the command line: `NAME=@FILE` (the file's contents, exactly)
 * or `NAME=@-` (standard input, once per command). The value never comes
 * from the command line itself, where it would stay in the shell history and
 * show in ps. Errors name the secret and the file, never the contents.
 */
import { CommandError, UsageError } from "./command.ts";
import { parseAssignment } from "../settings/env.ts";

/** Reads a secret's source: a file path, or "-" for standard input. */
export type SecretReader = (source: string) => Promise<Uint8Array>;

export const readSecretSource: SecretReader = async (source) => {
  if (source !== "-") return await Deno.readFile(source);
  return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
};

/** One NAME=@FILE argument as [name, value]; what: the prefix of errors ("deploy: --secret"). */
export async function readSecretArg(
  what: string,
  text: string,
  read: SecretReader,
  stdin: { used: boolean },
): Promise<[string, string]> {
  const eq = text.indexOf("=");
  const name = eq < 0 ? text : text.slice(0, eq);
  const source = eq < 0 ? "" : text.slice(eq + 1);
  if (!source.startsWith("@") || source.length < 2) {
    throw new UsageError(
      `${what} ${JSON.stringify(name)}: expected NAME=@FILE or NAME=@- (standard input); a ` +
        "value on the command line would stay in the shell history",
    );
  }
  const path = source.slice(1);
  if (path === "-" && stdin.used) throw new UsageError(`${what}: only one secret may read @-`);
  stdin.used ||= path === "-";
  let bytes: Uint8Array;
  try {
    bytes = await read(path);
  } catch (e) {
    throw new CommandError(`${what} ${name}: cannot read ${path}: ${(e as Error).message}`);
  }
  let value: string;
  try {
    value = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${what} ${name}: ${path} is not UTF-8 text`);
  }
  const a = parseAssignment(`${name}=${value}`);
  if (typeof a === "string") throw new UsageError(`${what} ${a}`);
  return a;
}
