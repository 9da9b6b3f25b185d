/**
 * `sure chain apply|ls|show|stats|rm`: manage a node's chains. A chain is
 * declared in a JSON manifest (see chains/*.json) and applied as a whole.
 */
import { type Command, CommandError, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, request, requestJson } from "./client.ts";

const ACTIONS = ["apply", "ls", "show", "stats", "rm"];

export const chainCommand: Command = {
  name: "chain",
  summary: "Manage chains: apply <file.json> | ls | show <name> | stats <name> | rm <name>.",
  usage: "chain apply <file.json> | ls | show <name> | stats <name> | rm <name> [--node URL]",
  details: [
    "A chain runs its functions in order on one request; they hand it on through",
    "shared memory. The manifest is JSON, e.g.",
    '  { "name": "shout", "steps": ["upper", "reverse", "echo"],',
    '    "routes": { "upper": ["reverse", "echo"] }, "pool": { "buffers": 2048, "bufferSize": 4096 },',
    '    "reserve": 4096, "maxBody": 1048576, "timeout": 5000 }',
    "`apply` creates the chain or replaces one of the same name.",
  ].join("\n"),
  options: { ...NODE_OPTION },
  positionals: [1, 2],
  async run(values, [action, arg]) {
    const base = nodeUrl(values.node);
    if (!ACTIONS.includes(action)) {
      throw new UsageError(
        `chain: unknown action ${JSON.stringify(action)} (${ACTIONS.join(", ")})`,
      );
    }
    if (action === "ls") {
      if (arg !== undefined) throw new UsageError("chain ls takes no argument");
      type Step = string | { function: string; node?: string };
      type Listed = { name: string; steps: Step[]; status?: { state: string; reason?: string } };
      const { chains } = await requestJson<{ chains: Listed[] }>(base, "/admin/chains");
      const shown = (s: Step) =>
        typeof s === "string" ? s : s.node ? `${s.function}@${s.node}` : s.function;
      for (const c of chains) {
        const state = c.status?.state ?? "";
        const why = c.status?.reason ? `  (${c.status.reason})` : "";
        console.log(
          `${c.name.padEnd(20)} ${state.padEnd(9)} ${c.steps.map(shown).join(" -> ")}${why}`,
        );
      }
      return 0;
    }
    if (arg === undefined) throw new UsageError(`chain ${action} needs an argument`);
    if (action === "apply") {
      let text: string;
      try {
        text = await Deno.readTextFile(arg);
      } catch (e) {
        throw new CommandError(`cannot read ${arg}: ${(e as Error).message}`);
      }
      const res = await request(base, "/admin/chains", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: text,
      });
      const chain = await res.json();
      console.log(`${res.status === 201 ? "created" : "replaced"} chain ${chain.name}`);
      return 0;
    }
    const path = `/admin/chains/${encodeURIComponent(arg)}`;
    if (action === "rm") {
      await request(base, path, { method: "DELETE" }).then((r) => r.body?.cancel());
      console.log(`removed chain ${arg}`);
      return 0;
    }
    const out = await requestJson(base, action === "stats" ? `${path}/stats` : path);
    console.log(JSON.stringify(out, null, 2));
    return 0;
  },
};
