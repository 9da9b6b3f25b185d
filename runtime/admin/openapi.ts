/**
 * GET /admin/openapi.json: the OpenAPI 3.1 document of the node's API,
 * generated from the routes and their zod schemas as the app declares them
 * (so it cannot drift from what the node validates and answers).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../middleware/env.ts";
import { json } from "./schemas.ts";

export const OpenApiDocumentSchema = z.object({
  openapi: z.string().describe("3.1.0"),
  info: z.object({ title: z.string(), version: z.string() }).loose(),
  paths: z.record(z.string(), z.unknown()),
}).loose().openapi("OpenApiDocument");

/** The document of every route of `app` (call it once all routes are mounted). */
// deno-lint-ignore no-explicit-any
export function openApiDocument(app: OpenAPIHono<any>, version: string) {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "sure node API",
      version,
      description: "A sure node: the admin API (functions, chains), the gateway, health.",
    },
  });
}

/** Serves `document()`, made on the first request and kept: routes do not change. */
export function openApiRoutes(document: () => unknown): OpenAPIHono<AppEnv> {
  let doc: unknown;
  const r = new OpenAPIHono<AppEnv>();
  r.openapi(
    createRoute({
      method: "get",
      path: "/openapi.json",
      operationId: "openapi",
      summary: "This document",
      tags: ["node"],
      responses: { 200: json(OpenApiDocumentSchema, "OpenAPI 3.1 document") },
    }),
    // deno-lint-ignore no-explicit-any
    (c) => c.json((doc ??= document()) as any, 200),
  );
  return r;
}
