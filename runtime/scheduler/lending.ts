/**
 * What an instance group needs from the data plane (runtime/dataplane/) when
 * libsure serves its requests: the group still starts, reaps, scales and
 * destroys instances, but lends the idle ones to the data plane, which runs
 * requests on them, queues and admits in C. The data plane talks back through
 * the group's on* methods (called from the link's event loop, in batches).
 */
import type { RouteStats } from "../../ffi/dataplane.ts";
import type { HttpError } from "../errors.ts";
import type { Deployment } from "../store/store.ts";
import type { Vm } from "../vmhost/vm.ts";

export interface Lending {
  /** Publishes (or updates) the function's route with these settings. */
  publish(dep: Deployment, ioCap: number, maxQueue: number, canStart: boolean): void;
  /** An instance is being started (not asked for by the data plane): it counts it as coming. */
  expect(): void;
  /** Lends an idle instance; need: it was counted as coming (asked for, or expect()). */
  lend(vm: Vm, need: boolean): void;
  /** Takes an instance back: "back" (it was idle), "busy" (onRetired follows), "unknown". */
  reclaim(vm: Vm): "back" | "busy" | "unknown";
  /** What the data plane holds for this function now. */
  stats(): RouteStats;
  /** The requests that wait for an instance that will not come get this error. */
  startFailed(err: HttpError): void;
  /** Answers the request whose instance died. */
  answer(token: bigint, err: HttpError): void;
  /** No new requests (the function is going away). */
  withdraw(): void;
}
