/**
 * `sure trigger add --type T [--source-prefix S] --function F | ls | rm ID`:
 * which functions the events posted to the node's sink (POST /events) go to.
 */
import { type Command, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, printTable, request, requestJson } from "./client.ts";
import type { Trigger } from "../store/triggers.ts";

const ACTIONS = ["add", "ls", "rm"];

export const triggerCommand: Command = {
  name: "trigger",
  summary: "Route events to functions: add --type T [--source-prefix S] --function F | ls | rm ID.",
  usage:
    "trigger add --type T [--source-prefix S] --function F | ls | rm <id> [--json] [--node URL]",
  details: [
    "An event posted to the node (POST /events, any CloudEvents content mode) is",
    "delivered to every trigger's function whose type equals the event's type and,",
    "if the trigger has a source prefix, whose source starts with it. The function",
    "must exist when the trigger is added.",
  ].join("\n"),
  options: {
    type: { type: "string", arg: "T", help: "event type, matched exactly (add)" },
    "source-prefix": { type: "string", arg: "S", help: "only sources starting with S (add)" },
    function: { type: "string", arg: "F", help: "function or chain to deliver to (add)" },
    json: { type: "boolean", help: "print the raw JSON" },
    ...NODE_OPTION,
  },
  positionals: [1, 2],
  async run(values, [action, arg]) {
    const base = nodeUrl(values.node);
    if (!ACTIONS.includes(action)) {
      throw new UsageError(
        `trigger: unknown action ${JSON.stringify(action)} (${ACTIONS.join(", ")})`,
      );
    }
    if (action === "rm") {
      if (arg === undefined) throw new UsageError("trigger rm needs the trigger's id");
      await request(base, `/admin/triggers/${encodeURIComponent(arg)}`, { method: "DELETE" })
        .then((r) => r.body?.cancel());
      console.log(`removed trigger ${arg}`);
      return 0;
    }
    if (arg !== undefined) throw new UsageError(`trigger ${action} takes no argument`);
    if (action === "ls") {
      const { triggers } = await requestJson<{ triggers: Trigger[] }>(base, "/admin/triggers");
      if (values.json) console.log(JSON.stringify(triggers, null, 2));
      else printTriggers(triggers);
      return 0;
    }
    if (typeof values.type !== "string" || typeof values.function !== "string") {
      throw new UsageError("trigger add needs --type and --function");
    }
    const body = {
      type: values.type,
      function: values.function,
      ...(typeof values["source-prefix"] === "string"
        ? { sourcePrefix: values["source-prefix"] }
        : {}),
    };
    const t = await requestJson<Trigger>(base, "/admin/triggers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (values.json) console.log(JSON.stringify(t, null, 2));
    else console.log(`added trigger ${t.id}`);
    return 0;
  },
};

function printTriggers(triggers: Trigger[]): void {
  const rows = [["ID", "TYPE", "SOURCE PREFIX", "FUNCTION"]];
  for (const t of triggers) rows.push([t.id, t.type, t.sourcePrefix ?? "-", t.function]);
  printTable(rows);
}
