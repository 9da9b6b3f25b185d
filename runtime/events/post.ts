/**
 * One delivery attempt: an event posted in binary mode to /invoke/<function>
 * through the node's own app (in-process; in a fleet the gateway forwards it
 * to a node that runs the function). A 2xx is success; anything else, or no
 * answer, is an outcome to retry.
 */
import { type CloudEvent, toBinary } from "./cloudevents.ts";

/** Posts one event (binary mode) to a function; the node's own app.fetch. */
export type Deliver = (req: Request) => Promise<Response>;

export interface Outcome {
  /** The HTTP status (absent: it never got an answer). */
  lastStatus?: number;
  lastError?: string;
}

export async function postEvent(
  deliver: Deliver,
  delivery: string,
  fn: string,
  ev: CloudEvent,
): Promise<Outcome> {
  const { headers, body } = toBinary(ev);
  headers.set("x-sure-delivery", delivery);
  const req = new Request(`http://sure.internal/invoke/${encodeURIComponent(fn)}`, {
    method: "POST",
    headers,
    body: body as Uint8Array<ArrayBuffer>,
  });
  try {
    const res = await deliver(req);
    if (res.ok) {
      await res.body?.cancel();
      return { lastStatus: res.status };
    }
    const text = (await res.text()).slice(0, 200);
    return { lastStatus: res.status, lastError: `HTTP ${res.status}: ${text}` };
  } catch (e) {
    return { lastError: (e as Error).message };
  }
}

/** A 2xx answer. */
export function delivered(o: Outcome): boolean {
  return o.lastStatus !== undefined && o.lastStatus >= 200 && o.lastStatus < 300;
}
