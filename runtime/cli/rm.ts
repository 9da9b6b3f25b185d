/** `sure rm <name>`: remove a function. */
import type { Command } from "./command.ts";
import { NODE_OPTION, nodeUrl, request } from "./client.ts";

export const rmCommand: Command = {
  name: "rm",
  summary: "Remove a function from a node (its instances are destroyed).",
  usage: "rm <name> [--node URL]",
  options: { ...NODE_OPTION },
  positionals: [1, 1],
  async run(values, [name]) {
    await request(nodeUrl(values.node), `/admin/functions/${encodeURIComponent(name)}`, {
      method: "DELETE",
    }).then((r) => r.body?.cancel());
    console.log(`removed ${name}`);
    return 0;
  },
};
