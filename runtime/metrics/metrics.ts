/**
 * The node's metrics: what the gateway counts per request, and what is
 * read at scrape time from the scheduler, the chains, the memory budget and
 * the instances' library sidecars (their pages in guest memory).
 * GET /metrics renders them in the Prometheus text format.
 */
import { emptyVmsReady, LATENCY_BOUNDS_SECONDS, type SidecarStats } from "../../ffi/mod.ts";
import type { ChainManager } from "../chains/manager.ts";
import { stepNames } from "../chains/spec.ts";
import type { DataplaneStats } from "../../ffi/dataplane.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import {
  Counter,
  type CounterSeries,
  type Family,
  Histogram,
  histogramSamples,
  type HistogramSeries,
  type Labels,
  render,
  type Sample,
} from "./registry.ts";

export type Target = "function" | "chain";

/** Request latency buckets, seconds. */
const DURATION_BOUNDS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

interface Outcome {
  requests: CounterSeries;
  errors?: CounterSeries;
  duration: HistogramSeries;
}

export class NodeMetrics {
  readonly requests = new Counter(
    "sure_requests_total",
    "Requests answered by the gateway, by target, name and HTTP status code.",
  );
  readonly errors = new Counter(
    "sure_request_errors_total",
    "Requests that failed, by target, name and kind (the error code of the JSON body).",
  );
  readonly duration = new Histogram(
    "sure_request_duration_seconds",
    "Time from the request's arrival to its answer at the gateway.",
    DURATION_BOUNDS,
  );

  /** The series one kind of outcome counts on, by target, name, status and error kind. */
  #outcomes = new Map<string, Outcome>();

  /**
   * One answered request, or count of them (seconds: their sum; buckets:
   * their counts by the duration histogram's buckets). kind:
   * the error code when it failed.
   */
  record(
    target: Target,
    name: string,
    code: number,
    seconds: number,
    kind?: string,
    count = 1,
    buckets?: readonly number[],
  ): void {
    // One lookup per request (this runs for each one the data plane reports).
    const k = `${target}\u0000${name}\u0000${code}\u0000${kind ?? ""}`;
    let o = this.#outcomes.get(k);
    if (!o) {
      const l = { target, name };
      o = {
        requests: this.requests.series({ ...l, code: String(code) }),
        errors: kind ? this.errors.series({ ...l, kind }) : undefined,
        duration: this.duration.series(l),
      };
      this.#outcomes.set(k, o);
    }
    o.requests.value += count;
    if (o.errors) o.errors.value += count;
    if (count === 1 && !buckets) o.duration.observe(seconds);
    else o.duration.add(count, seconds, buckets);
  }

  render(
    scheduler: Scheduler,
    chains?: ChainManager,
    dp?: DataplaneStats,
    backend: "sockets" | "af_xdp" = "sockets",
  ): string {
    return render([
      ...(dp ? dataplaneFamilies(dp, backend) : []),
      ...(dp && backend === "af_xdp" ? stackFamilies(dp.stack) : []),
      this.requests.family(),
      this.errors.family(),
      this.duration.family(),
      ...functionFamilies(scheduler),
      ...sidecarFamilies(scheduler, chains),
      ...chainFamilies(chains),
      ...nodeFamilies(scheduler),
    ]);
  }
}

function gauge(name: string, help: string, samples: Sample[]): Family {
  return { name, help, type: "gauge", samples };
}

function counter(name: string, help: string, samples: Sample[]): Family {
  return { name, help, type: "counter", samples };
}

