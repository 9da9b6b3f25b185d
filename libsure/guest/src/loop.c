/*
 * loop.c - the request loop: wait for a new req_seq (spin, then sleep via the
 * SLEEP doorbell), then run handle() on every request posted since the last
 * one answered, in order (the host may post up to io_slots at once: a burst
 * is served in one wake-up), publish each answer, and ring NOTIFY only when
 * the host sleeps on it; one the host withdrew is answered without running
 * (another instance serves it). The fast path has no VM exit at all.
 */
#include "exit.h"
#include "sg.h"
#include "sg_sidecar.h"

#define SPIN_US 50 /* spin this long before sleeping: a warm caller pays no exit */
#define TSC_HZ_GUESS 3000000000ull /* used when the host does not know the TSC rate */
#define TSC_HZ_MAX 20000000000ull /* anything above is a host bug: use the guess */
#define SPIN_CHECK_EVERY 32 /* reads of req_seq between two rdtsc */

static uint64_t spin_ticks;

static void set_state(struct sure_ctrl *c, uint32_t state)
{
	__atomic_store_n(&c->guest_state, state, __ATOMIC_RELAXED);
}

/* Returns the first req_seq different from seen. */
static uint32_t wait_request(struct sure_ctrl *c, uint32_t seen)
{
	for (;;) {
		uint64_t start = sg_rdtsc();
		uint32_t seq;

		do {
			for (int i = 0; i < SPIN_CHECK_EVERY; i++) {
				seq = sg_load(&c->req_seq);
				if (seq != seen)
					return seq;
				sg_pause();
			}
		} while (sg_rdtsc() - start < spin_ticks);

		/* Dekker with the host's begin: we publish SLEEPING, fence, re-read
		 * req_seq; it stores req_seq, fences, reads our state. */
		set_state(c, SURE_GUEST_SLEEPING);
		sg_fence();
		seq = sg_load(&c->req_seq);
		if (seq == seen)
			/* The host resumes us after req_seq moved past seen (or spuriously:
			 * the loop re-checks). */
			sg_doorbell(SURE_DOORBELL_SLEEP, seen);
		set_state(c, SURE_GUEST_IDLE);
		if (seq != seen)
			return seq;
	}
}

static int status_ok(int status)
{
	return status >= 100 && status <= 599;
}

/* Request n's areas, as the host placed it (a slot it does not have is
 * slot 0: the host's own bug, kept inside this instance's memory). */
static sure_req request_at(struct sure_ctrl *c, const struct sure_io_req *e)
{
	uint32_t cap = c->io_cap;
	uint64_t base = (uint64_t)(e->slot < c->io_slots ? e->slot : 0) * SURE_IO_BYTES(cap);
	uint32_t len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	sure_req req = {
		.body = (const uint8_t *)(uintptr_t)(c->req_gva + base),
		.len = len < cap ? len : cap, /* never read past the request area */
		.out = (uint8_t *)(uintptr_t)(c->resp_gva + base),
		.out_cap = cap,
		.out_len = 0,
		.status = 200,
		.sg_next = -1,
		.sg_head = (const void *)(uintptr_t)(c->req_head_gva + base),
		.sg_resp_head = (void *)(uintptr_t)(c->resp_head_gva + base),
	};
	return req;
}

/* Request n is answered (its fields in io_resp are set): tell the host. */
static void publish(struct sure_ctrl *c, uint32_t n)
{
	/* Release: the host that sees resp_seq also sees the response. */
	sg_store(&c->resp_seq, n);
	/* Dekker with the host's wait: it sets host_waiting, fences, reads
	 * resp_seq; we set resp_seq, fence, read host_waiting. */
	sg_fence();
	if (sg_load(&c->host_waiting) == 1)
		sg_doorbell(SURE_DOORBELL_NOTIFY, 1);
}

/* The host withdrew request n before it began (Dekker with the host's
 * sure_channel_withdraw, see sure_abi.h): say we begin it, fence, look. */
