/** `sure health`: print a node's /healthz. */
import type { Command } from "./command.ts";
import { NODE_OPTION, nodeUrl, requestJson } from "./client.ts";

export const healthCommand: Command = {
  name: "health",
  summary: "Print the health of a node (KVM, functions, instances, what the machine offers).",
  usage: "health [--node URL]",
  options: { ...NODE_OPTION },
  positionals: [0, 0],
  async run(values) {
    const h = await requestJson(nodeUrl(values.node), "/healthz");
    console.log(JSON.stringify(h, null, 2));
    return 0;
  },
};
