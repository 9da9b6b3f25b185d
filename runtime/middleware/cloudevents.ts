/**
 * CloudEvents' structured and batch content modes on /invoke/{name}. A
 * function sees every event in binary mode (ce-* headers, the data as its
 * body), so the gateway needs to know nothing about events:
 *
 * - binary mode (and anything that is not an event) passes through untouched;
 * - structured (application/cloudevents+json): the event is posted again in
 *   binary mode to the same URL through the app itself (`dispatch`), and an
 *   answer in binary mode (a ce-specversion header) is turned back into a
 *   structured event; any other answer is passed on as it is;
 * - batch (application/cloudevents-batch+json): each event is posted the
 *   same way, one after the other in order, and the answer is a batch with
 *   one entry per event at the same index: the function's answer event, or
 *   for an answer that is not an event (including errors) an event of type
 *   dev.sure.invoke.result whose data is the answer's body. Every entry has
 *   the extension attribute `surestatus`, the HTTP status of that event's
 *   answer. The batch answers 200 when every event answered 2xx, else 207.
 *
 * Each posted event is an invocation of its own (request log, metrics); the
 * enclosing request is not one.
 */
import type { MiddlewareHandler } from "hono";
import { readLimited } from "../gateway/body.ts";
import {
  BATCH,
  type CloudEvent,
  contentMode,
  fromBinaryResponse,
  fromJsonBody,
  renderBatch,
  renderStructured,
  SPEC_VERSION,
  STRUCTURED,
  toBinary,
} from "../events/cloudevents.ts";
import type { AppEnv } from "./env.ts";

/** Largest structured or batch body: the largest function body (16 MiB) plus base64's growth. */
export const MAX_EVENTS_BODY = 24 << 20;

/** The type of a batch entry made for an answer that was not an event. */
export const RESULT_TYPE = "dev.sure.invoke.result";

export type Dispatch = (req: Request) => Promise<Response>;

export function cloudEventModes(dispatch: Dispatch): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const mode = c.req.method === "POST" ? contentMode(c.req.raw.headers) : null;
    if (mode === null || mode === "binary") return await next();
    const events = fromJsonBody(mode, await readLimited(c.req.raw, MAX_EVENTS_BODY));
    const post = (ev: CloudEvent, requestId: string) => {
      const headers = new Headers(c.req.raw.headers);
      headers.delete("content-type");
      headers.delete("content-length");
      headers.set("x-request-id", requestId);
      const binary = toBinary(ev);
      for (const [k, v] of binary.headers) headers.set(k, v);
      return dispatch(
        new Request(c.req.url, {
          method: "POST",
          headers,
          body: binary.body as Uint8Array<ArrayBuffer>,
        }),
      );
    };
    const id = c.get("requestId");
    if (mode === "structured") {
      const res = await post(events[0], id);
      const reply = await fromBinaryResponse(res.clone());
      if (!reply) return res;
      const headers = new Headers(
        [...res.headers].filter(([k]) => !k.startsWith("ce-") && k !== "content-length"),
      );
      headers.set("content-type", STRUCTURED);
      return new Response(renderStructured(reply), { status: res.status, headers });
    }
    const answers: CloudEvent[] = [];
    let allOk = true;
    for (const [i, ev] of events.entries()) {
      const res = await post(ev, `${id}.${i}`);
      allOk &&= res.ok;
      const reply = await fromBinaryResponse(res.clone()) ?? await resultEvent(res, ev, c.req.path);
      reply.attributes.surestatus = String(res.status);
      answers.push(reply);
    }
    return new Response(renderBatch(answers), {
      status: allOk ? 200 : 207,
      headers: { "content-type": BATCH, "x-request-id": id },
    });
  };
}

/** A batch entry for an answer that is not an event: its body as data. */
async function resultEvent(res: Response, ev: CloudEvent, path: string): Promise<CloudEvent> {
  const data = new Uint8Array(await res.arrayBuffer());
  const attributes: Record<string, string> = {
    specversion: SPEC_VERSION,
    id: `${ev.attributes.id}.result`,
    source: path,
    type: RESULT_TYPE,
  };
  const type = res.headers.get("content-type");
  if (type && data.byteLength > 0) attributes.datacontenttype = type;
  return data.byteLength > 0 ? { attributes, data } : { attributes };
}
