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

/* The guest's TSC rate as the host measured it (1 GHz if KVM did not say). */
static uint64_t tsc_hz(struct sure_instance *inst)
{
	return inst->ctrl->tsc_hz ? inst->ctrl->tsc_hz : 1000000000ull;
}

SURE_API int sure_instance_set_sidecar(struct sure_instance *inst, uint32_t enabled,
				       uint32_t max_inflight, uint32_t rate_per_sec,
				       uint32_t rate_burst, uint32_t deadline_ms)
{
	if (!inst)
		return -EINVAL;
	struct sure_sidecar *sc = page(inst);
	uint64_t hz = tsc_hz(inst);

	sc->max_inflight = max_inflight;
	sc->rate_per_sec = rate_per_sec;
	sc->rate_burst = rate_burst ? rate_burst : 1;
	sc->deadline_ticks = deadline_ms ? hz / 1000 * deadline_ms : 0;
	/* Release: a guest that sees enabled also sees the limits. */
	sure_store(&sc->enabled, enabled ? 1u : 0u);
	return 0;
}

/* TSC ticks to nanoseconds at hz (never 0 here). */
static uint64_t ticks_ns(uint64_t ticks, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)ticks * 1000000000u / hz);
}

SURE_API int sure_instance_sidecar_stats(struct sure_instance *inst,
					 struct sure_sidecar_counters *out, size_t size)
{
	if (!inst || !out || size != sizeof(*out))
		return -EINVAL;
	const volatile struct sure_sidecar *sc = page(inst);
	uint64_t hz = tsc_hz(inst);

	*out = (struct sure_sidecar_counters){
		.requests = sc->requests,
		.admitted = sc->admitted,
		.rejected_rate = sc->rejected_rate,
		.rejected_inflight = sc->rejected_inflight,
		.deadline_missed = sc->deadline_missed,
		.policy_denied = sc->policy_denied,
		.status_4xx = sc->status_4xx,
		.status_5xx = sc->status_5xx,
		.queue_depth = sc->queue_depth,
		.max_queue_depth = sc->max_queue_depth,
		.handler_ns = ticks_ns(sc->handler_ticks, hz),
		.sidecar_ns = ticks_ns(sc->sidecar_ticks, hz),
	};
	for (int i = 0; i < SURE_LAT_BUCKETS; i++)
		out->latency_hist[i] = sc->latency_hist[i];
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

	/* The guest may be writing the newest one: skip a record whose time is ahead. */
	for (uint64_t i = 0; i < SURE_REQ_RECORDS && i < written && n < max; i++) {
		const volatile struct sure_req_record *r =
			&sc->rec[(written - 1 - i) % SURE_REQ_RECORDS];
		uint64_t tsc = r->tsc, ticks = r->ticks;
		if (tsc > now)
			continue;
		struct sure_host_record *h = &out[n++];
		h->age_ns = ticks_ns(now - tsc, hz);
		h->duration_ns = ticks_ns(ticks, hz);
		for (int b = 0; b < 16; b++)
			h->trace_id[b] = r->trace_id[b];
		for (int b = 0; b < 8; b++)
			h->span_id[b] = r->span_id[b];
		h->status = r->status;
		h->reason = r->reason <= SURE_REASON_FAILED ? r->reason : 0;
		memset(h->pad, 0, sizeof(h->pad));
	}
	return (int)n;
}

SURE_API int sure_instance_set_trace(struct sure_instance *inst, const uint8_t *trace)
{
	if (!inst || !trace)
		return -EINVAL;
	struct sure_ctrl *c = inst->ctrl;
	memcpy(c->req_trace.trace_id, trace, 16);
	memcpy(c->req_trace.parent_id, trace + 16, 8);
	c->req_trace.flags = trace[24];
	return 0;
}

SURE_API int sure_instance_resp_reason(struct sure_instance *inst)
{
	if (!inst)
		return -EINVAL;
	uint32_t r = __atomic_load_n(&inst->ctrl->resp_reason, __ATOMIC_RELAXED);
	return r <= SURE_REASON_FAILED ? (int)r : 0;
}

SURE_API int sure_instance_resp_rc(struct sure_instance *inst)
{
	if (!inst)
		return 0;
	/* Any int is a valid answer: the host only prints it. */
	return __atomic_load_n(&inst->ctrl->resp_rc, __ATOMIC_RELAXED);
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

/* Before each request: when the node took it (the guest's deadline clock). */
void sure_sidecar_stamp(struct sure_instance *inst)
{
	inst->ctrl->req_tsc = __rdtsc();
}

_Static_assert(sizeof(struct sure_trace) >= TRACE_BYTES, "trace context layout");
_Static_assert(sizeof(struct sure_sidecar) <= SURE_PAGE_SIZE, "the sidecar page is one page");
_Static_assert(sizeof(struct sure_host_record) == 48, "host record layout (ffi/sidecar.ts)");
