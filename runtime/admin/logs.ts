/**
 * GET /admin/functions/{name}/logs: a function's own log lines (what its code
 * passed to sure_log), newest last, as NDJSON (one JSON object per line).
 * ?tail=N limits the backlog (default 100); ?follow=1 keeps the response
 * open and streams new lines as they arrive (`sure logs -f`).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { FunctionLogLine, LogHub } from "../logs/hub.ts";
import type { AppEnv } from "../middleware/env.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { deployedFunction } from "./deployed.ts";
import { ANY_OTHER_ERROR, error, NameParams } from "./schemas.ts";

export const LogQuerySchema = z.object({
  tail: z.coerce.number({ error: "must be a number" }).int({ error: "must be an integer" })
    .min(0, { error: "must be at least 0" }).max(1000, { error: "must be at most 1000" })
    .default(100).describe("Lines of backlog"),
  follow: z.enum(["0", "1", "true", "false"], { error: "must be 0 or 1" }).default("0")
    .describe("1: keep the answer open and stream new lines"),
});

/** One line of the answer. */
export const LogLineSchema = z.object({
  ts: z.string().describe("ISO 8601 time the node read the line"),
  function: z.string(),
  instance: z.union([z.number().int(), z.string()]).optional()
    .describe('Instance id, "template" for init\'s lines, or the chain that ran it'),
  chain: z.string().optional(),
  line: z.string(),
}).openapi("LogLine");

export interface LogRoutesDeps {
  scheduler: Scheduler;
  logs: LogHub;
}

const enc = new TextEncoder();
const line = (l: FunctionLogLine) => enc.encode(JSON.stringify(l) + "\n");

export function logRoutes(deps: LogRoutesDeps): OpenAPIHono<AppEnv> {
  const r = new OpenAPIHono<AppEnv>();
  r.openapi(
    createRoute({
      method: "get",
      path: "/{name}/logs",
      operationId: "functionLogs",
      summary: "The function's own log lines (sure_log) as NDJSON; ?follow=1 streams new ones",
      tags: ["functions"],
      // 404 for an unknown function before the query is looked at.
      middleware: [deployedFunction(deps.scheduler)],
      request: { params: NameParams, query: LogQuerySchema },
      responses: {
        200: {
          description: "One JSON object per line",
          content: { "application/x-ndjson": { schema: LogLineSchema } },
        },
        400: error("Invalid tail or follow"),
        404: error("No such function"),
        default: ANY_OTHER_ERROR,
      },
    }),
    (c) => {
      const { name } = c.req.valid("param");
      const q = c.req.valid("query");
      const backlog = deps.logs.recent(name, q.tail);
      const follow = q.follow === "1" || q.follow === "true";
      let stop = () => {};
      const stream = new ReadableStream<Uint8Array>({
        start(ctl) {
          for (const l of backlog) ctl.enqueue(line(l));
          if (!follow) {
            ctl.close();
            return;
          }
          stop = deps.logs.follow(name, (l) => ctl.enqueue(line(l)));
        },
        cancel() {
          stop(); // the client went away
        },
      });
      const res = c.body(stream, 200, {
        "content-type": "application/x-ndjson",
        "cache-control": "no-store",
      });
      // The typed answers of @hono/zod-openapi know JSON and text only; NDJSON is neither.
      return res as never;
    },
  );
  return r;
}
