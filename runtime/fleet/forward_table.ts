/**
 * What the data plane forwards itself (libsure's sure_dataplane_forward): for
 * each function other nodes of the fleet run and this one does not, the live
 * nodes that run it, from their heartbeats, and whether it is private (then
 * only a request with this node's token goes, signed for that node with the
 * hop key, forward_sign.ts). An /invoke of one then goes from C straight to
 * one of those nodes' public ports, with no JavaScript on the way; this only
 * publishes what changed, once per heartbeat or desired change, never per
 * request.
 *
 * A node that drops out of every list (its heartbeat expired, it left, it
 * stopped running what it ran) is probed once: if its port takes no
 * connection either, it is dead, and what was forwarded to it fails now
 * (502 forward_failed naming it) instead of waiting out its timeout.
 */
import type { Logger } from "../log.ts";
import { answers, type DirectTarget } from "./forward_direct.ts";

/** Where the table goes: the data plane (ffi/dataplane.ts's forward, forwardDead). */
export interface ForwardSink {
  set(name: string, timeoutMs: number, targets: DirectTarget[], isPrivate: boolean): void;
  dead(node: string): void;
}

/** Per function: how long an exchange may take, the nodes that run it, whether it is private. */
export type ForwardView = Map<
  string,
  { timeoutMs: number; targets: DirectTarget[]; isPrivate: boolean }
>;

export class ForwardTable {
  /** What the sink was last given, per function ("timeout private targets..."). */
  #shown = new Map<string, string>();
  /** The nodes in any list now, and where they answer. */
  #nodes = new Map<string, string>();

  constructor(readonly sink: ForwardSink, readonly logger: Logger) {}

  publish(view: ForwardView): void {
    const nodes = new Map<string, string>();
    for (const [name, { timeoutMs, targets, isPrivate }] of view) {
      for (const t of targets) nodes.set(t.node, t.addr);
      const list = targets.map((t) => `${t.node}=${t.addr}`).join(" ");
      const shown = `${timeoutMs} ${isPrivate} ${list}`;
      if (this.#shown.get(name) !== shown && this.#set(name, timeoutMs, targets, isPrivate)) {
        this.#shown.set(name, shown);
      }
    }
    for (const name of this.#shown.keys()) {
      if (!view.has(name) && this.#set(name, 1, [], false)) this.#shown.delete(name);
    }
    for (const [node, addr] of this.#nodes) {
      if (!nodes.has(node)) void this.#probe(node, addr);
    }
    this.#nodes = nodes;
  }

  #set(name: string, timeoutMs: number, targets: DirectTarget[], isPrivate: boolean): boolean {
    try {
      this.sink.set(name, timeoutMs, targets, isPrivate);
      return true;
    } catch (e) {
      this.logger("warn", `fleet: the data plane cannot forward ${name}`, {
        error: (e as Error).message,
      });
      return false;
    }
  }

  async #probe(node: string, addr: string): Promise<void> {
    if (await answers(addr)) return;
    try {
      this.sink.dead(node);
    } catch (e) {
      this.logger("warn", `fleet: node ${node} is dead, but its requests could not be failed`, {
        error: (e as Error).message,
      });
    }
  }
}
