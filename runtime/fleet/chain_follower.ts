/**
 * A fleet member's chains: the chain records of the desired state, and this
 * node's chains kept equal to them through its own ChainManager (so every
 * local check still applies). A chain runs on every node that runs all of
 * its steps itself (steps that name another node excepted): it follows its
 * functions' placement, and moves when they do.
 */
import type { KvWatchEntry } from "@nats-io/kv";
import type { ChainManager } from "../chains/manager.ts";
import { type ChainSpec, stepNames, stepNode } from "../chains/spec.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { CHAIN_PREFIX, type ChainRecord, ChainRecordSchema, decode } from "./records.ts";

/** The version of a chain record this node applied: its revision in the desired bucket. */
const APPLIED = (name: string) => ["fleet", "applied-chain", name];

export interface ChainFollowerDeps {
  self: string;
  store: Store;
  chains: ChainManager;
  logger: Logger;
  /** This node runs `name` now, or no longer: it answers forwarded requests for it, or stops. */
  serving(name: string, runs: boolean): void;
}

export class ChainFollower {
  readonly desired = new Map<string, { record: ChainRecord; revision: number }>();
  /** Why a chain could not be applied here (name -> reason). */
  readonly failing = new Map<string, string>();

  constructor(readonly deps: ChainFollowerDeps) {}

  /** A watch entry under chain.: the record kept, dropped, or (not parsing) ignored. */
  onEntry(e: KvWatchEntry): string {
    const name = e.key.slice(CHAIN_PREFIX.length);
    if (e.operation !== "PUT") {
      this.desired.delete(name);
      return name;
    }
    const record = decode(ChainRecordSchema, e.value);
    if (!record || record.name !== name || record.spec.name !== name) {
      this.deps.logger("warn", "fleet: ignoring a chain record that does not parse", {
        key: e.key,
        revision: e.revision,
      });
    } else {
      this.desired.set(name, { record, revision: e.revision });
    }
    return name;
  }

  /**
   * Every step this node runs itself is a function deployed here. A chain whose
   * steps name their nodes runs only on the nodes it names (each the steps named
   * to it); one that names none runs on every node that has all its functions.
   */
  async placedHere(spec: ChainSpec): Promise<boolean> {
    const nodes = spec.steps.map((_, i) => stepNode(spec, i));
    const pinned = nodes.some((n) => n !== undefined);
    if (pinned && !nodes.includes(this.deps.self)) return false;
    for (const [i, fn] of stepNames(spec).entries()) {
      if (pinned && nodes[i] !== this.deps.self) continue;
      if (!(await this.deps.store.get(fn))) return false;
    }
    return true;
  }

  async reconcileAll(): Promise<void> {
    const local = (await this.deps.chains.list()).map((c) => c.name);
    for (const name of new Set([...local, ...this.desired.keys()])) await this.reconcile(name);
  }

  async reconcile(name: string): Promise<void> {
    await this.#converge(name);
    this.deps.serving(name, this.deps.chains.get(name) !== undefined);
  }

  async #converge(name: string): Promise<void> {
    const { store, chains, logger } = this.deps;
    const want = this.desired.get(name);
    const here = want !== undefined && await this.placedHere(want.record.spec);
    const local = await chains.describe(name);
    if (!here) {
      this.failing.delete(name);
      if (local) {
        await chains.remove(name);
        await store.kv.delete(APPLIED(name));
        logger("info", "fleet: chain removed here", { chain: name });
      }
      return;
    }
    const applied = (await store.kv.get<number>(APPLIED(name))).value;
    if (local && chains.get(name) && applied === want.revision) return;
    try {
      await chains.apply(want.record.spec);
      await store.kv.set(APPLIED(name), want.revision);
      this.failing.delete(name);
    } catch (e) {
      const why = (e as Error).message;
      if (this.failing.get(name) !== why) {
        logger("error", `fleet: cannot run chain ${name} here: ${why}`, { chain: name });
      }
      this.failing.set(name, why);
    }
  }
}
