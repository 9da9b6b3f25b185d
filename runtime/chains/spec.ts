/**
 * A chain definition: the zod schema shared by the admin API, manifest files
 * (chains/*.json) and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { FunctionName, NodeName } from "../names.ts";
import { LIMITS } from "../../ffi/abi.ts";

/** Requests in flight of a chain with request-level isolation: one protection key each. */
export const REQUEST_COLOURS = LIMITS.requestColours;

/** Page tables of every VM in the chain map the pool's buffers: libsure bounds them. */
const POOL_MAX_BYTES = LIMITS.chainPoolMaxBytes;
const PAGE = LIMITS.pageSize;

/** A step: a deployed function, run here, or on the node it names. */
const StepSchema = z.union([
  FunctionName,
  z.object({
    function: FunctionName,
    node: NodeName.optional().describe(
      "The node that runs it (--node-name there; known from --peer or the fleet). " +
        "Either every step names its node or none does (then the node that runs the chain runs them all)",
    ),
  }).strict(),
], {
  // Neither form at all (a number, an object of other fields): say what a step is.
  error: (iss) =>
    iss.code === "invalid_union"
      ? 'must be a function name or {"function": name, "node": name}'
      : undefined,
});

export const ChainSpecSchema = z.object({
  name: FunctionName.describe("Chain name, also its URL: /invoke/{name}"),
  steps: z.array(StepSchema).min(1).max(LIMITS.chainMaxSteps)
    .describe(
      "Deployed functions, in order: each hands its output to the next. A step " +
        '{"function": f, "node": n} runs on node n: apply the chain on every node it names',
    ),
  // Keys are function names too. ("__proto__", which zod skips, is refused
  // before: runtime/middleware/json_body.ts.)
  routes: z.record(FunctionName, z.array(FunctionName).max(LIMITS.chainMaxSteps)).optional()
    .describe(
      "Allowed next hops per function (it picks one with sure_next); a function " +
        "not listed hands only to the next step; every step may finish; a step " +
        "never hands to itself",
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
  isolation: z.enum(["chain", "request"]).default("chain").describe(
    "chain: each step is its own VM and sees the requests of its chain's pool; request: a " +
      "step sees only the request it holds (a protection key per request in flight, at most " +
      `${REQUEST_COLOURS} at once, each with 1/${REQUEST_COLOURS} of the pool), refused (409) ` +
      "by nodes whose VMs have no protection keys (/healthz isolation.requestLevel)",
  ),
}).strict().superRefine((c, ctx) => {
  const seen = new Set<string>();
  stepNames(c).forEach((s, i) => {
    if (seen.has(s)) ctx.addIssue({ code: "custom", path: ["steps", i], message: `${s} repeats` });
    seen.add(s);
  });
  // Every node of the chain must agree where each step runs: a step that names
  // no node would run on each of them.
  const named = c.steps.findIndex((_, i) => stepNode(c, i) !== undefined);
  if (named >= 0) {
    c.steps.forEach((_, i) => {
      if (stepNode(c, i) !== undefined) return;
      ctx.addIssue({
        code: "custom",
        path: ["steps", i],
        message: `names no node while step ${named} names ${stepNode(c, named)}: ` +
          `give every step its node ({"function": "${stepNames(c)[i]}", "node": "..."}) or none`,
      });
    });
  }
  for (const [from, to] of Object.entries(c.routes ?? {})) {
    if (!seen.has(from)) {
      ctx.addIssue({ code: "custom", path: ["routes", from], message: `${from} is not a step` });
    }
    to.forEach((t, i) => {
      if (!seen.has(t)) {
        ctx.addIssue({ code: "custom", path: ["routes", from, i], message: `${t} is not a step` });
      } else if (t === from) {
        // Its own ring would be one it both feeds and drains (libsure refuses it too).
        ctx.addIssue({
          code: "custom",
          path: ["routes", from, i],
          message: `${from} cannot hand a request to itself`,
        });
      } else if (to.indexOf(t) !== i) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", from, i],
          message: `${t} is listed twice`,
        });
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
  // The larger of maxBody and reserve sizes a request: the message names that one.
  const sizing = c.reserve > c.maxBody ? "reserve" : "maxBody";
  const bytes = Math.max(c.maxBody, c.reserve);
  const perRequest = Math.ceil(bytes / c.pool.bufferSize) * 2;
  const share = Math.floor(c.pool.buffers / REQUEST_COLOURS);
  if (c.isolation === "request" && perRequest > share) {
    ctx.addIssue({
      code: "custom",
      path: [sizing],
      message: `request-level isolation gives each of its ${REQUEST_COLOURS} requests in flight ` +
        `1/${REQUEST_COLOURS} of the pool: a ${bytes}-byte request (${sizing}) needs ` +
        `${perRequest} buffers, a share has ${share}; raise pool.buffers to ` +
        `${perRequest * REQUEST_COLOURS} or lower ${sizing}`,
    });
  } else if (perRequest > c.pool.buffers) {
    ctx.addIssue({
      code: "custom",
      path: [sizing],
      message: `a ${bytes}-byte request (${sizing}) needs ${perRequest} buffers; the pool has ` +
        `${c.pool.buffers}`,
    });
  }
});

export type ChainSpec = z.infer<typeof ChainSpecSchema>;

export interface StoredChain extends ChainSpec {
  createdAt: string;
  updatedAt: string;
}

type Step = z.infer<typeof StepSchema>;

/** The functions of a chain's steps, in order. */
export function stepNames(c: { steps: Step[] }): string[] {
  return c.steps.map((s) => typeof s === "string" ? s : s.function);
}

/** The node a step names, if any. */
export function stepNode(c: { steps: Step[] }, i: number): string | undefined {
  const s = c.steps[i];
  return typeof s === "string" ? undefined : s.node;
}
