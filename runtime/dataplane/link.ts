/**
 * The control plane's side of libsure's data plane (ffi/dataplane.ts): it
 * publishes each function's route and lends its instances (one Lending per
 * instance group), and one loop reads what happened in batches: answered
 * requests feed the metrics and the request log, "need" starts an
 * instance, "dead" gets the explained answer of a death, "retired" gives an
 * instance back. Nothing here runs per request except that batch read.
 */
import { Dataplane, type DataplaneEvent, EVENT_BATCH } from "../../ffi/dataplane.ts";
import type { HttpError } from "../errors.ts";
import { logBatch, type Logger } from "../log.ts";
import type { InvocationOutcome } from "../middleware/invocations.ts";
import type { InstanceGroup } from "../scheduler/group.ts";
import type { Lending } from "../scheduler/lending.ts";
import type { ChainAttachment, ChainHooks, ChainServing } from "../chains/serving.ts";
import type { Deployment } from "../store/store.ts";

export interface LinkOptions {
  host: string;
  port: number;
  /** Unix socket of the Hono app. */
  upstream: string;
  logger: Logger;
  /** CPUs for the data-plane thread ([]: any). */
  cpus?: number[];
  /** How kernel sockets are read (epoll). */
  io?: "epoll" | "io_uring";
  /**
   * How long answered requests' events may gather while the node is busy
   * before the loop reads them (ms, default 5): one wake-up of the control
   * plane per batch, not per request. Other events come at once.
   */
  eventLingerMs?: number;
  /** The af_xdp backend: the Z-stack on iface at addr, next to host:port. */
  afXdp?: { iface: string; addr: string; prefix?: number; gateway?: string };
  /** The node's admin token: private functions are served only with it. */
  token: string;
  /** The key the nodes of a chain share for its hops (hop_key.ts); none: by address alone. */
  hopKey?: Uint8Array;
}

interface Route {
  id: number;
  name: string;
  /** The group that gets "need" (the newest: a redeploy's). */
  current: InstanceGroup | undefined;
}

export class DataplaneLink {
  readonly dp: Dataplane;
  readonly #routes = new Map<string, Route>();
  readonly #byId: Route[] = [];
  /** Which group lent each instance (tags are process-unique vm ids). */
  readonly #owner = new Map<number, InstanceGroup>();
  /** Groups with answers not yet counted, and the answers the observers have not seen yet. */
  readonly #answeredBy = new Set<InstanceGroup>();
  readonly #outcomes: InvocationOutcome[] = [];
  /** Attached chains by attachment id, and the attachment each name serves. */
  readonly #chains = new Map<number, { name: string; hooks: ChainHooks }>();
  readonly #chainRoute = new Map<string, number>();
  #observers: ((o: InvocationOutcome) => void)[] = [];
  /** The request log's observer, and whether libsure writes the lines of what it answered. */
  #requestLog: ((o: InvocationOutcome) => void) | undefined;
  #requestLogInC = false;
  /** The duration histogram's bounds answers are folded into (foldAnswers), if any. */
  #foldBounds: readonly number[] | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  /** settled() calls waiting for the loop to have handled what was there. */
  #settle: (() => void)[] = [];

  constructor(readonly opts: LinkOptions) {
    this.dp = Dataplane.start({
      host: opts.host,
      port: opts.port,
      upstream: opts.upstream,
      cpus: opts.cpus,
      ...(opts.io ? { io: opts.io } : {}),
      ...(opts.afXdp ? { afXdp: opts.afXdp } : {}),
    });
    try {
      this.dp.setToken(opts.token);
      if (opts.hopKey) this.dp.setHopKey(opts.hopKey);
    } catch (e) {
      this.dp.stop(0).catch(() => {});
      throw e;
    }
  }

  /** Which backend serves: "sockets", or "af_xdp" (the Z-stack, and kernel TCP on host). */
  get backend(): "sockets" | "af_xdp" {
    return this.opts.afXdp ? "af_xdp" : "sockets";
  }

  /** How kernel sockets are read (what the data plane says, not what was asked). */
  get io(): "epoll" | "io_uring" {
    return this.dp.stats().io;
  }

  get port(): number {
    return this.dp.port;
  }

  /** The address it listens on. */
  get host(): string {
    return this.opts.host;
  }

  /**
   * Where each answered request is reported (metrics). Where libsure writes
   * the request log (logRequests(_, true)), the requests it answered come
   * without requestId and traceId (""): only the log read them, and decoding
   * them was two thirds of an event's cost (~0.33 of 0.49 us).
   */
  observe(...fns: ((o: InvocationOutcome) => void)[]): void {
    this.#observers.push(...fns);
  }

  /**
   * The request log. inC (the node logs to the console): libsure writes the
   * line of each request it answers itself, in the console logger's format,
   * after the lines the batch's functions logged, so that no JavaScript
   * runs per request for it; observer then sees only the requests answered
   * from here (after a death). Else observer sees every request, as observe()'s do.
   */
  logRequests(observer: (o: InvocationOutcome) => void, inC: boolean): void {
    this.dp.logRequests(inC);
    this.#requestLog = observer;
    this.#requestLogInC = inC;
    this.#fold();
  }

