/*
 * sidecar.c - the host's side of the library sidecar: the limits it writes
 * into an instance's sidecar page, the counters it reads back (plain loads
 * of guest memory: no exit, no call into the guest), and the per-request
 * trace context. The guest side is libsure/guest/src/sidecar.c.
 */
#include <errno.h>
#include <string.h>
#include <x86intrin.h>

#include "instance.h"
#include "libsure.h"
#include "sure_abi.h"
#include "util.h"

#define TRACE_BYTES 25 /* trace-id 16, parent-id 8, flags 1 */

static struct sure_sidecar *page(struct sure_instance *inst)
{
	return (struct sure_sidecar *)(inst->ram.map + SURE_SIDECAR_GPA);
}

/* The guest's TSC rate as KVM says it (1 GHz if KVM does not), never the
 * control page's copy, which the guest can rewrite. */
static uint64_t tsc_hz(struct sure_instance *inst)
{
	return inst->tsc_hz ? inst->tsc_hz : 1000000000ull;
}

SURE_API int sure_instance_set_sidecar(struct sure_instance *inst, uint32_t enabled,
				       uint32_t max_inflight, uint32_t rate_per_sec,
				       uint32_t rate_burst, uint32_t deadline_ms)
{
	if (!inst)
		return -EINVAL;
	struct sure_sidecar *sc = page(inst);
	uint64_t hz = tsc_hz(inst);

	/* The host keeps its own copy: the page is the guest's to rewrite. */
	inst->rate.per_sec = enabled ? rate_per_sec : 0;
	inst->rate.burst = rate_burst ? rate_burst : 1;
	inst->max_inflight = enabled ? max_inflight : 0;
	inst->deadline_ms = enabled ? deadline_ms : 0;
	sc->max_inflight = max_inflight;
	sc->rate_per_sec = rate_per_sec;
	sc->rate_burst = rate_burst ? rate_burst : 1;
	sc->deadline_ticks = deadline_ms ? hz / 1000 * deadline_ms : 0;
	/* Release: a guest that sees enabled also sees the limits. */
	sure_store(&sc->enabled, enabled ? 1u : 0u);
	return 0;
}

/*
 * GCRA on the TSC, the guest sidecar's rule with the host's copy of the
 * limit: a request is admitted unless the theoretical arrival time is more
 * than (burst - 1) intervals ahead. The guest checks again when it takes the
 * request (a little later, so never more leniently); a guest that lifts its
 * own limit still gets no more than this.
 */
int sure_gcra_fits(uint32_t per_sec, uint32_t burst, uint64_t hz, uint64_t tat, uint64_t now,
		   uint64_t *next)
{
	if (!per_sec) {
		*next = tat;
		return 1;
	}
	uint64_t interval = hz / per_sec;
	uint64_t tolerance = (uint64_t)((burst ? burst : 1) - 1) * interval;

	if (tat > now + tolerance)
		return 0;
	*next = (tat > now ? tat : now) + interval;
	return 1;
}

int sure_sidecar_take(struct sure_instance *inst)
{
	uint64_t next;

	if (!inst->rate.per_sec)
		return 1;
	if (!sure_gcra_fits(inst->rate.per_sec, inst->rate.burst, tsc_hz(inst), inst->rate.tat,
			    __rdtsc(), &next)) {
		__atomic_add_fetch(&inst->rate.refused, 1, __ATOMIC_RELAXED);
		return 0;
	}
	inst->rate.tat = next;
	return 1;
}

/* TSC ticks to nanoseconds at hz (never 0 here). */
static uint64_t ticks_ns(uint64_t ticks, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)ticks * 1000000000u / hz);
}

/* Most requests inst can have seen: the host's count (and the one it may be
 * running), or its attachment's bound (a chain step). */
static uint64_t requests_bound(struct sure_instance *inst)
{
	if (inst->att.ops && inst->att.ops->requests_bound)
		return inst->att.ops->requests_bound(inst->att.seat);
	return inst->requests + 1;
}

