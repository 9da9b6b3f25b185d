/*
 * sidecar.c - the library sidecar: what a proxy next to each function does
 * (Knative's queue-proxy), done inside the instance on the request path,
 * with no extra process, no extra hop and no VM exit.
 *
 * Admission: a per-request deadline (a request that waited longer than the
 * function's deadline is answered 504 without running), a concurrency limit
 * (requests queued at this instance + the running one) and a token-bucket
 * rate limit (GCRA on the TSC), both answered 429. Accounting: counts by
 * outcome and status class, handler latency histogram, queue depth, and the
 * sidecar's own cost, all in the sidecar page the host reads without exits.
 * Tracing: the W3C trace context of each request, and a fresh span id for
 * this hop that becomes the next hop's parent.
 */
#include "sg.h"
#include "sg_sidecar.h"

static uint64_t tat; /* GCRA: theoretical arrival time of the next request */
static uint64_t span_counter;
static uint64_t my_span;
static char traceparent[56]; /* "00-" 32 hex "-" 16 hex "-" 2 hex + NUL */
static char span_hex[17];
static struct sure_trace current; /* the request's context, for its record */
static uint64_t hz = 3000000000ull;

static struct sure_sidecar *page(void)
{
	return (struct sure_sidecar *)(uintptr_t)SURE_SIDECAR_GPA;
}

void sg_sidecar_init(uint64_t tsc_hz)
{
	if (tsc_hz)
		hz = tsc_hz;
}

static int take_token(const struct sure_sidecar *sc, uint64_t now)
{
	uint64_t interval = hz / sc->rate_per_sec;
	uint64_t burst = sc->rate_burst ? sc->rate_burst : 1;
	uint64_t tolerance = (burst - 1) * interval;

	if (tat > now + tolerance)
		return 0;
	tat = (tat > now ? tat : now) + interval;
	return 1;
}

uint32_t sg_sidecar_admit(uint64_t start_tsc, uint64_t queued)
{
	struct sure_sidecar *sc = page();
	uint32_t reason = SURE_REASON_HANDLER;

	if (!sc->enabled)
		return reason;
	uint64_t t0 = sg_rdtsc();
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
	sc->sidecar_ticks += sg_rdtsc() - t0;
	return reason;
}

int sg_sidecar_status(uint32_t reason)
{
	return reason == SURE_REASON_DEADLINE ? 504 : 429;
}

void sg_sidecar_record(uint64_t handler_ticks, int status, uint32_t reason)
{
	struct sure_sidecar *sc = page();

	if (!sc->enabled)
		return;
	uint64_t t0 = sg_rdtsc();
	uint64_t n = sc->records_written;
	struct sure_req_record *r = &sc->rec[n % SURE_REQ_RECORDS];
	r->tsc = t0 - handler_ticks;
	r->ticks = handler_ticks;
	memcpy(r->trace_id, current.trace_id, 16);
	memcpy(r->span_id, &my_span, 8);
	r->status = (uint16_t)status;
	r->reason = (uint8_t)reason;
	sc->records_written = n + 1;
	sc->sidecar_ticks += sg_rdtsc() - t0;
}

void sg_sidecar_done(uint64_t handler_ticks, int status)
{
	struct sure_sidecar *sc = page();

	if (!sc->enabled)
		return;
	uint64_t t0 = sg_rdtsc();
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
	sc->sidecar_ticks += sg_rdtsc() - t0;
}

void sg_sidecar_policy_denied(void)
{
	page()->policy_denied++;
}

static void hex(char *out, const uint8_t *b, int n)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

/* splitmix64: distinct, well-spread span ids from the instance's seed. */
static uint64_t next_span(void)
{
	uint64_t z = sg_ctrl()->instance_seed + ++span_counter * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

void sg_trace_enter(const struct sure_trace *in)
{
	uint8_t any = 0;

	for (int i = 0; i < 16; i++)
		any |= in->trace_id[i];
	current = *in;
	if (!any) {
		traceparent[0] = 0;
		span_hex[0] = 0;
		my_span = 0;
		return;
	}
	memcpy(traceparent, "00-", 3);
	hex(traceparent + 3, in->trace_id, 16);
	traceparent[35] = '-';
	hex(traceparent + 36, in->parent_id, 8);
	traceparent[52] = '-';
	hex(traceparent + 53, &in->flags, 1);
	traceparent[55] = 0;
	my_span = next_span();
	hex(span_hex, (const uint8_t *)&my_span, 8);
	span_hex[16] = 0;
}

void sg_trace_pass(struct sure_trace *out)
{
	if (traceparent[0])
		memcpy(out->parent_id, &my_span, 8);
}

const char *sure_traceparent(void)
{
	return traceparent;
}

const char *sure_trace_span(void)
{
	return span_hex;
}
