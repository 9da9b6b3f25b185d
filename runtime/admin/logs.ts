/**
 * GET /admin/functions/:name/logs: a function's own log lines (what its code
 * passed to sure_log), newest last, as NDJSON (one JSON object per line).
 * ?tail=N limits the backlog (default 100); ?follow=1 keeps the response
 * open and streams new lines as they arrive (`sure logs -f`).
 */
import { Hono } from "hono";
import { z } from "zod";
import { NotFoundError, ValidationError } from "../errors.ts";
import type { FunctionLogLine, LogHub } from "../logs/hub.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { NAME_RE } from "./functions.ts";

export const LogQuerySchema = z.object({
  tail: z.coerce.number({ error: "must be a number" }).int({ error: "must be an integer" })
    .min(0, { error: "must be at least 0" }).max(1000, { error: "must be at most 1000" })
    .default(100),
  follow: z.enum(["0", "1", "true", "false"], { error: "must be 0 or 1" }).default("0"),
});

export interface LogRoutesDeps {
  scheduler: Scheduler;
  logs: LogHub;
}

const enc = new TextEncoder();
const line = (l: FunctionLogLine) => enc.encode(JSON.stringify(l) + "\n");

export function logRoutes(deps: LogRoutesDeps): Hono {
  const r = new Hono();
  r.get("/:name/logs", (c) => {
    const name = c.req.param("name");
    if (!NAME_RE.test(name)) throw new NotFoundError(`function ${name} is not deployed`);
    deps.scheduler.pool(name); // 404 unless deployed
    const q = LogQuerySchema.safeParse(c.req.query());
    if (!q.success) {
      const issue = q.error.issues[0];
      throw new ValidationError(String(issue.path[0] ?? "query"), issue.message);
    }
    const backlog = deps.logs.recent(name, q.data.tail);
    const follow = q.data.follow === "1" || q.data.follow === "true";
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
    return new Response(stream, {
      headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" },
    });
  });
  return r;
}