SURE_API int sure_instance_sidecar_stats(struct sure_instance *inst,
					 struct sure_sidecar_counters *out, size_t size)
{
	if (!inst || !out || size != sizeof(*out))
		return -EINVAL;
	const volatile struct sure_sidecar *sc = page(inst);
	struct sure_sidecar_fold *f = &inst->sc_fold;
	uint64_t hz = tsc_hz(inst);
	uint64_t reqs = requests_bound(inst);
	uint64_t now = __rdtsc();
	uint64_t age = now > inst->born_tsc ? now - inst->born_tsc : 0;
	const uint64_t raw[SURE_SC_NCOUNT] = {
		[SURE_SC_REQUESTS] = sc->requests,
		[SURE_SC_ADMITTED] = sc->admitted,
		[SURE_SC_RATE] = sc->rejected_rate,
		[SURE_SC_INFLIGHT] = sc->rejected_inflight,
		[SURE_SC_DEADLINE] = sc->deadline_missed,
		[SURE_SC_POLICY] = sc->policy_denied,
		[SURE_SC_4XX] = sc->status_4xx,
		[SURE_SC_5XX] = sc->status_5xx,
		[SURE_SC_HANDLER] = sc->handler_ticks,
		[SURE_SC_SIDECAR] = sc->sidecar_ticks,
	};
	uint64_t v[SURE_SC_NCOUNT];

	for (int i = 0; i < SURE_SC_NCOUNT; i++) {
		/* Time sums: no more than the instance has lived; counts: requests. */
		uint64_t bound = i == SURE_SC_HANDLER || i == SURE_SC_SIDECAR ? age : reqs;
		v[i] = sure_fold_counter(raw[i], &f->seen[i], &f->total[i], bound);
	}
	/* The host's own refusals (never posted, so the guest never counted
	 * them) are host-accounted: added as they are. */
	uint64_t host_refused = __atomic_load_n(&inst->rate.refused, __ATOMIC_RELAXED);
	uint64_t host_busy = __atomic_load_n(&inst->refused_inflight, __ATOMIC_RELAXED);
	v[SURE_SC_REQUESTS] += host_refused + host_busy;
	v[SURE_SC_RATE] += host_refused;
	v[SURE_SC_INFLIGHT] += host_busy;
	/* Gauges: a queue no longer than the requests it can have seen, and at a
	 * plain instance, than its slots hold behind the one it runs. */
	uint64_t depth = sc->queue_depth, max_depth = sc->max_queue_depth;
	uint64_t most = inst->att.ops || inst->io_slots - 1u >= reqs ? reqs : inst->io_slots - 1u;
	*out = (struct sure_sidecar_counters){
		.requests = v[SURE_SC_REQUESTS],
		.admitted = v[SURE_SC_ADMITTED],
		.rejected_rate = v[SURE_SC_RATE],
		.rejected_inflight = v[SURE_SC_INFLIGHT],
		.deadline_missed = v[SURE_SC_DEADLINE],
		.policy_denied = v[SURE_SC_POLICY],
		.status_4xx = v[SURE_SC_4XX],
		.status_5xx = v[SURE_SC_5XX],
		.queue_depth = depth < most ? depth : most,
		.max_queue_depth = max_depth < most ? max_depth : most,
		.handler_ns = ticks_ns(v[SURE_SC_HANDLER], hz),
		.sidecar_ns = ticks_ns(v[SURE_SC_SIDECAR], hz),
	};
	/* The histogram as a whole holds no more observations than requests. */
	uint64_t in_hist = 0;
	for (int i = 0; i < SURE_LAT_BUCKETS; i++)
		in_hist += f->total_hist[i];
	for (int i = 0; i < SURE_LAT_BUCKETS; i++) {
		uint64_t before = f->total_hist[i];
		uint64_t room = reqs > in_hist ? reqs - in_hist : 0;
		out->latency_hist[i] = sure_fold_counter(sc->latency_hist[i], &f->seen_hist[i],
							 &f->total_hist[i], before + room);
		in_hist += f->total_hist[i] - before;
	}
	return 0;
}

