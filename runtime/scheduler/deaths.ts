/**
 * Instances of an instance group that go out of service by themselves, and
 * what replaces them. An instance that faults, times out or breaks the
 * protocol is destroyed; a replacement starts only if someone waits or
 * minInstances needs it.
 *
 * The request it ran is answered as vmhost/failures.ts says, and a death is
 * told twice: the node's log line and the same words in the function's own
 * log (`sure logs`): what the 502 says, where, and why. A death in the
 * group's own invoke() and one the data plane reports (onDead) read alike.
 */
import { errorFromErrno, type Fault, type SureError } from "../../ffi/mod.ts";
import { type FaultLocation, type HttpError, toHttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Deployment } from "../store/store.ts";
import {
  invokeError,
  type InvokeFailure,
  placeholderFault,
  readFault,
} from "../vmhost/failures.ts";
import type { LogDrain } from "../vmhost/log_drain.ts";
import { symbolise } from "../vmhost/symbolise.ts";
import type { GroupDrain } from "./drain.ts";
import type { LentInstances } from "./lent.ts";
import type { InstancePool, Member } from "./pool.ts";
import type { RequestQueue } from "./request_queue.ts";
import type { Spawner } from "./spawner.ts";

/** What a failed request's answer is made of, besides the function and its ioCap. */
export type Failure = Omit<InvokeFailure, "fn" | "ioCap"> & { at: FaultLocation | null };

/** What the deaths need of their instance group. */
export interface DeathContext {
  pool: InstancePool;
  queue: RequestQueue;
  spawner: Spawner;
  drain: GroupDrain;
  /** Set when the data plane runs the requests (the instances are lent to it). */
  lent: LentInstances | undefined;
  logger: Logger;
  logs: LogDrain;
  /** The function's image: where a fault's address is looked up (symbolise.ts). */
  image: Uint8Array;
  /** Bytes of each of an instance's request and response areas. */
  ioCap: number;
  deployment(): Deployment;
}

export class InstanceDeaths {
  constructor(readonly ctx: DeathContext) {}

  /**
   * Takes a busy instance that died under its request out of service and
   * says what killed it; starts a replacement if needed.
   */
  retire(m: Member, err: SureError): Fault {
    const { pool, queue, drain } = this.ctx;
    const fault = deathFault(m.vm, err);
    pool.markFree(m);
    pool.remove(m);
    if (queue.length > 0 && (!drain.active || pool.size === 0)) this.replace();
    else if (!drain.active) this.ctx.spawner.fillTo(this.ctx.deployment().minInstances, "minimum");
    drain.check();
    return fault;
  }

  /** An instance that went out of service by itself (died, ran away) goes; the minimum is kept. */
  lost(m: Member): void {
    this.ctx.pool.remove(m);
    if (!this.ctx.drain.active) {
      this.ctx.spawner.fillTo(this.ctx.deployment().minInstances, "minimum");
    }
  }

  /** One more instance for the waiters; if even that is impossible, they fail now. */
  replace(): void {
    const { pool } = this.ctx;
    try {
      this.ctx.spawner.spawn("replace").catch(() => {});
    } catch (e) {
      if (pool.size + pool.starting === 0) this.ctx.queue.failAll(e);
    }
  }

  /**
   * Instance tag died under a request the data plane ran (rc: libsure's
   * -errno): the same answer, log lines and replacement as a death in the
   * group's own invoke(). Returns the error the request got.
   */
  async reported(
    tag: number,
    token: bigint,
    rc: number,
    requestId: string,
  ): Promise<HttpError | Error> {
    const m = this.ctx.pool.byTag(tag);
    const e = errorFromErrno("invoke", rc);
    let fault: Fault | undefined;
    if (m) {
      this.ctx.logs.drain(m.vm, m.vm.id);
      fault = deathFault(m.vm, e);
      this.lost(m);
    }
    const at = fault?.kind === "exception" ? await symbolise(this.ctx.image, fault.rip) : null;
    const f = { requestId, timeoutMs: this.ctx.deployment().timeout, instance: tag, fault, at };
    const err = this.answer(e, f) as HttpError | Error;
    this.ctx.lent?.lending.answer(token, toHttpError(err));
    this.ctx.drain.check();
    return err;
  }

  /**
   * The error a failed request is answered with; when its instance died
   * (f.fault), the death is logged too. f.at: where the fault happened,
   * looked up once the instance is out of service.
   */
  answer(e: unknown, f: Failure): unknown {
    const fn = this.ctx.deployment().name;
    const err = invokeError(e, { ...f, fn, ioCap: this.ctx.ioCap });
    if (f.fault) this.#logDeath(fn, f, e as SureError, f.fault, err);
    return err;
  }

  /**
   * The node's log line for a dead instance, and the same words in the
   * function's own log (`sure logs`): what the 502 says, where, and why.
   */
  #logDeath(fn: string, f: Failure, err: SureError, fault: Fault, answer: unknown): void {
    const { instance, requestId, at } = f;
    const words = answer instanceof Error ? answer.message : `${fault.name} (${err.code})`;
    this.ctx.logger("warn", `instance died: ${words}`, {
      function: fn,
      instance,
      requestId,
      fault: { kind: fault.kind, vector: fault.vector, rip: "0x" + fault.rip.toString(16) },
      ...(at ? { at } : {}),
      ...(fault.reason ? { reason: fault.reason } : {}),
    });
    this.ctx.logs.note(words, instance);
  }
}

/** What killed a dead instance; read before it is destroyed (the record goes with it). */
function deathFault(vm: Member["vm"], err: SureError): Fault {
  return readFault(vm) ?? placeholderFault("unknown", err.code);
}
