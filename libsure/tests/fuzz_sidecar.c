/*
 * fuzz_sidecar.c - libFuzzer target for the host's reads of an instance's
 * sidecar page (src/sidecar.c): the counters and request records the guest
 * keeps in struct sure_sidecar, and the guest-writable control-page fields
 * that code uses (tsc_hz), and the answer's reason as the channel took it
 * from the guest (resp_reason or io_resp). The page is guest memory: every
 * number in it may be anything, at any time.
 *
 * A plain instance without a VM (fuzz_instance.h) whose guest RAM ends right
 * after the sidecar page, so ASan sees a read past it. The input is a script
 * of guest writes and host calls; the host must write only the caller's
 * buffers (exactly sized here), return counts within what was asked, hand
 * out records that are in the page (newest first), reasons and statuses
 * that exist, no age or duration past the instance's life, and counters
 * that never go back nor pass what the host knows the instance did.
 * An empty input writes a few records and reads them (the built-in seed).
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_sidecar -max_total_time=60
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "fuzz_input.h"
#include "fuzz_instance.h"
#include "libsure.h"

static struct sure_sidecar *page(struct sure_instance *inst)
{
	return (struct sure_sidecar *)(fuzz_instance_ram(inst) + SURE_SIDECAR_GPA);
}

/* The guest records a request; its time is now, a bit ago, ahead, or anything. */
static void write_record(struct sure_sidecar *sc, struct fuzz_in *in, int bump)
{
	struct sure_req_record r;
	uint64_t now = __rdtsc();

	memset(&r, 0, sizeof(r));
	switch (fin_u8(in, 0) % 4) {
	case 0:
		r.tsc = now - fin_u32(in, 1000);
		break;
	case 1:
		r.tsc = now + fin_u32(in, 0) + 1000000000ull; /* being written: ahead */
		break;
	default:
		r.tsc = fin_u64(in, now);
		break;
	}
	r.ticks = fin_u64(in, 1234);
	fin_bytes(in, r.trace_id, sizeof(r.trace_id));
	fin_bytes(in, r.span_id, sizeof(r.span_id));
	r.status = fin_u16(in, 200);
	r.reason = fin_u8(in, 0);
	fin_bytes(in, r.pad, sizeof(r.pad));
	memcpy(&sc->rec[sc->records_written % SURE_REQ_RECORDS], &r, sizeof(r));
	if (bump)
		sc->records_written++;
}

static int same_record(const struct sure_host_record *h, const struct sure_req_record *r)
{
	uint8_t reason = r->reason <= SURE_REASON_FAILED ? r->reason : 0;
	uint16_t status = r->status >= 100 && r->status <= 599 ? r->status : 0;

	return h->status == status && h->reason == reason &&
	       memcmp(h->trace_id, r->trace_id, 16) == 0 && memcmp(h->span_id, r->span_id, 8) == 0;
}

static void read_records(struct sure_instance *inst, uint32_t max)
{
	struct sure_host_record *out = max ? malloc(max * sizeof(*out)) : NULL;
	const struct sure_sidecar *sc = page(inst);
	uint64_t written = sc->records_written;
	/* Read after the records: nothing the host reports is longer than this. */
	int n = sure_instance_sidecar_records(inst, out, max);
	uint64_t lived_ns = fuzz_instance_lived_ns(inst);
	uint64_t i = 0;

	if (n < 0 || (uint32_t)n > max || n > SURE_REQ_RECORDS || (uint64_t)n > written)
		abort();
	/* Newest first, each one a record of the page (some may be skipped). */
	for (int k = 0; k < n; k++) {
		static const uint8_t zero[5];
		if (memcmp(out[k].pad, zero, sizeof(out[k].pad)) != 0 ||
		    out[k].reason > SURE_REASON_FAILED ||
		    (out[k].status && (out[k].status < 100 || out[k].status > 599)) ||
		    out[k].duration_ns > lived_ns || out[k].age_ns > lived_ns)
			abort();
		while (i < SURE_REQ_RECORDS && i < written &&
		       !same_record(&out[k], &sc->rec[(written - 1 - i) % SURE_REQ_RECORDS]))
			i++;
		if (i == SURE_REQ_RECORDS || i == written)
			abort();
		i++;
	}
	free(out);
}

/* What the host answered last: its counters may only grow from there. */
static struct sure_sidecar_counters prev;

/*
 * The counters, into a block of exactly their size (or a wrong size:
 * refused). Whatever the guest wrote, they never go back from the last read,
 * the counts and the histogram never pass the requests the host gave the
 * instance (and the one it may be running), and the time sums never pass
 * its age.
 */
