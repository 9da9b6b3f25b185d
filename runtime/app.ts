/**
 * The node's HTTP surface as a Hono app built by a factory, so tests can
 * drive it with app.request() and no socket. The cross-cutting parts are
 * middleware applied here: request id (every request), trace context,
 * metrics and the request log (gateway requests), CloudEvents' structured
 * and batch modes on the gateway, and in tests a check of
 * every answer against the OpenAPI document. All errors are turned into HTTP
 * in app.onError through runtime/errors.ts; a known path asked with the wrong
 * method is a 405, anything else unknown a 404.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Capabilities } from "../ffi/mod.ts";
import { chainRoutes } from "./admin/chains.ts";
import { deadLetterRoutes } from "./admin/dead_letters.ts";
import { triggerRoutes } from "./admin/triggers.ts";
import type { EventService } from "./events/service.ts";
import { sinkRoutes } from "./events/sink.ts";
import type { ChainManager } from "./chains/manager.ts";
import { functionRoutes } from "./admin/functions.ts";
import { configRoutes } from "./admin/config.ts";
import { instanceRoutes } from "./admin/instances.ts";
import { logRoutes } from "./admin/logs.ts";
import type { LogHub } from "./logs/hub.ts";
import type { NodeMetrics } from "./metrics/metrics.ts";
import { openApiDocument, openApiRoutes } from "./admin/openapi.ts";
import type { FunctionControl } from "./deployer.ts";
import type { FleetMember } from "./fleet/member.ts";
import { fleetRoutes } from "./admin/fleet.ts";
import { HttpError, toHttpError } from "./errors.ts";
import { error } from "./admin/schemas.ts";
import { gatewayRoutes } from "./gateway/invoke.ts";
import { healthRoutes } from "./health.ts";
import { consoleLogger, type Logger } from "./log.ts";
import type { AppEnv } from "./middleware/env.ts";
import { type AdminAuth, adminGuard, privateGuard } from "./middleware/auth.ts";
import { cloudEventModes } from "./middleware/cloudevents.ts";
import { noRoute } from "./middleware/method_not_allowed.ts";
import { observeInvocations } from "./middleware/invocations.ts";
import { requestMetrics } from "./middleware/metrics.ts";
import { requestId } from "./middleware/request_id.ts";
import { requestLog } from "./middleware/request_log.ts";
import { settledEvents } from "./middleware/settled_events.ts";
import { checkJsonBody } from "./middleware/json_body.ts";
import { expectation } from "./middleware/expect.ts";
import { responseCheck } from "./middleware/response_check.ts";
import { traceContext } from "./middleware/trace.ts";
import { validationHook } from "./middleware/validation_hook.ts";
import type { Scheduler } from "./scheduler/scheduler.ts";
import type { DataplaneLink } from "./dataplane/link.ts";
import type { FrontInfo } from "./health.ts";
import type { Store } from "./store/store.ts";
import type { Triggers } from "./store/triggers.ts";
import type { ChainControl } from "./chains/control.ts";

export interface AppDeps {
  store: Store;
  scheduler: Scheduler;
  deployer: FunctionControl;
  /** The fleet this node is a member of (sure serve --fleet). */
  fleet?: FleetMember;
  capabilities: Capabilities;
  version: string;
  logger: Logger;
  chains: ChainManager;
  metrics: NodeMetrics;
  logs: LogHub;
  /** The event sink's queue (POST /events, dead letters). */
  events: EventService;
  /** Where chain changes go (default: `chains`; the fleet's on a fleet member). */
  chainControl?: ChainControl;
  /** Where triggers are kept (default: the store's, in this node's Deno KV). */
  triggers?: Triggers;
  /** One structured log line per request (default true). */
  requestLog?: boolean;
  /** libsure's data plane, when it serves /invoke (node --dataplane sockets). */
  dataplane?: DataplaneLink;
  /** What serves HTTP, filled in once the node listens (healthz, metrics). */
  front?: { current?: FrontInfo };
  /** Check every JSON answer against the OpenAPI document (default: SURE_VALIDATE_RESPONSES=1). */
  validateResponses?: boolean;
  /** The admin token and where admin calls may come from (runtime/middleware/auth.ts). */
  auth: AdminAuth;
}

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.onError((err, c) => {
    const e = toHttpError(err);
    if (!(err instanceof HttpError) || e.status >= 500) {
      deps.logger(err instanceof HttpError ? "warn" : "error", err.message, {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        error: err instanceof HttpError ? e.code : err.name,
      });
    }
    // Through c.json, so the headers the middleware set (x-request-id, traceparent) stay.
    return c.json(e.body(), e.status as ContentfulStatusCode, e.headers());
  });
  app.notFound((c) => {
    throw noRoute(app, c);
  });

  app.use(requestId);
  app.use(expectation);
  if (deps.validateResponses ?? envFlag("SURE_VALIDATE_RESPONSES")) {
    app.use(responseCheck(() => routeConfigs(app)));
  }
  const observers = [requestMetrics(deps.metrics)];
  // What the data plane answered reaches the same observers, in batches.
  deps.dataplane?.observe(...observers);
  // Answers of one kind come folded, counted in the duration histogram's buckets.
  deps.dataplane?.foldAnswers(deps.metrics.duration.bounds);
  if (deps.requestLog !== false) {
    const log = requestLog(deps.logger);
    observers.push(log);
    // On the console, libsure writes the lines of what it answers itself.
    deps.dataplane?.logRequests(log, deps.logger === consoleLogger);
  }
  // The locks: admin calls, metrics and the event sink need the token; so
  // does a private function, checked before anything unpacks the request.
  const admin = adminGuard(deps.auth);
  for (const path of ["/admin/*", "/metrics", "/events", "/events/*"]) app.use(path, admin);
  for (const path of ["/admin/*", "/metrics"]) app.use(path, settledEvents(deps.dataplane));
  app.use("/admin/*", checkJsonBody);
  app.use(
    "/invoke/:name/*",
    privateGuard(
      deps.auth,
      (n) => deps.scheduler.isPrivate(n) || deps.fleet?.isPrivateElsewhere(n) === true,
    ),
  );
  // Structured and batch CloudEvents become binary-mode requests to the app
  // itself (checked already: "internal").
  app.use(
    "/invoke/*",
    cloudEventModes(async (req) => await app.fetch(req, { transport: "internal" })),
  );
  app.use("/invoke/:name/*", traceContext, observeInvocations(...observers));

  app.route("/", healthRoutes(deps));
  app.route("/admin/functions", functionRoutes(deps));
  app.route("/admin/functions", configRoutes(deps));
  app.route("/admin/functions", instanceRoutes(deps));
  app.route("/admin/functions", logRoutes(deps));
  app.get(
    "/metrics",
    (c) =>
      c.body(
        deps.metrics.render(
          deps.scheduler,
          deps.chains,
          deps.dataplane?.dp.stats(),
          deps.dataplane?.backend,
        ),
        200,
        {
          "content-type": "text/plain; version=0.0.4; charset=utf-8",
        },
      ),
  );
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus text format: requests, errors by kind, latency, instances, " +
      "cold starts, sidecar counters, chain pools, memory",
    tags: ["node"],
    responses: { 200: { description: "text/plain; version=0.0.4" } },
  });
  app.route("/admin/chains", chainRoutes(deps));
  app.route("/", gatewayRoutes(deps));
  app.route("/", sinkRoutes(deps));
  app.route(
    "/admin/triggers",
    triggerRoutes({ ...deps, triggers: deps.triggers ?? deps.store?.triggers }),
  );
  app.route("/admin/events/dead", deadLetterRoutes(deps));
  app.route("/admin/fleet", fleetRoutes(deps));
  app.route("/admin", openApiRoutes(() => openApiDocument(app, deps.version)));
  documentLocks(app);
  return app;
}

/** The locks' answers, in the description of every route they guard (adminGuard, privateGuard). */
function documentLocks(app: OpenAPIHono<AppEnv>): void {
  const unauthorized = error(
    "No admin token, or not this node's (Authorization: Bearer <token>); on /invoke: only for " +
      "a private function",
  );
  const tlsRequired = error("The admin API over plain HTTP on a node that serves it only over TLS");
  for (const route of routeConfigs(app)) {
    const locked = /^\/(admin|metrics$|events)/.test(route.path);
    if (!locked && !route.path.startsWith("/invoke/")) continue;
    route.responses[401] ??= unauthorized;
    if (locked) route.responses[403] ??= tlsRequired;
  }
}

/** The routes the OpenAPI document describes. */
function routeConfigs(app: OpenAPIHono<AppEnv>) {
  return app.openAPIRegistry.definitions.flatMap((d) => d.type === "route" ? [d.route] : []);
}

function envFlag(name: string): boolean {
  try {
    return Deno.env.get(name) === "1";
  } catch {
    return false; // no --allow-env: off
  }
}