/** libsure's HTTP server (--dataplane sockets or af_xdp): what it counted itself. */
function dataplaneFamilies(s: DataplaneStats, backend: string): Family[] {
  const one = (value: number): Sample[] => [{ labels: { backend }, value }];
  /** One sample per value, each labelled with its key: by("reason", { timeout: n }). */
  const by = (label: string, values: Record<string, number>): Sample[] =>
    Object.entries(values).map(([v, value]) => ({ labels: { backend, [label]: v }, value }));
  const dir = (rx: number, tx: number): Sample[] => by("direction", { in: rx, out: tx });
  return [
    gauge("sure_dataplane_connections", "Open client connections.", one(s.connsOpen)),
    counter(
      "sure_dataplane_connections_total",
      "Client connections accepted.",
      one(s.connsAccepted),
    ),
    counter(
      "sure_dataplane_refused_total",
      "Connections closed at once over the connection limit.",
      one(s.connsRefused),
    ),
    counter("sure_dataplane_requests_total", "Requests answered in C.", one(s.requests)),
    counter(
      "sure_dataplane_tunnelled_total",
      "Tunnels to the Hono app begun (admin API, health, events, unknown names): one per " +
        "exchange, or the rest of a connection whose ends cannot be told.",
      one(s.tunnelled),
    ),
    counter(
      "sure_dataplane_forwards_total",
      "Invokes of functions other nodes of the fleet run, and new requests for chains whose " +
        "first step another node runs, sent to that node straight from C: in all, refused by " +
        "that node (then forwarded by the Hono app), and failed before it answered (502 " +
        "forward_failed or peer_unreachable, 504 function_timeout).",
      by("outcome", { sent: s.forwarded, refused: s.forwardsRefused, failed: s.forwardFailures }),
    ),
    counter(
      "sure_dataplane_forward_connections_total",
      "Connections opened to other nodes for forwarded invokes (a forward on a connection an " +
        "earlier one to the same node left open, for up to 15 s, opens none).",
      one(s.forwardConnects),
    ),
    counter(
      "sure_dataplane_drops_total",
      "Requests refused by the parser (4xx/5xx, connection closed) or closed as too slow.",
      by("reason", { malformed: s.parseErrors, timeout: s.timeouts }),
    ),
    counter(
      "sure_dataplane_bytes_total",
      "Bytes read from and written to clients.",
      dir(s.bytesIn, s.bytesOut),
    ),
    counter(
      "sure_dataplane_copied_bytes_total",
      "Body bytes copied by the stack: in, out of the connection's input buffer (bytes that " +
        "came with their head, or a chunked body) and into an instance's area or a chain's " +
        "pool (a body not received there); out, into the connection's buffer because the " +
        "socket was full.",
      dir(s.copiedIn, s.copiedOut),
    ),
    gauge(
      "sure_dataplane_requests_held",
      "Requests the data plane holds now, by where they are.",
      by("state", {
        waiting: s.queued,
        running: s.running,
        in_chain: s.inChains,
        parked: s.parked,
      }),
    ),
    counter(
      "sure_dataplane_instance_queue_total",
      "Plain instances' request queues: requests posted to an instance behind one it was " +
        "running (pipelined), and requests given back to their function's queue because the " +
        "instance they waited in died or timed out before it ran them (requeued), or because " +
        "the one ahead of them ran long and they had not begun (withdrawn).",
      by("event", { pipelined: s.pipelined, requeued: s.requeued, withdrawn: s.withdrawn }),
    ),
    counter(
      "sure_dataplane_chain_hops_total",
      "Chain hops to and from the nodes that run other steps, hops that failed, and hops " +
        "refused (from an address none of the chain's nodes has, or without the hop key's MAC).",
      by("direction", {
        out: s.hopsOut,
        in: s.hopsIn,
        failed: s.hopFailures,
        refused: s.hopsRefused,
      }),
    ),
    counter(
      "sure_dataplane_hop_connections_total",
      "Connections opened to other nodes for chain hops (a hop on a connection kept open since " +
        "an earlier hop to the same node opens none).",
      one(s.hopConnects),
    ),
    counter(
      "sure_dataplane_events_dropped_total",
      "Per-request events the control plane did not read in time (metrics and log miss them).",
      one(s.eventsDropped),
    ),
    counter(
      "sure_dataplane_request_log_dropped_total",
      "Request log lines the data plane wrote none of: the control plane did not flush them in time.",
      one(s.requestLogDropped),
    ),
  ];
}

function functionFamilies(scheduler: Scheduler): Family[] {
  const inst: Sample[] = [], queued: Sample[] = [], cold: Sample[] = [], peak: Sample[] = [];
  const runaways: Sample[] = [];
  for (const group of scheduler.groups()) {
    const st = group.status();
    const l = { function: group.name };
    inst.push({
      labels: { ...l, state: "idle" },
      value: st.instances.filter((i) => i.state === "idle").length,
    });
    inst.push({
      labels: { ...l, state: "busy" },
      value: st.instances.filter((i) => i.state === "busy").length,
    });
    inst.push({ labels: { ...l, state: "starting" }, value: st.starting });
    queued.push({ labels: l, value: st.queued });
    cold.push({ labels: l, value: st.coldStarts });
    runaways.push({ labels: l, value: st.runaways });
    peak.push({ labels: l, value: st.peakInstances });
  }
  return [
    gauge("sure_function_instances", "Live instances of a function, by state.", inst),
    gauge("sure_function_queued_requests", "Requests waiting for a free instance.", queued),
    counter(
      "sure_function_cold_starts_total",
      "Instances started because a request found none free.",
      cold,
    ),
    gauge("sure_function_instances_peak", "Most instances alive at once since the deploy.", peak),
    counter(
      "sure_function_runaways_total",
      "Idle instances stopped because they kept running after their answer without going back " +
        "to sleep.",
      runaways,
    ),
  ];
}

