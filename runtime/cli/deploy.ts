/** `sure deploy <image> --name N ...`: upload an image to a node. */
import { type Command, CommandError, intFlag, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, requestJson } from "./client.ts";
import { SCALING_FLAGS, SCALING_OPTIONS } from "./scale.ts";

export const deployCommand: Command = {
  name: "deploy",
  summary: "Deploy (or replace) a function from an image file; prints the deployment.",
  usage: "deploy <image> --name NAME [--memory MIB] [--timeout MS] [--max-body BYTES] " +
    "[--min N] [--max N] [--target N] [--idle-timeout MS] [--cold-start clone|boot] " +
    "[--concurrency-limit N] [--rate-limit N] [--rate-burst N] [--deadline MS] [--sidecar on|off]",
  options: {
    name: { type: "string", short: "n", arg: "NAME", help: "function name: [a-z][a-z0-9-]{0,62}" },
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
    ...NODE_OPTION,
  },
  positionals: [1, 1],
  async run(values, [imagePath]) {
    const name = values.name;
    if (typeof name !== "string" || name === "") throw new UsageError("deploy: --name is required");
    const form = new FormData();
    form.append("name", name);
    const numbers: [string, string][] = [
      ["memory", "memory"],
      ["timeout", "timeout"],
      ["max-body", "maxBody"],
      ...SCALING_FLAGS,
    ];
    for (const [flag, field] of numbers) {
      const v = intFlag(flag, values[flag]);
      if (v !== undefined) form.append(field, String(v));
    }
    if (typeof values["cold-start"] === "string") form.append("coldStart", values["cold-start"]);
    if (typeof values.sidecar === "string") form.append("sidecar", values.sidecar);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(imagePath);
    } catch (e) {
      throw new CommandError(`deploy: cannot read ${imagePath}: ${(e as Error).message}`);
    }
    form.append("image", new File([bytes], imagePath.split("/").pop() || "image.sure"));
    const dep = await requestJson(nodeUrl(values.node), "/admin/functions", {
      method: "POST",
      body: form,
    });
    console.log(JSON.stringify(dep, null, 2));
    return 0;
  },
};
