/**
 * The admin API's chain changes on a fleet member: a definition is checked as
 * on a single node, then written to the fleet's desired state as a chain
 * record (`chain.<name>`, create or update against its revision). Every
 * member that runs all of the chain's steps applies it through its own
 * ChainManager (chain_follower.ts); this one answers once it has, where the
 * chain runs here, so an apply that answers 201 is served here at once.
 */
import type { ChainControl } from "../chains/control.ts";
import { ChainSpecSchema, type StoredChain } from "../chains/spec.ts";
import { ConflictError, NotFoundError, ValidationError, validationError } from "../errors.ts";
import { callFleet } from "./call.ts";
import type { FleetMember } from "./member.ts";
import { CHAIN_PREFIX, type ChainRecord, ChainRecordSchema, decode, encode } from "./records.ts";

/** How long a change waits for this node to converge. */
const WAIT_MS = 60_000;

export class FleetChains implements ChainControl {
  constructor(readonly member: FleetMember) {}

  async apply(input: unknown): Promise<{ chain: StoredChain; replaced: boolean }> {
    const parsed = ChainSpecSchema.safeParse(input);
    if (!parsed.success) throw validationError(parsed.error, input);
    const spec = parsed.data;
    if (this.member.desired.has(spec.name)) {
      throw new ConflictError(`${spec.name} is a function; chains and functions share names`);
    }
    const key = `${CHAIN_PREFIX}${spec.name}`;
    const { record, revision, replaced } = await callFleet(this.member, async (link) => {
      const cur = await link.desired.get(key);
      const prev = cur?.operation === "PUT" ? decode(ChainRecordSchema, cur.value) : null;
      const now = new Date().toISOString();
      const record: ChainRecord = {
        name: spec.name,
        spec,
        createdAt: prev?.createdAt ?? now,
        updatedAt: now,
        by: this.member.name,
      };
      const revision = cur?.operation === "PUT"
        ? await link.desired.update(key, encode(record), cur.revision)
        : await link.desired.create(key, encode(record));
      return { record, revision, replaced: prev !== null };
    }, concurrent);
    if (await this.member.chains?.placedHere(spec)) {
      const failed = await this.member.appliedChain(spec.name, revision, WAIT_MS);
      if (failed) throw new ValidationError(undefined, `stored in the fleet, but here: ${failed}`);
    }
    return { chain: stored(record), replaced };
  }

  async remove(name: string): Promise<void> {
    const key = `${CHAIN_PREFIX}${name}`;
    const found = await callFleet(this.member, async (link) => {
      const cur = await link.desired.get(key);
      if (!cur || cur.operation !== "PUT") return false;
      await link.desired.delete(key, { previousSeq: cur.revision });
      return true;
    }, concurrent);
    if (!found) throw new NotFoundError(`chain ${name} does not exist`);
    const failed = await this.member.appliedChain(name, 0, WAIT_MS);
    if (failed) throw new ValidationError(undefined, `removed from the fleet, but here: ${failed}`);
  }

  list(): Promise<StoredChain[]> {
    const all = [...this.member.chains?.desired.values() ?? []];
    return Promise.resolve(all.map(({ record }) => stored(record)));
  }

  describe(name: string): Promise<StoredChain | null> {
    const d = this.member.chains?.desired.get(name);
    return Promise.resolve(d ? stored(d.record) : null);
  }
}

/** Another node changed the record in between: said, not retried (the caller applies again). */
function concurrent(e: Error): Error | undefined {
  return /wrong last sequence/i.test(e.message)
    ? new ConflictError("the chain was changed through another node at the same time: apply again")
    : undefined;
}

function stored(r: ChainRecord): StoredChain {
  return { ...r.spec, createdAt: r.createdAt, updatedAt: r.updatedAt };
}
