/** `sure ls`: list deployed functions (with --fleet: the fleet's, and where each runs). */
import type { Command } from "./command.ts";
import { NODE_OPTION, nodeUrl, printTable, requestJson } from "./client.ts";
import type { Deployment } from "../store/store.ts";

interface FleetFunction {
  name: string;
  digest: string;
  placement: { labels?: Record<string, string>; replicas?: number };
  updatedAt: string;
  nodes: string[];
  running: string[];
}

/** A placement in a few characters: "all", "site=north", "2 of site=north". */
export function placementText(p: FleetFunction["placement"]): string {
  const labels = Object.entries(p.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  if (p.replicas === undefined) return labels || "all";
  return `${p.replicas} of ${labels || "all"}`;
}

export const lsCommand: Command = {
  name: "ls",
  summary: "List the functions deployed on a node (--fleet: on its fleet, and where each runs).",
  usage: "ls [--fleet] [--json] [--node URL]",
  options: {
    json: { type: "boolean", help: "print the raw JSON list" },
    fleet: {
      type: "boolean",
      help: "the fleet's functions: placement, the nodes that should run each and those that do",
    },
    ...NODE_OPTION,
  },
  positionals: [0, 0],
  async run(values) {
    if (values.fleet) {
      const { functions } = await requestJson<{ functions: FleetFunction[] }>(
        nodeUrl(values.node),
        "/admin/fleet/functions",
      );
      if (values.json) {
        console.log(JSON.stringify(functions, null, 2));
        return 0;
      }
      const rows = [["NAME", "PLACEMENT", "NODES", "RUNNING", "DIGEST", "UPDATED"]];
      for (const f of functions) {
        rows.push([
          f.name,
          placementText(f.placement),
          f.nodes.join(",") || "-",
          f.running.join(",") || "-",
          f.digest.slice(0, 12),
          f.updatedAt,
        ]);
      }
      printTable(rows);
      return 0;
    }
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
    printTable(rows);
    return 0;
  },
};
