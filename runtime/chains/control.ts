/**
 * What the admin API changes chains through: the node's own ChainManager, or
 * on a fleet member the fleet's desired state (fleet/chains.ts), which every
 * member converges to through its ChainManager.
 */
import type { StoredChain } from "./spec.ts";

export interface ChainControl {
  /** Validates a definition and creates or replaces the chain. */
  apply(input: unknown): Promise<{ chain: StoredChain; replaced: boolean }>;
  /** Removes a chain; a NotFoundError when there is none. */
  remove(name: string): Promise<void>;
  list(): Promise<StoredChain[]>;
  describe(name: string): Promise<StoredChain | null>;
}
