/** `sure invoke <name> [--data STR | --file PATH]`: run a function once. */
import { type Command, CommandError, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, request } from "./client.ts";

export const invokeCommand: Command = {
  name: "invoke",
  summary: "Invoke a function and print its response body.",
  usage: "invoke <name> [--data STR | --file PATH] [--node URL]",
  details: "A non-2xx answer prints the node's JSON error to stderr and exits with status 1.",
  options: {
    data: { type: "string", arg: "STR", help: "request body, as text" },
    file: { type: "string", short: "f", arg: "PATH", help: "request body, read from a file" },
    ...NODE_OPTION,
  },
  positionals: [1, 1],
  async run(values, [name]) {
    if (values.data !== undefined && values.file !== undefined) {
      throw new UsageError("invoke: give --data or --file, not both");
    }
    let body: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    if (typeof values.data === "string") body = new TextEncoder().encode(values.data);
    if (typeof values.file === "string") {
      try {
        body = await Deno.readFile(values.file);
      } catch (e) {
        throw new CommandError(`invoke: cannot read ${values.file}: ${(e as Error).message}`);
      }
    }
    const res = await request(nodeUrl(values.node), `/invoke/${encodeURIComponent(name)}`, {
      method: "POST",
      body,
    });
    const out = new Uint8Array(await res.arrayBuffer());
    // Raw bytes, exactly as the function wrote them.
    let off = 0;
    while (off < out.byteLength) off += await Deno.stdout.write(out.subarray(off));
    return 0;
  },
};