/** One series set per (function[, chain]) from its sidecars' counters. */
function sidecarFamilies(scheduler: Scheduler, chains?: ChainManager): Family[] {
  const sources: { labels: Labels; st: SidecarStats }[] = [];
  for (const group of scheduler.groups()) {
    sources.push({ labels: { function: group.name, chain: "" }, st: group.sidecarStats() });
  }
  for (const rt of chains?.all() ?? []) {
    stepNames(rt.spec).forEach((fn, i) => {
      sources.push({ labels: { function: fn, chain: rt.name }, st: rt.stepSidecarStats(i) });
    });
  }
  const outcome: Sample[] = [], status: Sample[] = [], denied: Sample[] = [];
  const cpu: Sample[] = [], depth: Sample[] = [], hist: Sample[] = [];
  for (const { labels, st } of sources) {
    // Only what served requests gets series: /metrics stays small with many idle functions.
    if (st.requests === 0) continue;
    const o = (name: string, value: number) => ({ labels: { ...labels, outcome: name }, value });
    outcome.push(
      o("admitted", st.admitted),
      o("rate_limited", st.rejectedRate),
      o("concurrency_limited", st.rejectedInFlight),
      o("deadline_missed", st.deadlineMissed),
    );
    status.push({ labels: { ...labels, class: "4xx" }, value: st.status4xx });
    status.push({ labels: { ...labels, class: "5xx" }, value: st.status5xx });
    denied.push({ labels, value: st.policyDenied });
    cpu.push({ labels, value: st.sidecarSeconds });
    depth.push({ labels, value: st.maxQueueDepth });
    // Fixed bounds in seconds, the same on every machine (the last bucket is +Inf).
    const cum: number[] = [];
    let acc = 0;
    for (const c of st.latencyBuckets.slice(0, LATENCY_BOUNDS_SECONDS.length)) {
      acc += c;
      cum.push(acc);
    }
    const total = acc + (st.latencyBuckets[LATENCY_BOUNDS_SECONDS.length] ?? 0);
    histogramSamples(hist, labels, LATENCY_BOUNDS_SECONDS, cum, st.handlerSeconds, total);
  }
  // Every series here is the guests' own account (their sidecar pages): the
  // node keeps it monotonic and bounds it by what it gave them (sidecar.c).
  const GUEST = " Guest-reported: monotonic, bounded by the requests the node gave the instances.";
  return [
    counter(
      "sure_sidecar_requests_total",
      "Requests the instances' library sidecars saw, by outcome of admission." + GUEST +
        " rate_limited (and, for chain steps, concurrency_limited) also counts the node's own " +
        "refusals (host-accounted).",
      outcome,
    ),
    counter(
      "sure_sidecar_errors_total",
      "Handler answers with a 4xx or 5xx status." + GUEST,
      status,
    ),
    counter(
      "sure_sidecar_policy_denied_total",
      "Hand-offs a function asked for that its chain's routes forbid (refused)." + GUEST,
      denied,
    ),
    counter(
      "sure_sidecar_cpu_seconds_total",
      "Time the library sidecars themselves took. Guest-reported: monotonic, at most the " +
        "instances' age.",
      cpu,
    ),
    gauge(
      "sure_sidecar_queue_depth_max",
      "Most requests seen waiting at one instance behind the one it ran (at most its request " +
        "slots less one)." + GUEST,
      depth,
    ),
    {
      name: "sure_sidecar_handler_seconds",
      help: "Handler run time measured in the guest (TSC), per admitted request." + GUEST,
      type: "histogram",
      samples: hist,
    },
  ];
}

