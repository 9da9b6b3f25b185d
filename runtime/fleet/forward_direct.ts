/**
 * Invoke anywhere, straight to the data plane: a request for a public function
 * another node runs goes over HTTP to that node's public port, where its data
 * plane (C, or the Z-stack with af_xdp) serves it as any request. No NATS
 * server and no JavaScript on the far side sit on the way, and the body is not
 * bounded by NATS's max_payload. The node is picked from the heartbeats (the
 * nodes alive that run the function, in turn); one that refuses the
 * connection is skipped, and when none can be dialled the caller falls back
 * to NATS request/reply (forward.ts). A private function's invoke goes this way
 * signed with the key the nodes share (forward_sign.ts), which the far node
 * takes instead of its own token; the caller's, this node's, is not sent on.
 * Without that key it goes over NATS.
 *
 * A request in flight to a node whose heartbeat then expires is failed at once
 * (502 forward_failed naming the node) instead of waiting out its timeout.
 */
import { ForwardFailedError, FunctionTimeoutError } from "../errors.ts";
import { FORWARDED_BY, sendOn } from "../gateway/send_on.ts";
import { FORWARD_MAC, signForward } from "./forward_sign.ts";

/** A node that runs the function, and where its public port answers ("a.b.c.d:port"). */
export interface DirectTarget {
  node: string;
  addr: string;
}

class Refused extends Error {}

export class DirectForwarder {
  /** Requests in flight, by the node they went to: aborted when it dies. */
  #inFlight = new Map<string, Set<AbortController>>();
  /** Per function, the next of its nodes to take a request (round robin). */
  #turn = new Map<string, number>();
  /** Where each node was last sent a request, and the nodes being probed now. */
  #addr = new Map<string, string>();
  #probing = new Set<string>();
  /** Keep-alive connections to the other nodes' public ports. */
  #client = Deno.createHttpClient({});

  /** hopKey: the nodes' shared key, which signs a private function's invokes. */
  constructor(readonly self: string, readonly hopKey?: Uint8Array) {}

  /**
   * Sends req to one of targets; null when none could be dialled (then the
   * caller has another way). The answer is the function's, with x-sure-node.
   */
  async send(
    name: string,
    req: Request,
    body: Uint8Array<ArrayBuffer> | undefined,
    requestId: string,
    targets: DirectTarget[],
    timeoutMs: number,
    isPrivate = false,
  ): Promise<Response | null> {
    if (targets.length === 0 || (isPrivate && !this.hopKey)) return null;
    const first = (this.#turn.get(name) ?? 0) % targets.length;
    this.#turn.set(name, first + 1);
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(first + k) % targets.length];
      try {
        return await this.#sendTo(name, req, body, requestId, t, timeoutMs, isPrivate);
      } catch (e) {
        if (e instanceof Refused) continue; // nothing was sent: another node may take it
        throw e;
      }
    }
    return null;
  }

  async #sendTo(
    name: string,
    req: Request,
    body: Uint8Array<ArrayBuffer> | undefined,
    requestId: string,
    t: DirectTarget,
    timeoutMs: number,
    isPrivate: boolean,
  ): Promise<Response> {
    const ac = new AbortController();
    this.#addr.set(t.node, t.addr);
    let set = this.#inFlight.get(t.node);
    if (!set) this.#inFlight.set(t.node, set = new Set());
    set.add(ac);
    const done = () => {
      clearTimeout(timer);
      set.delete(ac);
      if (set.size === 0 && this.#inFlight.get(t.node) === set) this.#inFlight.delete(t.node);
    };
    // The far node answers its own timeout; this only bounds a node that does not.
    const timer = setTimeout(() => {
      ac.abort("timeout");
      done();
    }, timeoutMs);
    const marks: Record<string, string> = { "x-request-id": requestId, [FORWARDED_BY]: this.self };
    // The caller's token is this node's, checked here: the far node gets a signature instead.
    const drop = isPrivate ? ["authorization"] : [];
    if (isPrivate) {
      marks[FORWARD_MAC] = signForward(this.hopKey!, this.self, name, req, body?.byteLength ?? 0);
    }
    let res: Response;
    try {
      res = await sendOn(req, `http://${t.addr}`, marks, body, this.#client, ac.signal, drop);
    } catch (e) {
      done();
      throw this.#failure(name, t, ac, e as Error, timeoutMs);
    }
    const out = new Headers(res.headers);
    out.set("x-sure-node", t.node);
    if (!res.body) {
      done();
      return new Response(null, { status: res.status, headers: out });
    }
    // The answer's bytes come while the caller reads them; a death meanwhile
    // cuts them (the client sees a broken body, as from that node itself).
    const passed = res.body.pipeThrough(
      new TransformStream({ flush: done }),
    );
    return new Response(passed, { status: res.status, headers: out });
  }

  #failure(name: string, t: DirectTarget, ac: AbortController, e: Error, timeoutMs: number) {
    const reason = ac.signal.aborted ? ac.signal.reason : undefined;
    if (reason === "timeout") return new FunctionTimeoutError(name, timeoutMs);
    if (reason === "dead") {
      return new ForwardFailedError(
        `node ${t.node}, which ran ${name}, stopped answering (its heartbeat expired)`,
        t.node,
      );
    }
    // Deno's fetch says "fetch failed" and puts what the socket said in its cause.
    const why = e.cause instanceof Error ? e.cause.message : e.message;
    if (/connection refused|os error 111/i.test(why)) return new Refused(why);
    return new ForwardFailedError(
      `node ${t.node} (${t.addr}), which runs ${name}, cannot be reached: ${why}`,
      t.node,
    );
  }

  /**
   * A node's heartbeat expired. If requests are in flight to it and its port
   * takes no connection either, it is dead: they fail at once. (A node cut off
   * from NATS alone still answers: its requests go on.)
   */
  async suspect(node: string): Promise<void> {
    const set = this.#inFlight.get(node);
    const addr = this.#addr.get(node);
    if (!set || !addr || this.#probing.has(node)) return;
    this.#probing.add(node);
    try {
      if (await answers(addr)) return;
      for (const ac of set) ac.abort("dead");
      if (this.#inFlight.get(node) === set) this.#inFlight.delete(node);
    } finally {
      this.#probing.delete(node);
    }
  }

  /** Requests in flight to other nodes now. */
  get inFlight(): number {
    let n = 0;
    for (const set of this.#inFlight.values()) n += set.size;
    return n;
  }

  close(): void {
    for (const set of this.#inFlight.values()) for (const ac of set) ac.abort("closing");
    this.#inFlight.clear();
    this.#client.close();
  }
}

/** Whether "a.b.c.d:port" takes a TCP connection within PROBE_MS. */
const PROBE_MS = 500;
export async function answers(addr: string): Promise<boolean> {
  const i = addr.lastIndexOf(":");
  const signal = AbortSignal.timeout(PROBE_MS);
  try {
    const conn = await Deno.connect({
      hostname: addr.slice(0, i),
      port: Number(addr.slice(i + 1)),
      signal,
    });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