static int withdrawn(struct sure_ctrl *c, uint32_t n)
{
	sg_store(&c->started_seq, n);
	sg_fence();
	return sg_load(&c->io_withdrawn[n % SURE_IO_QUEUE_MAX]) != 0;
}

/* Runs request n; `behind`: requests posted after it, waiting here. */
static void handle_one(struct sure_ctrl *c, uint32_t n, uint32_t behind)
{
	const struct sure_io_req *e = &c->io_req[n % SURE_IO_QUEUE_MAX];
	struct sure_io_resp *out = &c->io_resp[n % SURE_IO_QUEUE_MAX];
	uint32_t cap = c->io_cap;

	if (withdrawn(c, n)) {
		/* Another instance serves it: no run, no accounting. */
		__atomic_store_n(&out->reason, SURE_REASON_WITHDRAWN, __ATOMIC_RELAXED);
		__atomic_store_n(&out->rc, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&out->len, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&out->status, 0, __ATOMIC_RELAXED);
		publish(c, n);
		return;
	}
	sure_req req = request_at(c, e);

	set_state(c, SURE_GUEST_BUSY);
	sg_trace_enter(&e->trace);
	uint32_t reason = sg_sidecar_admit(e->tsc, behind);
	uint64_t spent = 0;
	int rc = 0;

	sg_resp_head_reset(req.sg_resp_head);
	if (reason == SURE_REASON_HANDLER) {
		uint64_t t0 = sg_rdtsc();
		rc = handle(&req);
		spent = sg_rdtsc() - t0;
		sg_flush_stdio();
	} else {
		req.status = sg_sidecar_status(reason);
	}
	/* A failed handler's output and status are dropped: the host answers 500
	 * naming rc, and this instance keeps serving. */
	if (rc != 0) {
		reason = SURE_REASON_FAILED;
		req.out_len = 0;
		req.status = 500;
		sg_resp_head_reset(req.sg_resp_head);
	}
	/* The handler may have scribbled on req: answer 500 rather than hand the
	 * host a length it would reject as a protocol error. */
	if (req.out_len > cap) {
		sure_log("handler set out_len %zu > out_cap %u: answering 500", req.out_len, cap);
		req.out_len = 0;
		req.status = 500;
	}
	if (!status_ok(req.status)) {
		sure_log("handler set status %d: answering 500", req.status);
		req.status = 500;
	}

	if (reason == SURE_REASON_HANDLER || reason == SURE_REASON_FAILED)
		sg_sidecar_done(spent, req.status);
	sg_sidecar_record(spent, req.status, reason);
	__atomic_store_n(&out->reason, reason, __ATOMIC_RELAXED);
	__atomic_store_n(&out->rc, rc, __ATOMIC_RELAXED);
	__atomic_store_n(&out->len, (uint32_t)req.out_len, __ATOMIC_RELAXED);
	__atomic_store_n(&out->status, req.status, __ATOMIC_RELAXED);
	__atomic_store_n(&c->requests, c->requests + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->busy_tsc, c->busy_tsc + spent, __ATOMIC_RELAXED);
	set_state(c, SURE_GUEST_IDLE);
	publish(c, n);
}

__attribute__((noreturn)) void sg_serve(void)
{
	struct sure_ctrl *c = sg_ctrl();
	uint64_t hz = c->tsc_hz;

	if (hz == 0 || hz > TSC_HZ_MAX)
		hz = TSC_HZ_GUESS;
	spin_ticks = hz / 1000000 * SPIN_US;
	/* resp_seq is the last request answered (0 before the first), so a request
	 * posted before we got here is still seen as new. */
	uint32_t seen = c->resp_seq;

	for (;;) {
		uint32_t posted = wait_request(c, seen);
		/* Every request up to the last posted, then a look for more before
		 * waiting: a busy host keeps this loop out of wait_request. */
		while (posted != seen) {
			seen++;
			handle_one(c, seen, posted - seen);
			if (posted == seen)
				posted = sg_load(&c->req_seq);
		}
	}
}