static void read_stats(struct sure_instance *inst, uint8_t how)
{
	size_t size = sizeof(struct sure_sidecar_counters) - (how % 4 == 3 ? 8 : 0);
	struct sure_sidecar_counters *out = malloc(size);
	int rc = sure_instance_sidecar_stats(inst, out, size);

	if (size != sizeof(*out)) {
		if (rc != -EINVAL)
			abort();
		free(out);
		return;
	}
	uint64_t bound = inst->requests + 1, hist = 0;
	const uint64_t now[] = { out->requests, out->admitted, out->rejected_rate,
				 out->rejected_inflight, out->deadline_missed, out->policy_denied,
				 out->status_4xx, out->status_5xx };
	const uint64_t was[] = { prev.requests, prev.admitted, prev.rejected_rate,
				 prev.rejected_inflight, prev.deadline_missed, prev.policy_denied,
				 prev.status_4xx, prev.status_5xx };
	if (rc != 0)
		abort();
	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++)
		if (now[i] < was[i] || now[i] > bound)
			abort();
	for (int i = 0; i < SURE_LAT_BUCKETS; i++) {
		if (out->latency_hist[i] < prev.latency_hist[i])
			abort();
		hist += out->latency_hist[i];
	}
	if (hist > bound || out->handler_ns < prev.handler_ns || out->sidecar_ns < prev.sidecar_ns ||
	    out->queue_depth > bound || out->max_queue_depth > bound ||
	    out->max_queue_depth > inst->io_slots - 1u) /* behind the one it runs */
		abort();
	prev = *out;
	free(out);
}

static void set_limits(struct sure_instance *inst, struct fuzz_in *in)
{
	uint32_t en = fin_u32(in, 1), inflight = fin_u32(in, 4), rate = fin_u32(in, 100);
	uint32_t burst = fin_u32(in, 10), deadline = fin_u32(in, 50);
	const struct sure_sidecar *sc = page(inst);

	if (sure_instance_set_sidecar(inst, en, inflight, rate, burst, deadline) != 0)
		abort();
	if (sc->enabled != (en ? 1u : 0u) || sc->max_inflight != inflight ||
	    sc->rate_per_sec != rate || sc->rate_burst != (burst ? burst : 1u) ||
	    (deadline == 0 && sc->deadline_ticks != 0))
		abort();
}

static void run(struct sure_instance *inst, struct fuzz_in *in)
{
	struct sure_sidecar *sc = page(inst);
	uint8_t bytes[64];

	/* The seed: limits, three requests recorded, counters, everything read back. */
	inst->ctrl->tsc_hz = 2000000000ull;
	{
		struct fuzz_in none = { NULL, 0 };
		set_limits(inst, &none);
		for (int i = 0; i < 3; i++)
			write_record(sc, &none, 1);
	}
	sc->requests = sc->admitted = 3;
	inst->requests = 3;
	memset(&prev, 0, sizeof(prev));
	read_records(inst, SURE_REQ_RECORDS);
	read_stats(inst, 0);
	if (prev.requests != 3 || prev.admitted != 3)
		abort(); /* honest counts within the bound come through as they are */
	while (fin_more(in)) {
		switch (fin_u8(in, 0) % 10) {
		case 0: { /* the guest writes any bytes of its page */
			size_t off = fin_u16(in, 0) % sizeof(*sc);
			size_t n = fin_u8(in, 0) % sizeof(bytes);
			if (n > sizeof(*sc) - off)
				n = sizeof(*sc) - off;
			memset(bytes, 0, n);
			fin_bytes(in, bytes, n);
			memcpy((uint8_t *)sc + off, bytes, n);
			break;
		}
		case 1:
			write_record(sc, in, 1);
			break;
		case 2:
			write_record(sc, in, 0);
			sc->records_written = fin_u8(in, 0) % 4 ? sc->records_written + fin_u8(in, 1)
								: fin_u64(in, 0);
			break;
		case 3: /* the control page is guest memory too */
			inst->ctrl->tsc_hz = fin_u8(in, 0) % 2 ? fin_u64(in, 0) : fin_u8(in, 0);
			break;
		case 4:
			set_limits(inst, in);
			break;
		case 5:
			read_stats(inst, fin_u8(in, 0));
			break;
		case 6:
			read_records(inst, fin_u8(in, SURE_REQ_RECORDS) % (SURE_REQ_RECORDS + 8));
			break;
		case 7:
			/* an answer's reason, as the channel took it from the guest */
			inst->ch.ans.reason = fin_u32(in, 0);
			if (sure_instance_resp_reason(inst) < 0 ||
			    sure_instance_resp_reason(inst) > SURE_REASON_WITHDRAWN)
				abort();
			break;
		case 9: /* the host accepted answers */
			inst->requests += fin_u8(in, 1);
			break;
		case 8: { /* the host passes a trace context on */
			uint8_t t[25] = { 1 };
			fin_bytes(in, t, sizeof(t));
			if (sure_instance_set_trace(inst, t) != 0 ||
			    memcmp(inst->next_trace.trace_id, t, 16) != 0 ||
			    memcmp(inst->next_trace.parent_id, t + 16, 8) != 0 ||
			    inst->next_trace.flags != t[24])
				abort();
			break;
		}
		}
	}
	read_records(inst, SURE_REQ_RECORDS);
	read_stats(inst, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct sure_instance *inst = fuzz_instance_new(0, fin_u8(&in, 0) % (SURE_IO_QUEUE_MAX + 1));

	run(inst, &in);
	fuzz_instance_free(inst);
	return 0;
}
