/** `sure ls`: list deployed functions. */
import type { Command } from "./command.ts";
import { NODE_OPTION, nodeUrl, requestJson } from "./client.ts";
import type { Deployment } from "../store/store.ts";

export const lsCommand: Command = {
  name: "ls",
  summary: "List the functions deployed on a node.",
  usage: "ls [--json] [--node URL]",
  options: {
    json: { type: "boolean", help: "print the raw JSON list" },
    ...NODE_OPTION,
  },
  positionals: [0, 0],
  async run(values) {
    const { functions } = await requestJson<{ functions: Deployment[] }>(
      nodeUrl(values.node),
      "/admin/functions",
    );
    if (values.json) {
      console.log(JSON.stringify(functions, null, 2));
      return 0;
    }
    const rows = [["NAME", "MEMORY", "TIMEOUT", "MAX-BODY", "DIGEST", "UPDATED"]];
    for (const f of functions) {
      rows.push([
        f.name,
        `${f.memory}MiB`,
        `${f.timeout}ms`,
        String(f.maxBody),
        f.digest.slice(0, 12),
        f.updatedAt,
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
    return 0;
  },
};
