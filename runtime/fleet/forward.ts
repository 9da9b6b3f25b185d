/**
 * Invoke anywhere: a request for a function this node does not run, but the
 * fleet does, goes over NATS request/reply to one of the nodes that run it.
 * Each node answers `sure.invoke.<name>` in one queue group for every
 * function it runs, so NATS picks one of them, and a node that dies simply
 * stops answering. The request travels as the message's data (the body) and
 * headers (method, path, the caller's headers); the answer comes back the same
 * way with the status and the serving node's name, which the caller sees as
 * `x-sure-node`. The serving node runs it as its own request ("internal": the
 * forwarding node checked the caller's token for a private function), so its
 * answers and errors are the ones the caller would get there.
 *
 * Bodies both ways are bounded by the NATS server's max_payload (1 MiB by
 * default): beyond it the caller gets 413, or 502 for an answer.
 */
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { FleetUnavailableError, ForwardFailedError, PayloadTooLargeError } from "../errors.ts";

export const INVOKE_SUBJECT = (name: string) => `sure.invoke.${name}`;
const QUEUE = "sure";
/** Headers a forwarded request or answer does not carry (they describe one hop). */
const HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"]);

function copyHeaders(
  from: Headers,
  to: ReturnType<typeof natsHeaders>,
  drop: readonly string[] = [],
): void {
  for (const [k, v] of from) {
    if (!HOP.has(k) && !k.startsWith("sure-") && !drop.includes(k)) to.append(k, v);
  }
}

/** Sends req to a node that runs `name`; its answer, marked with the node that gave it. */
export async function forwardInvoke(
  nc: NatsConnection,
  name: string,
  req: Request,
  timeoutMs: number,
  /** The caller's headers that stay here (a private function's: this node's token). */
  drop: readonly string[] = [],
): Promise<Response> {
  const url = new URL(req.url);
  const body = new Uint8Array(await req.arrayBuffer());
  const max = nc.info?.max_payload ?? 1048576;
  if (body.byteLength > max - 4096) throw new PayloadTooLargeError(max - 4096);
  const h = natsHeaders();
  copyHeaders(req.headers, h, drop);
  h.set("sure-method", req.method);
  h.set("sure-path", url.pathname + url.search);
  let msg: Msg;
  try {
    msg = await nc.request(INVOKE_SUBJECT(name), body, { headers: h, timeout: timeoutMs });
  } catch (e) {
    const why = (e as Error).message;
    if (/no responders|503/i.test(why)) {
      throw new FleetUnavailableError(`no node of the fleet serves ${name} now`);
    }
    throw new FleetUnavailableError(`forwarding ${name}: ${why}`);
  }
  const status = Number(msg.headers?.get("sure-status"));
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new ForwardFailedError(`the node that ran ${name} sent back no answer`);
  }
  const out = new Headers();
  for (const [k, vs] of msg.headers ?? []) {
    if (k.startsWith("sure-") || HOP.has(k.toLowerCase())) continue;
    for (const v of vs) out.append(k, v);
  }
  out.set("x-sure-node", msg.headers!.get("sure-node"));
  const nullBody = status === 204 || status === 304;
  return new Response(nullBody ? null : msg.data as Uint8Array<ArrayBuffer>, {
    status,
    headers: out,
  });
}

/** Answers forwarded requests for `name` on this node with `run`; returns how to stop. */
export function serveForwarded(
  nc: NatsConnection,
  name: string,
  node: string,
  run: (req: Request) => Promise<Response>,
): { stop(): void } {
  const sub = nc.subscribe(INVOKE_SUBJECT(name), {
    queue: QUEUE,
    callback: (err, msg) => {
      if (err) return;
      answer(msg).catch(() => {/* the asker times out */});
    },
  });
  const answer = async (msg: Msg) => {
    const method = msg.headers?.get("sure-method") || "POST";
    const path = msg.headers?.get("sure-path") || `/invoke/${name}`;
    const headers = new Headers();
    for (const [k, vs] of msg.headers ?? []) {
      if (k.startsWith("sure-") || HOP.has(k.toLowerCase())) continue;
      for (const v of vs) headers.append(k, v);
    }
    // Only this function's paths: a forwarded request names no other route.
    const ok = path === `/invoke/${name}` || path.startsWith(`/invoke/${name}/`) ||
      path.startsWith(`/invoke/${name}?`);
    const res = ok
      ? await run(
        new Request(`http://fleet${path}`, {
          method,
          headers,
          body: method === "GET" || method === "HEAD"
            ? undefined
            : msg.data as Uint8Array<ArrayBuffer>,
        }),
      )
      : new Response(JSON.stringify({ error: "bad_request", message: "not this function" }), {
        status: 400,
      });
    const data = new Uint8Array(await res.arrayBuffer());
    const h = natsHeaders();
    copyHeaders(res.headers, h);
    h.set("sure-node", node);
    const max = nc.info?.max_payload ?? 1048576;
    if (data.byteLength > max - 4096) {
      h.set("sure-status", "502");
      msg.respond(
        new TextEncoder().encode(JSON.stringify({
          error: "forward_failed",
          message: `the answer of ${name} (${data.byteLength} bytes) is larger than the fleet ` +
            `carries (${max - 4096})`,
        })),
        { headers: h },
      );
      return;
    }
    h.set("sure-status", String(res.status));
    msg.respond(data, { headers: h });
  };
  return { stop: () => sub.unsubscribe() };
}
