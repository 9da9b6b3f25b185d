/**
 * The response check catches drift: an answer missing a field its documented
 * schema requires fails the request (500 naming the field), and so does a
 * status the document does not list. Checked on the real routes' document.
 */
import assert from "node:assert/strict";
import { createRoute, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { type AppDeps, createApp } from "../app.ts";
import { DeploymentSchema } from "../admin/functions.ts";
import { json } from "../admin/schemas.ts";
import { nullLogger } from "../log.ts";
import { defaultSettings } from "../settings/settings.ts";
import { responseCheck, responseMismatch } from "./response_check.ts";

const deployment = {
  name: "echo",
  digest: "a".repeat(64),
  size: 1,
  ...defaultSettings(),
  env: {},
  secrets: [],
  createdAt: "2024-01-01T00:00:00.000Z",
  updatedAt: "2024-01-01T00:00:00.000Z",
};

/** An app whose one route answers `body` and documents a Deployment, with the check on. */
function lying(body: unknown, status = 200) {
  const route = createRoute({
    method: "get",
    path: "/thing",
    responses: { 200: json(DeploymentSchema, "A deployment") },
  });
  const app = new OpenAPIHono();
  app.use(responseCheck(() => [route]));
  // deno-lint-ignore no-explicit-any
  app.openapi(route, (c) => c.json(body as any, status as 200));
  app.onError((err, c) => c.json({ error: "internal_error", message: err.message }, 500));
  return app;
}

Deno.test("response check: an answer as documented passes untouched", async () => {
  const res = await lying(deployment).request("/thing");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), deployment);
});

Deno.test("response check: an answer missing a required field fails loudly", async () => {
  const { digest: _, ...drifted } = deployment;
  const res = await lying(drifted).request("/thing");
  assert.equal(res.status, 500);
  const msg = (await res.json()).message;
  assert.match(msg, /GET \/thing answered 200, which does not match its documented schema/);
  assert.match(msg, /digest/);
});

Deno.test("response check: an undocumented status fails too", async () => {
  const res = await lying(deployment, 202).request("/thing");
  assert.equal(res.status, 500);
  assert.match((await res.json()).message, /status 202 is not documented/);
});

Deno.test("response check: the node's own document catches the drifts the old one had", () => {
  const app = createApp({
    version: "0",
    logger: nullLogger,
    auth: { token: null, plainAdmin: true },
  } as unknown as AppDeps);
  const routes = app.openAPIRegistry.definitions.flatMap((d) =>
    d.type === "route" ? [d.route] : []
  );
  const route = (method: string, path: string) =>
    routes.find((r) => r.method === method && r.path === path) as RouteConfig;

  const chain = { name: "c", steps: ["echo"], pool: { buffers: 2048, bufferSize: 4096 } };
  const getChain = route("get", "/admin/chains/{name}");
  assert.match(responseMismatch(getChain, 200, chain)!, /createdAt/);
  const stored = {
    ...chain,
    reserve: 4096,
    maxBody: 1,
    timeout: 1,
    createdAt: "t",
    updatedAt: "t",
  };
  assert.match(responseMismatch(getChain, 200, stored)!, /status/);
  const answered = { ...stored, status: { state: "running" } };
  assert.equal(responseMismatch(getChain, 200, answered), null);
  assert.match(
    responseMismatch(getChain, 200, { ...stored, status: { state: "sleeping" } })!,
    /state/,
  );
  // Any error status is an Error; an error without its code is not.
  assert.equal(responseMismatch(getChain, 503, { error: "x", message: "y", extra: 1 }), null);
  assert.match(responseMismatch(getChain, 404, { message: "y" })!, /error/);

  const health = route("get", "/healthz");
  assert.match(responseMismatch(health, 200, { status: "ok" })!, /version/);
});
