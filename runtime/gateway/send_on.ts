/**
 * Sending a client's request on over HTTP (to this node's data plane, or to
 * the node that leads a chain): its method, path, query and headers as they
 * came, less the headers of the connection it came on, plus the node's own.
 */

/** Marks a request one node of a fleet forwarded to another: that one never forwards it on. */
export const FORWARDED_BY = "x-sure-forwarded-by";

/** Hop-by-hop headers, which are the connection's, not the request's. */
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"];

export function sendOn(
  req: Request,
  /** "http://host:port" */
  origin: string,
  /** Headers the node sets (request id, its marks). */
  set: Record<string, string>,
  body: Uint8Array<ArrayBuffer> | undefined,
  client?: Deno.HttpClient,
  signal?: AbortSignal,
  /** Headers of the request's that stay here (e.g. this node's token). */
  drop: string[] = [],
): Promise<Response> {
  const url = new URL(req.url);
  const headers = new Headers(req.headers);
  for (const h of [...HOP_BY_HOP, ...drop]) headers.delete(h);
  for (const [k, v] of Object.entries(set)) headers.set(k, v);
  return fetch(`${origin}${url.pathname}${url.search}`, {
    method: req.method,
    headers,
    body,
    redirect: "manual",
    ...(client ? { client } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** Whether the method carries a body the function sees. */
export const hasBody = (req: Request): boolean => req.method !== "GET" && req.method !== "HEAD";
