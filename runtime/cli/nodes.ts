/** `sure nodes`: the fleet's nodes as the node asked sees them. */
import type { Command } from "./command.ts";
import { NODE_OPTION, nodeUrl, printTable, requestJson } from "./client.ts";

interface FleetNode {
  name: string;
  url: string;
  labels: Record<string, string>;
  at: string;
  alive: boolean;
  self: boolean;
  functions: Array<{ name: string }>;
  failing: Record<string, string>;
}

export const nodesCommand: Command = {
  name: "nodes",
  summary: "List the nodes of the fleet a node is in: alive or not, labels, what each runs.",
  usage: "nodes [--json] [--node URL]",
  options: {
    json: { type: "boolean", help: "print the raw JSON" },
    ...NODE_OPTION,
  },
  positionals: [0, 0],
  async run(values) {
    const out = await requestJson<{ self: string; connected: boolean; nodes: FleetNode[] }>(
      nodeUrl(values.node),
      "/admin/fleet/nodes",
    );
    if (values.json) {
      console.log(JSON.stringify(out, null, 2));
      return 0;
    }
    if (!out.connected) console.log(`(${out.self} does not reach the fleet now: its last view)`);
    const rows = [["NODE", "STATE", "LABELS", "URL", "FUNCTIONS", "FAILING", "HEARTBEAT"]];
    for (const n of out.nodes) {
      rows.push([
        n.self ? `${n.name} (this)` : n.name,
        n.alive ? "alive" : "dead",
        Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(",") || "-",
        n.url,
        n.functions.map((f) => f.name).join(",") || "-",
        Object.keys(n.failing).join(",") || "-",
        n.at,
      ]);
    }
    printTable(rows);
    return 0;
  },
};
