/**
 * What the fleet keeps in JetStream, and how it is read back. Every node
 * writes and reads these; a value that does not parse is logged and ignored
 * (never applied), so one bad write cannot stop a node converging.
 *
 *   bucket sure_desired   fn.<name>   FunctionRecord: the desired state
 *                         chain.<name>  ChainRecord: a chain, run on every
 *                                     node that runs all of its steps
 *   bucket sure_nodes     <node>      NodeStatus: a heartbeat (the bucket's
 *                                     TTL drops a node that stops beating)
 *   object store sure_images  <sha-256>   function images by digest
 */
import { z } from "@hono/zod-openapi";
import { FunctionName, NodeName } from "../names.ts";
import { settingsShape } from "../settings/settings_schema.ts";
import { ChainSpecSchema } from "../chains/spec.ts";

export const DESIRED_BUCKET = "sure_desired";
export const NODES_BUCKET = "sure_nodes";
export const IMAGES_STORE = "sure_images";
export const FUNCTION_PREFIX = "fn.";
export const CHAIN_PREFIX = "chain.";

const Labels = z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/), z.string().max(128));
export type LabelSet = z.infer<typeof Labels>;

/** Where a function runs: every node (no fields), nodes with these labels, at most N of them. */
export const PlacementSchema = z.strictObject({
  labels: Labels.optional().describe("Only nodes that have every one of these labels"),
  replicas: z.number().int().min(1).max(1000).optional().describe(
    "At most this many of the matching nodes (the same ones on every node while they live)",
  ),
}).describe("Where the function runs; none: on every node of the fleet");
export type Placement = z.infer<typeof PlacementSchema>;

export const FunctionRecordSchema = z.strictObject({
  name: FunctionName,
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().min(1),
  settings: z.object(settingsShape(false)),
  env: z.record(z.string(), z.string()),
  /** Names of the secrets (their values are in `sealed`). */
  secrets: z.array(z.string()),
  /** The secrets' values, sealed with the fleet key (seal.ts); "" when there are none. */
  sealed: z.string(),
  placement: PlacementSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The node whose admin API made this version. */
  by: NodeName,
});
export type FunctionRecord = z.infer<typeof FunctionRecordSchema>;

export const ChainRecordSchema = z.strictObject({
  name: FunctionName,
  /** The definition as applied (defaults filled in). */
  spec: ChainSpecSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The node whose admin API made this version. */
  by: NodeName,
});
export type ChainRecord = z.infer<typeof ChainRecordSchema>;

export const NodeStatusSchema = z.strictObject({
  name: NodeName,
  /** Where its public port answers (as it listens). */
  url: z.string(),
  labels: Labels,
  version: z.string(),
  startedAt: z.string(),
  /** When it wrote this heartbeat. */
  at: z.string(),
  /** What it runs, and what it could not apply (name -> why). */
  functions: z.array(z.strictObject({ name: FunctionName, digest: z.string() })),
  failing: z.record(z.string(), z.string()),
});
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

/** A value from JetStream as T, or null when it is not one (the caller logs it). */
export function decode<T>(schema: z.ZodType<T>, bytes: Uint8Array): T | null {
  try {
    const out = schema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    return out.success ? out.data : null;
  } catch {
    return null;
  }
}

export function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** "k=v,k2=v2" (--labels / SURE_LABELS) as a label set; throws naming the bad part. */
export function parseLabels(s: string | undefined): LabelSet {
  const out: LabelSet = {};
  if (!s) return out;
  for (const part of s.split(",")) {
    const m = /^([^=]+)=(.*)$/.exec(part.trim());
    if (!m) throw new Error(`label "${part}" is not key=value`);
    out[m[1]] = m[2];
  }
  const checked = Labels.safeParse(out);
  if (!checked.success) {
    throw new Error(
      "labels: keys are lower-case letters, digits, '.', '_' or '-' (up to 63), values up to 128",
    );
  }
  return checked.data;
}
