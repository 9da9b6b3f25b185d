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

SURE_API int sure_instance_set_sidecar(struct sure_instance *inst, uint32_t enabled,
				       uint32_t max_inflight, uint32_t rate_per_sec,
				       uint32_t rate_burst, uint32_t deadline_ms)
{
	if (!inst)
		return -EINVAL;
	struct sure_sidecar *sc = page(inst);
	uint64_t hz = inst->ctrl->tsc_hz ? inst->ctrl->tsc_hz : 1000000000ull;

	sc->max_inflight = max_inflight;
	sc->rate_per_sec = rate_per_sec;
	sc->rate_burst = rate_burst ? rate_burst : 1;
	sc->deadline_ticks = deadline_ms ? hz / 1000 * deadline_ms : 0;
	/* Release: a guest that sees enabled also sees the limits. */
	sure_store(&sc->enabled, enabled ? 1u : 0u);
	return 0;
}

SURE_API int sure_instance_sidecar_stats(struct sure_instance *inst, uint64_t *out, uint32_t n)
{
	uint64_t v[SURE_SIDECAR_STATS];

	if (!inst || !out)
		return -EINVAL;
	const volatile struct sure_sidecar *sc = page(inst);
	v[0] = sc->requests;
	v[1] = sc->admitted;
	v[2] = sc->rejected_rate;
	v[3] = sc->rejected_inflight;
	v[4] = sc->deadline_missed;
	v[5] = sc->policy_denied;
	v[6] = sc->status_4xx;
	v[7] = sc->status_5xx;
	v[8] = sc->queue_depth;
	v[9] = sc->max_queue_depth;
	v[10] = sc->handler_ticks;
	v[11] = sc->sidecar_ticks;
	v[12] = inst->ctrl->tsc_hz;
	for (int i = 0; i < SURE_LAT_BUCKETS; i++)
		v[13 + i] = sc->latency_hist[i];
	if (n > SURE_SIDECAR_STATS)
		n = SURE_SIDECAR_STATS;
	memcpy(out, v, n * sizeof(v[0]));
	return (int)n;
}

SURE_API int sure_instance_sidecar_records(struct sure_instance *inst,
					   struct sure_host_record *out, uint32_t max)
{
	if (!inst || (!out && max))
		return -EINVAL;
	const volatile struct sure_sidecar *sc = page(inst);
	uint64_t hz = inst->ctrl->tsc_hz ? inst->ctrl->tsc_hz : 1000000000ull;
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
		h->age_ns = (uint64_t)((unsigned __int128)(now - tsc) * 1000000000u / hz);
		h->duration_ns = (uint64_t)((unsigned __int128)ticks * 1000000000u / hz);
		for (int b = 0; b < 16; b++)
			h->trace_id[b] = r->trace_id[b];
		for (int b = 0; b < 8; b++)
			h->span_id[b] = r->span_id[b];
		h->status = r->status;
		h->reason = r->reason <= SURE_REASON_DEADLINE ? r->reason : 0;
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
	return r <= SURE_REASON_DEADLINE ? (int)r : 0;
}

/* Before each request: when the node took it (the guest's deadline clock). */
void sure_sidecar_stamp(struct sure_instance *inst)
{
	inst->ctrl->req_tsc = __rdtsc();
}

_Static_assert(sizeof(struct sure_trace) >= TRACE_BYTES, "trace context layout");
_Static_assert(sizeof(struct sure_sidecar) <= SURE_PAGE_SIZE, "the sidecar page is one page");
_Static_assert(sizeof(struct sure_host_record) == 48, "host record layout (ffi/sidecar.ts)");
