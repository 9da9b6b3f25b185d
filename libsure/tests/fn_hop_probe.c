/*
 * fn_hop_probe.c - the function of bench_chain_latency: both steps of a
 * 2-step chain run it on a struct hop_probe at the start of the body, in
 * place. The first stamps the TSC as its handler returns; the second reads it
 * as its handler starts and writes the difference: one hand-off as a function
 * sees it (the first's gate pushing the descriptor, the second finding it,
 * checking it and entering its handler). Guest TSCs read the host's (offset
 * 0, cpu.c's sync_tsc), so stamps from two VMs compare.
 */
#include <sure.h>
#include <stdint.h>

struct hop_probe {
	uint64_t sent; /* TSC as step 0's handler returned */
	uint64_t hop; /* TSC ticks from there to step 1's handler */
	uint32_t steps; /* handlers that ran */
	uint32_t pad;
};

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

int handle(sure_req *req)
{
	uint64_t now = tsc();

	if (req->len < sizeof(struct hop_probe))
		return sure_inplace(req, req->len);
	/* The body is this request's buffer in the pool: the steps may write it. */
	struct hop_probe *p = (struct hop_probe *)(uintptr_t)req->body;
	if (p->steps++ == 0) {
		int rc = sure_inplace(req, req->len);
		p->sent = tsc();
		return rc;
	}
	p->hop = now - p->sent;
	return sure_inplace(req, req->len);
}