  /**
   * Lets libsure fold the answers it reports (Dataplane.foldDone) into one
   * outcome per function or chain, instance, status and error code per
   * batch, with count and seconds' counts in these bounds (the observers'
   * duration histogram): the control plane's work then grows with the kinds
   * of answer in a batch, not with the requests. Not while the request log
   * is written here, which needs each request.
   */
  foldAnswers(boundsSeconds: readonly number[]): void {
    this.#foldBounds = boundsSeconds;
    this.#fold();
  }

  /** Whether an answered request's own event is needed here: the request log is written here. */
  get #perRequest(): boolean {
    return this.#requestLog !== undefined && !this.#requestLogInC;
  }

  #fold(): void {
    if (this.#foldBounds) this.dp.foldDone(this.#perRequest ? null : this.#foldBounds);
  }

  /** True when the data plane serves the function's /invoke requests. */
  serves(name: string): boolean {
    return this.#routes.get(name)?.current !== undefined || this.#chainRoute.has(name);
  }

  /** How chains are served here (ChainManager's). */
  chainServing(): ChainServing {
    return {
      attach: (chain, settings, hooks): ChainAttachment => {
        const dp = this.dp;
        const id = dp.attachChain(chain, settings);
        this.#chains.set(id, { name: settings.name, hooks });
        this.#chainRoute.set(settings.name, id);
        const unname = () => {
          if (this.#chainRoute.get(settings.name) === id) this.#chainRoute.delete(settings.name);
        };
        return {
          close: () => {
            unname();
            if (dp.running) dp.closeChain(id);
          },
          release: () => {
            unname();
            if (dp.running && !dp.releaseChain(id)) return false;
            this.#chains.delete(id);
            return true;
          },
          running: () => dp.running ? dp.chainStats(id).running : 0,
          answer: (token, err) => {
            if (dp.running) dp.answer(token, err.status, err.body(), err.headers());
          },
          refuse: (err) => {
            if (!dp.running) return;
            dp.refuseChain(
              id,
              err && { status: err.status, body: err.body(), headers: err.headers() },
            );
          },
        };
      },
    };
  }

  /** The Lending of one instance group (GroupOptions.lending). */
  lendingFor(group: InstanceGroup): Lending {
    const route = (): Route => {
      let r = this.#routes.get(group.name);
      if (!r) {
        r = { id: -1, name: group.name, current: group };
        this.#routes.set(group.name, r);
      }
      return r;
    };
    const owner = this.#owner, byId = this.#byId;
    const dp = this.dp;
    // After close() every instance is its group's again: calls become no-ops.
    const up = () => dp.running;
    return {
      publish(dep: Deployment, ioCap: number, maxQueue: number, canStart: boolean) {
        const r = route();
        if (canStart) r.current = group;
        if (r.current !== group || !up()) return; // an older deployment, draining
        r.id = dp.route({
          name: dep.name,
          maxBody: Math.min(dep.maxBody, ioCap),
          timeoutMs: dep.timeout,
          deadlineMs: dep.deadline,
          maxQueue,
          maxInstances: dep.maxInstances,
          targetConcurrency: dep.targetConcurrency,
          concurrencyLimit: dep.concurrencyLimit,
          canStart,
          isPrivate: dep.access === "private",
        });
        byId[r.id] = r;
      },
      expect() {
        if (up()) dp.expect(route().id);
      },
      lend(vm, need) {
        if (!up()) return;
        owner.set(vm.id, group);
        dp.lend(route().id, vm.pointer!, vm.id, need);
      },
      reclaim(vm) {
        if (!up()) return "back";
        const out = dp.reclaim(route().id, vm.id);
        if (out !== "busy") owner.delete(vm.id);
        return out;
      },
      stats: () =>
        up() ? dp.routeStats(route().id) : {
          instances: 0,
          idle: 0,
          running: 0,
          starting: 0,
          queued: 0,
          requests: 0,
          idleTags: [],
        },
      startFailed(err: HttpError) {
        if (up()) dp.startFailed(route().id, err.status, err.body(), err.headers());
      },
      answer(token: bigint, err: HttpError) {
        if (up()) dp.answer(token, err.status, err.body(), err.headers());
      },
      withdraw() {
        const r = route();
        if (r.current !== group) return;
        r.current = undefined;
        if (up()) dp.unroute(r.id);
      },
    };
  }

  /**
   * Opens the port and starts reading events, once the node serves: its
   * routes published and the Hono app listening on the upstream socket.
   * Until then the port accepts nothing: connections wait in the kernel's
   * backlog (the Z-stack's are refused).
   */
  listen(): void {
    if (this.#loop) return;
    this.dp.open();
    this.#loop = this.#run();
  }

  /**
   * Resolves once every event the data plane held when it was called has
   * been handled: metrics, the request log, logs and chain counters read
   * after it count every request answered before it.
   */
  settled(): Promise<void> {
    if (!this.#loop || this.#stopping) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#settle.push(resolve));
    this.dp.kickEvents(); // the read in flight returns now
    return done;
  }

  async #run(): Promise<void> {
    const linger = this.opts.eventLingerMs ?? 5;
    const waiting: (() => void)[] = [];
    while (!this.#stopping) {
      // Those who wait for what is there now get it without a wait.
      waiting.push(...this.#settle.splice(0));
      const now = waiting.length > 0;
      let batch: DataplaneEvent[];
      try {
        batch = await this.dp.events(now ? 0 : 200, linger, this.#perRequest);
      } catch (e) {
        if (this.#stopping) break;
        this.opts.logger("error", `data plane events: ${(e as Error).message}`, {});
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      logBatch(() => {
        for (const ev of batch) this.#handle(ev);
        this.#endOfAnswers();
      });
      // After the lines the functions of these requests logged.
      this.dp.flushRequestLog();
      // A full batch may have left more behind: read on before answering them.
      if (now && batch.length < EVENT_BATCH) {
        for (const resolve of waiting) resolve();
        waiting.length = 0;
      }
    }
    for (const resolve of [...waiting, ...this.#settle.splice(0)]) resolve();
  }

  /**
   * Ends a run of answers: each group that answered counts them and reads its
   * instances' logs once, then the observers see the answers, so a request's
   * log line follows the lines its function wrote. Before any other event
   * (an instance retired or dead) and at the end of each batch.
   */
  #endOfAnswers(): void {
    if (this.#outcomes.length === 0) return;
    // Taken first: what an observer throws cannot make the next batch report these again.
    const groups = [...this.#answeredBy];
    this.#answeredBy.clear();
    const outcomes = this.#outcomes.splice(0);
    for (const g of groups) g.onAnswered();
    for (const o of outcomes) this.#report(o, true);
  }

  #handle(ev: DataplaneEvent): void {
    const r = this.#byId[ev.route];
    if (ev.kind !== "done") this.#endOfAnswers();
    switch (ev.kind) {
      case "need":
        r?.current?.onNeed();
        return;
      case "retired":
        this.#owner.get(ev.tag)?.onRetired(ev.tag);
        this.#owner.delete(ev.tag);
        return;
      case "runaway":
        this.#owner.get(ev.tag)?.onRunaway(ev.tag);
        this.#owner.delete(ev.tag);
        return;
      case "stepDown": {
        const c = this.#chains.get(ev.chain);
        if (!c) {
          if (ev.token) {
            this.dp.answer(ev.token, 502, {
              error: "function_fault",
              message: `chain ${r?.name}: a step died`,
            }, {});
          }
          return;
        }
        c.hooks.stepDown(ev).then((e) => {
          if (!e) return;
          this.#report({
            target: "chain",
            name: c.name,
            status: e.status,
            kind: e.code,
            seconds: ev.seconds,
            requestId: ev.requestId,
            traceId: ev.traceId,
          });
        });
        return;
      }
      case "done": {
        const chain = ev.chain ? this.#chains.get(ev.chain) : undefined;
        if (ev.chain) chain?.hooks.done(ev.status, ev.code, ev.rc === 1, ev.count);
        else if (ev.tag) {
          const g = this.#owner.get(ev.tag);
          if (g) {
            g.onDone(ev.tag, ev.count);
            this.#answeredBy.add(g);
          }
        }
        this.#outcomes.push({
          target: ev.chain ? "chain" : "function",
          name: chain?.name ?? r?.name ?? "",
          status: ev.status,
          kind: ev.code || undefined,
          seconds: ev.seconds,
          requestId: ev.requestId,
          traceId: ev.traceId,
          ...(ev.count !== 1 || ev.buckets ? { count: ev.count, buckets: ev.buckets } : {}),
        });
        return;
      }
      case "dead": {
        const g = this.#owner.get(ev.tag);
        this.#owner.delete(ev.tag);
        if (!g) {
          this.dp.answer(ev.token, 502, {
            error: "function_fault",
            message: `function ${r?.name}: its instance died`,
          }, {});
          return;
        }
        g.onDead(ev.tag, ev.token, ev.rc, ev.requestId).then((err) => {
          const e = err as HttpError;
          this.#report({
            target: "function",
            name: g.name,
            status: e.status ?? 500,
            kind: e.code,
            seconds: ev.seconds,
            requestId: ev.requestId,
            traceId: ev.traceId,
          });
        });
        return;
      }
    }
  }

  /** answered: a DONE event's (libsure answered it, and logs it when #requestLogInC). */
  #report(o: InvocationOutcome, answered = false): void {
    for (const observe of this.#observers) observe(o);
    if (!(answered && this.#requestLogInC)) this.#requestLog?.(o);
  }

  /** Stops serving (requests in progress get grace_ms), then the event loop. */
  async close(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    // The event read in flight ends now; only then is dp freed.
    if (this.#loop) this.dp.kickEvents();
    await this.#loop;
    await this.dp.stop(graceMs);
  }
}
