/**
 * `sure invoke <name>[/path][?query] [-X METHOD] [-H 'Name: value']...
 * [--data STR | --file PATH] [-i]`: run a function once with the request a
 * client would send, and print its answer.
 */
import { type Command, CommandError, type FlagValue, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, request } from "./client.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** -H flags as fetch headers; a malformed one is a usage error naming it. */
export function headerFlags(v: FlagValue): [string, string][] {
  const list = v === undefined || typeof v === "boolean" ? [] : typeof v === "string" ? [v] : v;
  return list.map((h) => {
    const colon = h.indexOf(":");
    const name = colon < 0 ? "" : h.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`invoke: -H ${JSON.stringify(h)} is not "Name: value"`);
    }
    return [name, h.slice(colon + 1).trim()];
  });
}

/** "api/users/7?x=1" -> "/invoke/api/users/7?x=1" (the name escaped, the rest as given). */
export function invokePath(target: string): string {
  const cut = target.search(/[/?]/);
  const name = cut < 0 ? target : target.slice(0, cut);
  if (!name) throw new UsageError("invoke: missing function name");
  return `/invoke/${encodeURIComponent(name)}${cut < 0 ? "" : target.slice(cut)}`;
}

export const invokeCommand: Command = {
  name: "invoke",
  summary: "Invoke a function and print its response body.",
  usage:
    "invoke <name>[/path][?query] [-X METHOD] [-H 'Name: value']... [--data STR | --file PATH] [-i] [--node URL]",
  details: "The method is POST with a body, GET without one. A non-2xx answer prints the " +
    "node's JSON error to stderr and exits with status 1.",
  options: {
    data: { type: "string", arg: "STR", help: "request body, as text" },
    file: { type: "string", short: "f", arg: "PATH", help: "request body, read from a file" },
    request: {
      type: "string",
      short: "X",
      arg: "METHOD",
      help: METHODS.join(", "),
    },
    header: {
      type: "string",
      short: "H",
      arg: "'NAME: VALUE'",
      multiple: true,
      help: "a request header (repeatable)",
    },
    include: {
      type: "boolean",
      short: "i",
      help: "print the status line and the response headers first",
    },
    ...NODE_OPTION,
  },
  positionals: [1, 1],
  async run(values, [target]) {
    if (values.data !== undefined && values.file !== undefined) {
      throw new UsageError("invoke: give --data or --file, not both");
    }
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (typeof values.data === "string") body = new TextEncoder().encode(values.data);
    if (typeof values.file === "string") {
      try {
        body = await Deno.readFile(values.file);
      } catch (e) {
        throw new CommandError(`invoke: cannot read ${values.file}: ${(e as Error).message}`);
      }
    }
    const method = typeof values.request === "string"
      ? values.request.toUpperCase()
      : body
      ? "POST"
      : "GET";
    if (!METHODS.includes(method)) {
      throw new UsageError(`invoke: -X ${method} is not one of ${METHODS.join(", ")}`);
    }
    if (body && (method === "GET" || method === "HEAD")) {
      throw new UsageError(`invoke: a ${method} request has no body`);
    }
    const res = await request(nodeUrl(values.node), invokePath(target), {
      method,
      headers: headerFlags(values.header),
      body,
    });
    if (values.include) {
      const lines = [`HTTP ${res.status} ${res.statusText}`];
      res.headers.forEach((v, k) => lines.push(`${k}: ${v}`));
      await Deno.stdout.write(new TextEncoder().encode(lines.join("\n") + "\n\n"));
    }
    const out = new Uint8Array(await res.arrayBuffer());
    // Raw bytes, exactly as the function wrote them.
    let off = 0;
    while (off < out.byteLength) off += await Deno.stdout.write(out.subarray(off));
    return 0;
  },
};
