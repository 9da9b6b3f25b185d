/**
 * `sure events dead | replay ID | drop ID`: the event deliveries that failed
 * every attempt (dead letters), put back on the queue or dropped.
 */
import { type Command, UsageError } from "./command.ts";
import { NODE_OPTION, nodeUrl, printTable, request, requestJson } from "./client.ts";

const ACTIONS = ["dead", "replay", "drop"];

interface DeadLetter {
  id: string;
  function: string;
  attempts: number;
  lastStatus?: number;
  lastError?: string;
  deadAt: string;
  attributes: Record<string, string>;
}

export const eventsCommand: Command = {
  name: "events",
  summary: "Event dead letters: dead | replay <id> | drop <id>.",
  usage: "events dead | replay <id> | drop <id> [--json] [--node URL]",
  details: [
    "A delivery of an event to a trigger's function is retried with a growing wait",
    "when it fails (any answer but 2xx); after its last attempt it is a dead letter.",
    "`replay` delivers it again with a fresh count of attempts; `drop` deletes it.",
  ].join("\n"),
  options: { json: { type: "boolean", help: "print the raw JSON" }, ...NODE_OPTION },
  positionals: [1, 2],
  async run(values, [action, id]) {
    const base = nodeUrl(values.node);
    if (!ACTIONS.includes(action)) {
      throw new UsageError(
        `events: unknown action ${JSON.stringify(action)} (${ACTIONS.join(", ")})`,
      );
    }
    if (action === "dead") {
      if (id !== undefined) throw new UsageError("events dead takes no argument");
      const { deadLetters } = await requestJson<{ deadLetters: DeadLetter[] }>(
        base,
        "/admin/events/dead",
      );
      if (values.json) console.log(JSON.stringify(deadLetters, null, 2));
      else printDead(deadLetters);
      return 0;
    }
    if (id === undefined) throw new UsageError(`events ${action} needs a dead letter's id`);
    const path = `/admin/events/dead/${encodeURIComponent(id)}`;
    if (action === "replay") {
      await request(base, `${path}/replay`, { method: "POST" }).then((r) => r.body?.cancel());
      console.log(`replaying ${id}`);
    } else {
      await request(base, path, { method: "DELETE" }).then((r) => r.body?.cancel());
      console.log(`dropped ${id}`);
    }
    return 0;
  },
};

function printDead(letters: DeadLetter[]): void {
  const rows = [["ID", "FUNCTION", "TYPE", "EVENT", "ATTEMPTS", "LAST"]];
  for (const d of letters) {
    rows.push([
      d.id,
      d.function,
      d.attributes.type ?? "?",
      d.attributes.id ?? "?",
      String(d.attempts),
      d.lastError ?? String(d.lastStatus ?? ""),
    ]);
  }
  printTable(rows);
}
