/*
 * gate_sidecar.c - the library sidecar: what a proxy next to each function
 * does (Knative's queue-proxy), done inside the instance on the request path,
 * with no extra process, no extra hop and no VM exit.
 *
 * Admission: a per-request deadline (a request that waited longer than the
 * function's deadline is answered 504 without running), a concurrency limit
 * (requests queued at this instance + the running one) and a token-bucket
 * rate limit (GCRA on the TSC), both answered 429. Accounting: counts by
 * outcome and status class, handler latency histogram, queue depth, and the
 * sidecar's own cost, all in the sidecar page the host reads without exits.
 *
 * It runs in the gate: where the vCPU has PKU, the sidecar page and this
 * state are closed to the function, so a function cannot lift its own limits
 * or rewrite what it reported. The host enforces the limits and bounds the
 * counters anyway (src/sidecar.c), for hosts without PKU.
 */
#include "gate.h"

static uint64_t tat; /* GCRA: theoretical arrival time of the next request */

static uint64_t hz(void)
{
	uint64_t h = gate_state()->tsc_hz;

	return h ? h : 3000000000ull;
}

static int take_token(const struct sure_sidecar *sc, uint64_t now)
{
	uint64_t interval = hz() / sc->rate_per_sec;
	uint64_t burst = sc->rate_burst ? sc->rate_burst : 1;
	uint64_t tolerance = (burst - 1) * interval;

	if (tat > now + tolerance)
		return 0;
	tat = (tat > now ? tat : now) + interval;
	return 1;
}

uint64_t gate_admit(uint64_t start_tsc, uint64_t queued)
{
	struct sure_sidecar *sc = gate_sidecar();
	uint32_t reason = SURE_REASON_HANDLER;

	if (!sc->enabled)
		return reason;
	uint64_t t0 = gate_rdtsc();
	sc->requests++;
	sc->queue_depth = queued;
	if (queued > sc->max_queue_depth)
		sc->max_queue_depth = queued;
	if (sc->deadline_ticks && start_tsc && t0 > start_tsc &&
	    t0 - start_tsc > sc->deadline_ticks) {
		reason = SURE_REASON_DEADLINE;
		sc->deadline_missed++;
	} else if (sc->max_inflight && queued + 1 > sc->max_inflight) {
		reason = SURE_REASON_INFLIGHT;
		sc->rejected_inflight++;
	} else if (sc->rate_per_sec && !take_token(sc, t0)) {
		reason = SURE_REASON_RATE;
		sc->rejected_rate++;
	} else {
		sc->admitted++;
	}
	sc->sidecar_ticks += gate_rdtsc() - t0;
	return reason;
}

void gate_record(uint64_t handler_ticks, uint32_t status, uint32_t reason)
{
	struct sure_sidecar *sc = gate_sidecar();

	if (!sc->enabled)
		return;
	uint64_t t0 = gate_rdtsc();
	uint64_t n = sc->records_written;
	struct sure_req_record *r = &sc->rec[n % SURE_REQ_RECORDS];
	r->tsc = t0 - handler_ticks;
	r->ticks = handler_ticks;
	gate_trace_ids(r->trace_id, r->span_id);
	r->status = (uint16_t)status;
	r->reason = (uint8_t)reason;
	sc->records_written = n + 1;
	sc->sidecar_ticks += gate_rdtsc() - t0;
}

void gate_done(uint64_t handler_ticks, uint32_t status)
{
	struct sure_sidecar *sc = gate_sidecar();

	if (!sc->enabled)
		return;
	uint64_t t0 = gate_rdtsc();
	/* Binary search for the first bound >= the run time (the host wrote the
	 * bounds in ascending ticks; if it wrote none, everything is +Inf). */
	uint32_t lo = 0, hi = SURE_LAT_NBOUNDS;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (handler_ticks <= sc->lat_bound_ticks[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	sc->latency_hist[lo]++;
	sc->handler_ticks += handler_ticks;
	if (status >= 500)
		sc->status_5xx++;
	else if (status >= 400)
		sc->status_4xx++;
	sc->sidecar_ticks += gate_rdtsc() - t0;
}

void gate_policy_denied(void)
{
	gate_sidecar()->policy_denied++;
}
