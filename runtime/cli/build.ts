/** `sure build <dir> [-o OUT]`: compile a function folder into an image. */
import { type Command, CommandError } from "./command.ts";
import type { BuildResult } from "../builder/compile.ts";

/**
 * Builds the function in dir (`sure build`, and `sure deploy <dir>`); a
 * failure prints the compiler's diagnostics and throws CommandError.
 */
export async function buildFolder(dir: string, out?: string, name?: string): Promise<BuildResult> {
  const { buildFunction, BuildError } = await import("../builder/compile.ts");
  try {
    return await buildFunction(dir, { ...(out ? { out } : {}), ...(name ? { name } : {}) });
  } catch (e) {
    if (e instanceof BuildError) {
      // The compiler's own diagnostics, verbatim; the message repeats them otherwise.
      const output = (e as Error & { output?: string }).output;
      if (output) {
        console.error(output.trimEnd());
        throw new CommandError(`build of ${dir} failed`);
      }
      throw new CommandError((e as Error).message);
    }
    throw e;
  }
}

export const buildCommand: Command = {
  name: "build",
  summary: "Build the function in <dir> (C source + manifest) into a sure image; prints its path.",
  usage: "build <dir> [-o OUT]",
  options: {
    out: { type: "string", short: "o", arg: "OUT", help: "where to write the image" },
  },
  positionals: [1, 1],
  async run(values, [dir]) {
    const built = await buildFolder(dir, values.out as string | undefined);
    console.log(built.image);
    return 0;
  },
};
