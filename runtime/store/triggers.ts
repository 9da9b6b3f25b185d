/**
 * Event triggers in Deno KV, one entry per trigger under ["triggers", id]:
 * "deliver events of this type (and, optionally, whose source starts with
 * this prefix) to this function". The event sink reads them when it fans an
 * accepted event out (runtime/events/bus.ts).
 */

export interface Trigger {
  id: string;
  /** The event type, matched exactly. */
  type: string;
  /** When set, only events whose source starts with it. */
  sourcePrefix?: string;
  function: string;
  createdAt: string;
}

/** What makes a trigger (the admin API's input). */
export type TriggerInput = Omit<Trigger, "id" | "createdAt">;

/** Where triggers are kept: this node's Deno KV, or the fleet's (fleet/triggers.ts). */
export interface Triggers {
  /** Every trigger, oldest first. */
  list(): Promise<Trigger[]>;
  add(t: TriggerInput): Promise<Trigger>;
  /** Deletes a trigger; false if there was none. */
  remove(id: string): Promise<boolean>;
  /** The triggers an event of this type and source goes to. */
  matching(type: string, source: string): Promise<Trigger[]>;
}

/** A new trigger with its id and creation time. */
export function newTrigger(t: TriggerInput): Trigger {
  return {
    id: crypto.randomUUID(),
    type: t.type,
    ...(t.sourcePrefix ? { sourcePrefix: t.sourcePrefix } : {}),
    function: t.function,
    createdAt: new Date().toISOString(),
  };
}

/** Oldest first (ties by id, so the order is the same on every node). */
export function byAge(a: Trigger, b: Trigger): number {
  return a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
}

/** Whether an event of this type and source goes to the trigger. */
export function matches(t: Trigger, type: string, source: string): boolean {
  return t.type === type && (t.sourcePrefix === undefined || source.startsWith(t.sourcePrefix));
}

const PREFIX = "triggers";

export class TriggerStore implements Triggers {
  constructor(readonly kv: Deno.Kv) {}

  async list(): Promise<Trigger[]> {
    const out: Trigger[] = [];
    for await (const e of this.kv.list<Trigger>({ prefix: [PREFIX] })) out.push(e.value);
    return out.sort(byAge);
  }

  async get(id: string): Promise<Trigger | null> {
    return (await this.kv.get<Trigger>([PREFIX, id])).value;
  }

  async add(t: TriggerInput): Promise<Trigger> {
    const trigger = newTrigger(t);
    await this.kv.set([PREFIX, trigger.id], trigger);
    return trigger;
  }

  /** Deletes a trigger; false if there was none. */
  async remove(id: string): Promise<boolean> {
    const key = [PREFIX, id];
    const cur = await this.kv.get(key);
    if (cur.versionstamp === null) return false;
    const r = await this.kv.atomic().check(cur).delete(key).commit();
    return r.ok;
  }

  /** The triggers an event of this type and source goes to. */
  async matching(type: string, source: string): Promise<Trigger[]> {
    return (await this.list()).filter((t) => matches(t, type, source));
  }
}
