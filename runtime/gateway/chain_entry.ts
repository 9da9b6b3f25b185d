/**
 * A chain whose first step runs on another node takes its new requests there:
 * the node that runs the first step leads each request (its steps and hops
 * there), and this node's steps see it as hops. The data plane sends such a
 * request there itself (libsure/src/dp_forward.c); what it leaves to the
 * Hono app comes here: `--dataplane hono`, a structured CloudEvent, a request
 * that node's port refused (which then fails here, naming it). This sends it on to that node over HTTP and
 * passes its answer back, saying which node served it (`x-sure-node`, as a
 * fleet's forwarded requests do), with the same errors as the data plane's.
 */
import { HopForbiddenError, InternalError, PeerUnreachableError } from "../errors.ts";
import type { RemoteStep } from "../chains/runtime.ts";
import { readLimited } from "./body.ts";
import { hasBody, sendOn } from "./send_on.ts";

/** Marks a request sent on to the chain's first node, so that it never comes back. */
const SENT_ON = "x-sure-chain-entry";

export async function sendToEntry(
  req: Request,
  chain: string,
  entry: RemoteStep,
  requestId: string,
  /** The chain's maxBody: a larger body is a 413 here, as it would be there. */
  maxBody: number,
): Promise<Response> {
  // Hops go between the data planes themselves (a fresh connection each); one
  // that reaches the app came from elsewhere, as the data plane would say.
  if (req.headers.has("x-sure-hop")) throw new HopForbiddenError(chain);
  if (req.headers.has(SENT_ON)) {
    throw new InternalError(
      `chain ${chain}: its first step runs on node ${entry.node} by this node's manifest, ` +
        "and a node that sent the request here says the same of this one; apply the same " +
        "manifest on every node the chain names",
    );
  }
  const body = hasBody(req) ? await readLimited(req, maxBody) : undefined;
  let res: Response;
  try {
    res = await sendOn(
      req,
      `http://${entry.addr}`,
      { "x-request-id": requestId, [SENT_ON]: "1" },
      body,
    );
  } catch (e) {
    throw new PeerUnreachableError(
      chain,
      entry.node,
      `chain ${chain}: node ${entry.node} (${entry.addr}), which runs step 0, ` +
        `cannot be reached: ${(e as Error).message}`,
    );
  }
  const out = new Headers(res.headers);
  out.set("x-sure-node", entry.node);
  return new Response(res.body, { status: res.status, headers: out });
}
