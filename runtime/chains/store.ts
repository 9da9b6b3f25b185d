/**
 * Chain definitions in the node's Deno KV (Store.kv), under ["chains", name].
 * Opened by the chain manager, not by the store: the store knows functions
 * only and must not import the chains.
 */
import type { StoredChain } from "./spec.ts";

const PREFIX = "chains";

export class ChainStore {
  constructor(readonly kv: Deno.Kv) {}

  async get(name: string): Promise<StoredChain | null> {
    return (await this.kv.get<StoredChain>([PREFIX, name])).value;
  }

  async list(): Promise<StoredChain[]> {
    const out: StoredChain[] = [];
    for await (const e of this.kv.list<StoredChain>({ prefix: [PREFIX] })) out.push(e.value);
    return out;
  }

  async put(c: StoredChain): Promise<void> {
    await this.kv.set([PREFIX, c.name], c);
  }

  async delete(name: string): Promise<void> {
    await this.kv.delete([PREFIX, name]);
  }
}