function chainFamilies(chains?: ChainManager): Family[] {
  const bufs: Sample[] = [], handoffs: Sample[] = [], copied: Sample[] = [];
  for (const rt of chains?.all() ?? []) {
    const s = rt.chain.stats();
    const l = { chain: rt.name };
    bufs.push({ labels: { ...l, state: "in_use" }, value: s.buffers - s.freeBuffers });
    bufs.push({ labels: { ...l, state: "free" }, value: s.freeBuffers });
    handoffs.push({ labels: l, value: s.handoffs });
    copied.push({ labels: { ...l, by: "node_in" }, value: s.copiedIn });
    copied.push({ labels: { ...l, by: "node_out" }, value: s.copiedOut });
    copied.push({ labels: { ...l, by: "handoff" }, value: s.handoffBytes });
  }
  return [
    gauge("sure_chain_pool_buffers", "Buffers of a chain's shared pool, in use or free.", bufs),
    counter(
      "sure_chain_handoffs_total",
      "Descriptors the chain's functions handed on (reported by their guest library, kept " +
        "monotonic by the node).",
      handoffs,
    ),
    counter(
      "sure_chain_copied_bytes_total",
      "Bytes copied, by who copied them: node_in/node_out counted by the node; handoff " +
        "reported by the steps' guest library, kept monotonic and bounded by the node.",
      copied,
    ),
  ];
}

function nodeFamilies(scheduler: Scheduler): Family[] {
  const one = (value: number) => [{ labels: {}, value }];
  return [
    gauge(
      "sure_instances",
      "Live function instances (micro-VMs) on the node.",
      one(scheduler.instances),
    ),
    gauge(
      "sure_memory_budget_bytes",
      "Memory all VMs together may reserve.",
      one(scheduler.budget.limitBytes),
    ),
    gauge(
      "sure_memory_reserved_bytes",
      "Reserved by instances, templates and chains.",
      one(scheduler.budget.usedBytes),
    ),
    gauge(
      "sure_empty_vms_ready",
      "Empty VMs made ahead for new instances.",
      one(scheduler.kvmAvailable ? emptyVmsReady() : 0),
    ),
  ];
}

/** The Z-stack (--dataplane af_xdp): what it and its AF_XDP socket counted. */
function stackFamilies(z: DataplaneStats["stack"]): Family[] {
  const dir = (rx: number, tx: number): Sample[] => [
    { labels: { direction: "in" }, value: rx },
    { labels: { direction: "out" }, value: tx },
  ];
  return [
    gauge("sure_zstack_connections", "Open TCP connections of the Z-stack.", [
      { labels: {}, value: z.connsOpen },
    ]),
    counter("sure_zstack_connections_total", "TCP connections accepted or made.", [
      { labels: {}, value: z.connsTotal },
    ]),
    counter("sure_zstack_frames_total", "Frames received and sent.", dir(z.rxFrames, z.txFrames)),
    counter(
      "sure_zstack_packets_chained_total",
      "Received packets longer than a frame, that came in several (multi-buffer AF_XDP).",
      [{ labels: {}, value: z.rxChained }],
    ),
    counter(
      "sure_zstack_bytes_total",
      "Bytes of frames received and sent.",
      dir(z.rxBytes, z.txBytes),
    ),
    counter(
      "sure_zstack_copied_bytes_total",
      "Bytes the stack copied: out of received frames (into request buffers, or of slow " +
        "readers), into TCP segments, and into TX frames (the AF_XDP socket's copy mode).",
      [
        { labels: { kind: "received" }, value: z.copiedIn },
        { labels: { kind: "segment" }, value: z.copiedOut },
        { labels: { kind: "wire" }, value: z.copiedWire },
      ],
    ),
    counter(
      "sure_zstack_checksums_total",
      "TCP segments the stack sent, by who finished their checksum: the kernel (AF_XDP TX " +
        "metadata: they leave partial, as the kernel's own TCP's do) or the stack itself.",
      [
        { labels: { by: "kernel" }, value: z.checksummedByKernel },
        { labels: { by: "stack" }, value: z.checksummedByStack },
      ],
    ),
    counter(
      "sure_zstack_retransmits_total",
      "TCP segments sent again on duplicate ACKs (fast retransmit).",
      [
        { labels: {}, value: z.retransmits },
      ],
    ),
    counter(
      "sure_zstack_retransmit_timeouts_total",
      "TCP retransmission timeouts: each sends the oldest unacknowledged segment again.",
      [
        { labels: {}, value: z.retransmitTimeouts },
      ],
    ),
    counter(
      "sure_zstack_resets_total",
      "TCP connections that ended in an error: reset, given up.",
      [
        { labels: {}, value: z.resets },
      ],
    ),
    counter(
      "sure_zstack_drops_total",
      "Frames dropped: by the kernel (no room in the rings) or by the stack.",
      [
        { labels: { by: "kernel" }, value: z.rxDropped },
        { labels: { by: "stack" }, value: z.drops },
      ],
    ),
  ];
}
