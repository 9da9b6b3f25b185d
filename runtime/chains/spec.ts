/**
 * A chain definition: the zod schema shared by the admin API, manifest files
 * (chains/*.json) and the OpenAPI document.
 */
import { z } from "zod";
import { FunctionName } from "../names.ts";
import { LIMITS } from "../../ffi/abi.ts";

/** Page tables of every VM in the chain map the whole pool: libsure bounds it. */
const POOL_MAX_BYTES = LIMITS.chainPoolMaxBytes;
const PAGE = LIMITS.pageSize;

export const ChainSpecSchema = z.object({
  name: FunctionName.describe("Chain name, also its URL: /invoke/{name}"),
  steps: z.array(FunctionName).min(1).max(LIMITS.chainMaxSteps)
    .describe("Deployed functions, in order: each hands its output to the next"),
  routes: z.record(z.string(), z.array(FunctionName)).optional()
    .describe(
      "Allowed next hops per function (it picks one with sure_next); a function " +
        "not listed hands only to the next step; every step may finish",
    ),
  pool: z.object({
    buffers: z.int().min(16).max(65536).default(2048).describe("Buffers in the chain's pool"),
    bufferSize: z.int().min(PAGE).max(LIMITS.chainBufMax).default(PAGE)
      .refine((n) => n % PAGE === 0, { error: `must be a multiple of ${PAGE}` })
      .describe("Bytes per buffer"),
  }).strict().default({ buffers: 2048, bufferSize: 4096 }),
  reserve: z.int().min(0).max(16 << 20).default(4096)
    .describe("Smallest extent per request in bytes: room for outputs larger than the input"),
  maxBody: z.int().min(1).max(16 << 20).default(1 << 20).describe("Largest request body"),
  timeout: z.int().min(1).max(300000).default(5000).describe("Per-request timeout in ms"),
}).strict().superRefine((c, ctx) => {
  const seen = new Set<string>();
  c.steps.forEach((s, i) => {
    if (seen.has(s)) ctx.addIssue({ code: "custom", path: ["steps", i], message: `${s} repeats` });
    seen.add(s);
  });
  for (const [from, to] of Object.entries(c.routes ?? {})) {
    if (!seen.has(from)) {
      ctx.addIssue({ code: "custom", path: ["routes", from], message: `${from} is not a step` });
    }
    to.forEach((t, i) => {
      if (!seen.has(t)) {
        ctx.addIssue({ code: "custom", path: ["routes", from, i], message: `${t} is not a step` });
      }
    });
  }
  if (c.pool.buffers * c.pool.bufferSize > POOL_MAX_BYTES) {
    ctx.addIssue({
      code: "custom",
      path: ["pool"],
      message: `pool is larger than ${POOL_MAX_BYTES >> 20} MiB`,
    });
  }
  const perRequest = Math.ceil(Math.max(c.maxBody, c.reserve) / c.pool.bufferSize) * 2;
  if (perRequest > c.pool.buffers) {
    ctx.addIssue({
      code: "custom",
      path: ["maxBody"],
      message:
        `a ${c.maxBody}-byte request needs ${perRequest} buffers; the pool has ${c.pool.buffers}`,
    });
  }
});

export type ChainSpec = z.infer<typeof ChainSpecSchema>;

export interface StoredChain extends ChainSpec {
  createdAt: string;
  updatedAt: string;
}
