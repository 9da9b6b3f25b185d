/*
 * bench_chain_guard.c - what unforgeable chain control costs without a VM:
 * the capability check every step makes on every descriptor it receives
 * (sure_cap_check, SipHash-2-4), against a plain 64-bit compare of the same
 * descriptor field (the baseline: what a check without a one-way function
 * would cost), in the same run; and the host's holder scan, which runs only
 * on rare events (a step's death, a timeout), on a 3-step chain whose rings
 * are full. And what holding each step's own limits at the host costs: the
 * admission every request takes on entering a chain (sure_chain_admit, three
 * steps with rate and concurrency limits) against the same call on a chain
 * whose steps have none (its two locks alone), and one scan for requests
 * queued past a step's deadline (every 2 ms while a step has one). Prints ns
 * per operation and the ratio. Needs no KVM.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "instance.h"

#define CHECKS 10000000u
#define ROUNDS 5

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double best_of(double (*fn)(void))
{
	double best = 1e18;

	for (int r = 0; r < ROUNDS; r++) {
		double v = fn();
		best = v < best ? v : best;
	}
	return best;
}

static volatile uint64_t sink;

static double cap_checks(void)
{
	uint64_t cap[2] = { 0x0123456789abcdefull, 0xfedcba9876543210ull }, acc = 0;
	double t0 = now_ns();

	for (uint32_t i = 0; i < CHECKS; i++) {
		cap[0] ^= i; /* a different descriptor each time */
		acc += sure_cap_check(cap, i & 1023, (uint16_t)i);
	}
	sink = acc;
	return (now_ns() - t0) / CHECKS;
}

static double plain_compares(void)
{
	volatile uint64_t field = 42;
	uint64_t acc = 0;
	double t0 = now_ns();

	for (uint32_t i = 0; i < CHECKS; i++)
		acc += field == (uint64_t)i;
	sink = acc;
	return (now_ns() - t0) / CHECKS;
}

static struct sure_chain *chain;
static uint32_t probe_slot;
static struct sure_chain *small;
static struct sure_instance stand_in[3];

static double admissions(void)
{
	uint32_t step;
	double t0 = now_ns();

	for (uint32_t i = 0; i < CHECKS / 10; i++)
		sink += (uint64_t)sure_chain_admit(small, &step);
	return (now_ns() - t0) / (CHECKS / 10);
}

static double deadline_scans(void)
{
	double t0 = now_ns();

	for (int i = 0; i < 100; i++) {
		chain->next_deadline_scan = 0; /* due every time */
		sure_chain_expire_waiting(chain);
	}
	return (now_ns() - t0) / 100;
}

static double holder_scans(void)
{
	double t0 = now_ns();

	for (int i = 0; i < 100; i++)
		sink += (uint64_t)sure_chain_locate(chain, probe_slot);
	return (now_ns() - t0) / 100;
}

int main(void)
{
	char names[SURE_CHAIN_MAX_STEPS * SURE_STEP_NAME] = { 0 };
	uint8_t routes[SURE_CHAIN_MAX_STEPS * SURE_NODES] = { 0 };
	uint16_t next[3] = { 1, 2, SURE_NODE_GW };
	char err[128];
	uint64_t off;

	double cap = best_of(cap_checks), plain = best_of(plain_compares);
	printf("capability check per descriptor: %.1f ns (a plain compare: %.2f ns; +%.1f ns, "
	       "%.0fx)\n",
	       cap, plain, cap - plain, cap / plain);

	for (int i = 0; i < 3; i++)
		snprintf(names + i * SURE_STEP_NAME, SURE_STEP_NAME, "s%d", i);
	routes[0 * SURE_NODES + 1] = routes[1 * SURE_NODES + 2] = 1;
	if (sure_chain_create(3, names, routes, next, 2048, 4096, 1024, &chain, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "sure_chain_create: %s\n", err);
		return 1;
	}
	/* Every slot in flight and every ring full of descriptors. */
	for (uint32_t s = 0; s < 1024; s++) {
		uint32_t slot;
		if (sure_chain_alloc(chain, 1, &slot, &off) < 0 ||
		    sure_chain_submit(chain, slot, (const uint8_t *)"x", 1, NULL) < 0)
			break;
		probe_slot = slot;
	}
	double scan = best_of(holder_scans);
	printf("holder scan (3 steps, 6 rings of 1024, on a step's death or a timeout only): "
	       "%.0f us\n",
	       scan / 1000);

	/* Admission: one request in flight on a chain of 64 slots. */
	uint32_t one;
	if (sure_chain_create(3, names, routes, next, 128, 4096, 64, &small, err, sizeof(err)) < 0 ||
	    sure_chain_alloc(small, 1, &one, &off) < 0) {
		fprintf(stderr, "sure_chain_create: %s\n", err);
		return 1;
	}
	double bare = best_of(admissions);
	for (int i = 0; i < 3; i++) {
		stand_in[i].tsc_hz = 1000000000ull;
		stand_in[i].rate.per_sec = 1000000000u; /* never refused: the cost of the check */
		stand_in[i].rate.burst = 1000000000u;
		stand_in[i].max_inflight = 1000;
		small->seat[i].inst = &stand_in[i];
	}
	double limited = best_of(admissions);
	printf("admission per request (3 steps with rate and concurrency limits): %.1f ns (no "
	       "limits: %.1f ns; +%.1f ns, %.2fx)\n",
	       limited, bare, limited - bare, limited / bare);
	/* Deadlines: every step has one, nothing has waited that long, all rings full. */
	for (int i = 0; i < 3; i++) {
		chain->seat[i].deadline_ms = 1000000;
		chain->seat[i].tsc_hz = 1000000000ull;
	}
	chain->deadlines = 1;
	double dl = best_of(deadline_scans);
	printf("deadline scan (3 steps, full rings; every 2 ms while a step has a deadline): %.1f us "
	       "(%.1f%% of a CPU)\n",
	       dl / 1000, dl / 2e6 * 100);
	for (int i = 0; i < 3; i++)
		small->seat[i].inst = NULL;
	return 0;
}
