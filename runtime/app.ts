/**
 * The node's HTTP surface as a Hono app built by a factory, so tests can
 * drive it with app.request() and no socket. All errors are turned into HTTP
 * here, in app.onError, through runtime/errors.ts.
 */
import { Hono } from "hono";
import type { Capabilities } from "../ffi/mod.ts";
import { chainRoutes } from "./admin/chains.ts";
import type { ChainManager } from "./chains/manager.ts";
import { functionRoutes } from "./admin/functions.ts";
import { instanceRoutes } from "./admin/instances.ts";
import { logRoutes } from "./admin/logs.ts";
import type { LogHub } from "./logs/hub.ts";
import type { NodeMetrics } from "./metrics/metrics.ts";
import { openApiRoutes } from "./admin/openapi.ts";
import type { Deployer } from "./deployer.ts";
import { errorResponse, HttpError, NotFoundError } from "./errors.ts";
import { gatewayRoutes } from "./gateway/invoke.ts";
import { healthRoutes } from "./health.ts";
import type { Logger } from "./log.ts";
import type { Scheduler } from "./scheduler/scheduler.ts";
import type { Store } from "./store/store.ts";

export interface AppDeps {
  store: Store;
  scheduler: Scheduler;
  deployer: Deployer;
  capabilities: Capabilities;
  version: string;
  logger: Logger;
  chains: ChainManager;
  metrics: NodeMetrics;
  logs: LogHub;
  /** One structured log line per request (default true). */
  requestLog?: boolean;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    if (!(err instanceof HttpError) || err.status >= 500) {
      deps.logger(err instanceof HttpError ? "warn" : "error", err.message, {
        method: c.req.method,
        path: c.req.path,
        error: err instanceof HttpError ? err.code : err.name,
      });
    }
    return errorResponse(err);
  });
  app.notFound((c) =>
    errorResponse(new NotFoundError(`no route for ${c.req.method} ${c.req.path}`))
  );

  app.route("/", healthRoutes(deps));
  app.route("/admin/functions", functionRoutes(deps));
  app.route("/admin/functions", instanceRoutes(deps));
  app.route("/admin/functions", logRoutes(deps));
  app.get("/metrics", (c) =>
    c.body(deps.metrics.render(deps.scheduler, deps.chains), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  app.route("/admin/chains", chainRoutes(deps));
  app.route("/admin", openApiRoutes(deps.version));
  app.route("/", gatewayRoutes(deps));
  return app;
}