SURE_API int sure_instance_sidecar_records(struct sure_instance *inst,
					   struct sure_host_record *out, uint32_t max)
{
	if (!inst || (!out && max))
		return -EINVAL;
	const volatile struct sure_sidecar *sc = page(inst);
	uint64_t hz = tsc_hz(inst);
	uint64_t now = __rdtsc();
	uint64_t written = sc->records_written;
	uint32_t n = 0;

	/* The records are the guest's: each is read once and bounded by what
	 * the host knows. The guest may be writing the newest one, so a record
	 * whose time is ahead is skipped; so is one from before the instance
	 * was made, and no request took longer than the instance has lived. */
	for (uint64_t i = 0; i < SURE_REQ_RECORDS && i < written && n < max; i++) {
		const volatile struct sure_req_record *r =
			&sc->rec[(written - 1 - i) % SURE_REQ_RECORDS];
		uint64_t tsc = r->tsc, ticks = r->ticks;
		uint16_t status = r->status;
		if (tsc > now || tsc < inst->born_tsc)
			continue;
		struct sure_host_record *h = &out[n++];
		h->age_ns = ticks_ns(now - tsc, hz);
		h->duration_ns = ticks_ns(ticks < now - inst->born_tsc ? ticks : now - inst->born_tsc, hz);
		for (int b = 0; b < 16; b++)
			h->trace_id[b] = r->trace_id[b];
		for (int b = 0; b < 8; b++)
			h->span_id[b] = r->span_id[b];
		h->status = status >= 100 && status <= 599 ? status : 0;
		h->reason = r->reason <= SURE_REASON_FAILED ? r->reason : 0;
		memset(h->pad, 0, sizeof(h->pad));
	}
	return (int)n;
}

SURE_API int sure_instance_set_trace(struct sure_instance *inst, const uint8_t *trace)
{
	if (!inst || !trace)
		return -EINVAL;
	struct sure_trace *t = &inst->next_trace; /* posted with the next request */
	memcpy(t->trace_id, trace, 16);
	memcpy(t->parent_id, trace + 16, 8);
	t->flags = trace[24];
	return 0;
}

SURE_API int sure_instance_resp_reason(struct sure_instance *inst)
{
	if (!inst)
		return -EINVAL;
	uint32_t r = inst->ch.ans.reason; /* the copy taken with the answer */
	return r <= SURE_REASON_WITHDRAWN ? (int)r : 0;
}

SURE_API int sure_instance_resp_rc(struct sure_instance *inst)
{
	if (!inst)
		return 0;
	/* Any int is a valid answer: the host only prints it. */
	return inst->ch.ans.rc;
}

void sure_sidecar_init(struct sure_instance *inst)
{
	static const uint64_t bounds_ns[SURE_LAT_NBOUNDS] = { SURE_LAT_BOUNDS_NS };
	struct sure_sidecar *sc = page(inst);
	uint64_t hz = tsc_hz(inst);

	/* The histogram's fixed bounds in this machine's ticks: the guest compares, never divides. */
	for (int i = 0; i < SURE_LAT_NBOUNDS; i++)
		sc->lat_bound_ticks[i] = (uint64_t)((unsigned __int128)bounds_ns[i] * hz / 1000000000u);
}

_Static_assert(sizeof(struct sure_trace) >= TRACE_BYTES, "trace context layout");
_Static_assert(sizeof(struct sure_sidecar) <= SURE_PAGE_SIZE, "the sidecar page is one page");
_Static_assert(sizeof(struct sure_host_record) == 48, "host record layout (ffi/sidecar.ts)");
