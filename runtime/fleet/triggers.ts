/**
 * Triggers in a fleet: one entry per trigger in the sure_triggers bucket,
 * so a trigger made through any node routes the events every node accepts.
 * Reads go to JetStream each time (a fan-out per accepted event, not per
 * request), through the fleet's waits (call.ts); an entry that does not
 * parse is logged and skipped.
 */
import type { Logger } from "../log.ts";
import {
  byAge,
  matches,
  newTrigger,
  type Trigger,
  type TriggerInput,
  type Triggers,
} from "../store/triggers.ts";
import { callFleet } from "./call.ts";
import { TriggerRecordSchema } from "./event_records.ts";
import type { FleetMember } from "./member.ts";
import { decode, encode } from "./records.ts";

export class FleetTriggers implements Triggers {
  constructor(readonly member: FleetMember, readonly logger: Logger) {}

  list(): Promise<Trigger[]> {
    return callFleet(this.member, async (link) => {
      const out: Trigger[] = [];
      for await (const key of await link.triggers.keys()) {
        const e = await link.triggers.get(key);
        if (!e || e.operation !== "PUT") continue;
        const t = decode(TriggerRecordSchema, e.value);
        if (t && t.id === key) out.push(t);
        else this.logger("warn", "fleet: a trigger record does not parse; ignored", { key });
      }
      return out.sort(byAge);
    });
  }

  async add(input: TriggerInput): Promise<Trigger> {
    const t = newTrigger(input);
    await callFleet(this.member, (link) => link.triggers.create(t.id, encode(t)));
    return t;
  }

  remove(id: string): Promise<boolean> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return Promise.resolve(false);
    return callFleet(this.member, async (link) => {
      const e = await link.triggers.get(id);
      if (!e || e.operation !== "PUT") return false;
      await link.triggers.delete(id, { previousSeq: e.revision });
      return true;
    });
  }

  async matching(type: string, source: string): Promise<Trigger[]> {
    return (await this.list()).filter((t) => matches(t, type, source));
  }
}
