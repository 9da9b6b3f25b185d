/*
 * chain.c - the request loop of an instance that is one step of a chain.
 * Descriptors arrive on this step's incoming rings in the chain's pool; the
 * function runs on the request's buffer where it lies; the descriptor moves on
 * to the next step's ring (or the gateway's). No byte is copied and, while
 * requests keep coming, no VM exit happens. The rings, node pages, the
 * chain's table and the capabilities are the gate's (libsure/gate/
 * gate_chain.c: SURE_GATE_CHAIN_*), not this image's: it only learns where
 * the request it is given lies, and tells the gate what the handler made of
 * it.
 */
#include "exit.h"
#include "sg.h"
#include "sg_chain.h"

#define SPIN_US 50
#define TSC_HZ_GUESS 3000000000ull

int sg_chain_mode;

int sg_chain_next(sure_req *req, const char *name)
{
	if (!sg_chain_mode || !req || !name)
		return -1;
	int64_t to = (int64_t)sg_gate(SURE_GATE_CHAIN_NEXT, (uint64_t)(uintptr_t)name, 0);
	if (to >= 0) {
		req->sg_next = (int)to;
		return 0;
	}
	if (to == -2)
		sure_log("policy: %s may not hand off to %s", sg_gstate()->step_name, name);
	return -1;
}

const char *sg_chain_step_name(void)
{
	return sg_chain_mode ? sg_gstate()->step_name : "";
}

/* One request the gate gave: run the handler, give the outcome back. */
static void run(const struct sure_gate_take *t)
{
	sure_req req = {
		.body = (uint8_t *)(uintptr_t)t->body,
		.len = t->len,
		.out = (uint8_t *)(uintptr_t)t->out,
		.out_cap = t->out_cap,
		.status = (int)t->status,
		.sg_next = -1,
		.sg_head = (const void *)(uintptr_t)t->head,
		.sg_resp_head = (void *)(uintptr_t)t->resp_head,
	};
	uint64_t t0 = sg_rdtsc();
	int rc = handle(&req);
	uint64_t spent = sg_rdtsc() - t0;
	sg_flush_stdio();
	struct sure_gate_give g = {
		.len = req.len,
		.out_len = req.out_len,
		.handler_ticks = spent,
		.rc = rc,
		.status = (uint32_t)req.status,
		.inplace = (uint32_t)req.sg_inplace,
		.next = req.sg_next,
	};
	sg_gate(SURE_GATE_CHAIN_GIVE, (uint64_t)(uintptr_t)&g, 0);
}

/* Everything waiting: 1 if there was anything. */
static int poll_all(void)
{
	struct sure_gate_take t;
	int any = 0;

	for (;;) {
		uint64_t got = sg_gate(SURE_GATE_CHAIN_TAKE, (uint64_t)(uintptr_t)&t, 0);
		if (got == 1)
			run(&t);
		else if (got != 2)
			return any;
		any = 1;
	}
}

__attribute__((noreturn)) void sg_serve_chain(void)
{
	struct sure_ctrl *c = sg_ctrl();
	uint64_t hz = c->tsc_hz ? c->tsc_hz : TSC_HZ_GUESS;
	uint32_t spin_us = SPIN_US; /* the last spin_us seen, and its ticks */
	uint64_t spin_ticks = hz / 1000000 * SPIN_US;

	for (;;) {
		uint64_t idle_since = sg_rdtsc();

		for (;;) {
			if (poll_all()) {
				idle_since = sg_rdtsc();
				continue;
			}
			/* The host may turn latency mode on or off at any time. */
			uint32_t us = sg_load(&c->spin_us);
			if (us == SURE_SPIN_FOREVER) {
				sg_pause();
				continue;
			}
			uint32_t want = us ? us : SPIN_US;
			if (want != spin_us) { /* changed: one division, not one per look */
				spin_us = want;
				spin_ticks = hz / 1000000 * want;
			}
			if (sg_rdtsc() - idle_since >= spin_ticks)
				break;
			sg_pause();
		}
		/* The gate marks this step asleep and looks once more (producers
		 * publish, fence, then look at the flag). */
		if (sg_gate(SURE_GATE_CHAIN_SLEEP, 1, 0) == 0)
			sg_doorbell(SURE_DOORBELL_SLEEP, 0);
		sg_gate(SURE_GATE_CHAIN_SLEEP, 0, 0);
	}
}

int sg_chain_init(void)
{
	struct sure_ctrl *c = sg_ctrl();

	if (c->chain_meta_gva == 0)
		return 0;
	if (sg_gate(SURE_GATE_CHAIN_INIT, 0, 0) != 0)
		return -1;
	sg_chain_mode = 1;
	return 0;
}
