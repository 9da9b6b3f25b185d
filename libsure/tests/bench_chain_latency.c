/*
 * bench_chain_latency.c - the latency-mode microbenchmark: one hand-off
 * between the two steps of a chain, each step's vCPU pinned to a CPU of its
 * own (all that 2 cores allow), per-hop p50/p99. The host thread that feeds
 * the chain (submits, waits for the completion) needs a CPU too, and there
 * are only the steps': it runs on step 0's, where it delays only the hand-off
 * into step 0. Measured in the same run as:
 *   - the same with that thread on step 1's CPU (where the kernel may well
 *     put it): step 1's vCPU is off its CPU while the thread runs, and
 *     getting back into the guest costs tens of us under PVM (measured: a
 *     hop p50 of ~45 us instead of ~0.5-0.9 us);
 *   - the default mode: steps sleep 50 us after their last request, so with
 *     requests 200 us apart every hand-off wakes the next step;
 *   - the floor: two host threads on the same two CPUs handing a stamp over
 *     a shared-memory ring, with no VM at all.
 * Both steps run tests/fn_hop_probe.c, which stamps the TSC as step 0's
 * handler returns and reads it as step 1's starts. Also printed: the whole
 * round trip of a request through the chain (submit to completion, three
 * hand-offs and the gateway's wake-up).
 *   libsure/build/tests/bench_chain_latency [requests per mode]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_fn.h"
#include "libsure.h"
#include "sure_chain_abi.h"

#define MEM_MIB 16
#define GAP_US 200 /* between requests: longer than a step's 50 us of polling */

struct hop_probe { /* as in fn_hop_probe.c */
	uint64_t sent;
	uint64_t hop;
	uint32_t steps;
	uint32_t pad;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

/* TSC ticks per ns, against the monotonic clock over 50 ms. */
static double tsc_per_ns(void)
{
	uint64_t t0 = now_ns(), c0 = tsc();

	while (now_ns() - t0 < 50000000ull)
		;
	return (double)(tsc() - c0) / (double)(now_ns() - t0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank, as bench/lib/wrk.ts's percentile(); v must be sorted. */
static double pct(const uint64_t *v, int n, int p)
{
	int i = (p * n + 99) / 100 - 1;

	return (double)v[i < 0 ? 0 : i];
}

struct series {
	const char *name;
	uint64_t *v; /* ns */
	int n;
	double p50, p99;
};

static void row(struct series *s)
{
	qsort(s->v, (size_t)s->n, sizeof(s->v[0]), cmp_u64);
	s->p50 = pct(s->v, s->n, 50);
	s->p99 = pct(s->v, s->n, 99);
	printf("%-58s p50 %10.3f us  p99 %10.3f us  (%d)\n", s->name, s->p50 / 1000, s->p99 / 1000,
	       s->n);
}

static void pause_us(uint64_t us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

/* This thread on CPU cpu, or (cpu < 0) anywhere. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (cpu < 0 ? c < sysconf(_SC_NPROCESSORS_ONLN) : c == cpu)
			CPU_SET(c, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- the floor: two host threads, one descriptor ring ---- */

struct host_ring {
	_Alignas(64) uint64_t head;
	_Alignas(64) uint64_t tail;
	_Alignas(64) uint64_t stamp[64];
	_Alignas(64) uint64_t delta;
	uint32_t stop;
};

static void *host_consumer(void *p)
{
	struct host_ring *r = p;
	uint64_t seen = 0;

	pin(1);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == seen) {
			__builtin_ia32_pause();
			continue;
		}
		uint64_t now = tsc();
		r->delta = now - r->stamp[seen % 64];
		__atomic_store_n(&r->tail, ++seen, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int host_floor(struct series *s, double per_ns)
{
	struct host_ring *r = aligned_alloc(64, sizeof(*r));
	pthread_t t;

	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	pin(0);
	if (pthread_create(&t, NULL, host_consumer, r) != 0) {
		free(r);
		return -EAGAIN;
	}
	for (int i = 0; i < s->n; i++) {
		r->stamp[i % 64] = tsc();
		__atomic_store_n(&r->head, (uint64_t)i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) != (uint64_t)i + 1)
			__builtin_ia32_pause();
		s->v[i] = (uint64_t)((double)r->delta / per_ns);
		uint64_t t0 = now_ns(); /* the same gap as the chain's, spent spinning */
		while (now_ns() - t0 < GAP_US * 1000ull)
			;
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	free(r);
	return 0;
}

/* ---- the chain ---- */

struct bench_chain {
	struct sure_chain *c;
	struct sure_template *t[2];
	struct sure_instance *inst[2];
};

static void chain_close(struct bench_chain *b)
{
	for (int s = 0; s < 2; s++) {
		if (b->inst[s])
			sure_instance_destroy(b->inst[s]);
		if (b->t[s])
			sure_template_destroy(b->t[s]);
	}
	if (b->c)
		sure_chain_destroy(b->c);
	memset(b, 0, sizeof(*b));
}

/* Two steps of img, step s's vCPU on CPU s. */
static int chain_open(struct bench_chain *b, const uint8_t *img, size_t len)
{
	char names[2 * SURE_STEP_NAME] = "s0";
	uint8_t routes[SURE_CHAIN_MAX_STEPS * SURE_NODES] = { 0 };
	uint16_t next[2] = { 1, SURE_NODE_GW };
	char err[256];
	int rc;

	memset(b, 0, sizeof(*b));
	snprintf(names + SURE_STEP_NAME, SURE_STEP_NAME, "s1");
	routes[0 * SURE_NODES + 1] = 1;
	rc = sure_chain_create(2, names, routes, next, 64, 4096, 16, &b->c, err, sizeof(err));
	for (int s = 0; rc == 0 && s < 2; s++) {
		uint8_t cpus[2] = { s == 0, s == 1 };
		rc = sure_chain_template_create(b->c, (uint32_t)s, img, len, MEM_MIB, 10000, NULL, 0,
						&b->t[s], err, sizeof(err));
		if (rc == 0)
			rc = sure_vcpu_cpus(cpus, 2);
		if (rc == 0)
			rc = sure_instance_clone(b->t[s], 10000, &b->inst[s], err, sizeof(err));
	}
	sure_vcpu_cpus(NULL, 0);
	if (rc < 0) {
		fprintf(stderr, "bench_chain_latency: the chain: %d %s\n", rc, err);
		chain_close(b);
	}
	return rc;
}

/* count requests gap_us apart (0: each as the last one's answer is in), into
 * [from, from + count) of the series: the hand-off between the steps, and the
 * round trip. */
static int chain_run(struct bench_chain *b, double per_ns, struct series *hop, struct series *rtt,
		     int from, int count, uint64_t gap_us)
{
	struct hop_probe p;
	struct sure_completion cp;
	uint8_t out[64];

	for (int i = from; i < from + count; i++) {
		uint32_t slot;
		uint64_t off;
		int rc = sure_chain_alloc(b->c, sizeof(p), &slot, &off);
		memset(&p, 0, sizeof(p));
		uint64_t t0 = now_ns();
		if (rc == 0)
			rc = sure_chain_submit(b->c, slot, (const uint8_t *)&p, sizeof(p), NULL);
		while (rc == 0 && (rc = sure_chain_wait(b->c, &cp, 1, 5000)) == 0)
			; /* one request in flight: its completion */
		uint64_t t1 = now_ns();
		if (rc < 0)
			return rc;
		if (cp.error != SURE_CE_OK || cp.status != 200)
			return -EIO;
		rc = sure_chain_take(b->c, cp.slot, out, sizeof(out));
		if (rc != (int)sizeof(p))
			return rc < 0 ? rc : -EIO;
		memcpy(&p, out, sizeof(p));
		if (p.steps != 2)
			return -EIO;
		hop->v[i] = (uint64_t)((double)p.hop / per_ns);
		rtt->v[i] = t1 - t0;
		if (gap_us)
			pause_us(gap_us);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	char src[PATH_MAX + 64], err[256];
	size_t len = 0;
	struct bench_chain b;
	int rc;

	if (n < 10)
		n = 10;
	if (sure_kvm_probe(err, sizeof(err)) != 0) {
		printf("bench_chain_latency: no usable KVM (%s): nothing measured\n", err);
		return 0;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("bench_chain_latency: one CPU: steps cannot each have one; nothing measured\n");
		return 0;
	}
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("bench_chain_latency setup");
		return 1;
	}
	snprintf(src, sizeof(src), "%s/tests/fn_hop_probe.c", libsure_dir);
	uint8_t *img = build_function(src, &len);
	cleanup_tmp();
	if (!img) {
		fprintf(stderr, "bench_chain_latency: could not build %s\n", src);
		return 1;
	}
	double per_ns = tsc_per_ns();
	uint64_t *v = calloc((size_t)n * 9, sizeof(uint64_t));
	struct series spin = { "latency mode: step 0 -> step 1 (both polling)", v, n, 0, 0 };
	struct series spin_rtt = { "latency mode: round trip (3 hand-offs, gateway wakes)",
				   v + n, n, 0, 0 };
	struct series crowded = { "latency mode, feeder on step 1's CPU: 0 -> 1", v + 5 * n, n,
				0, 0 };
	struct series crowded_rtt = { "latency mode, feeder on step 1's CPU: round trip", v + 6 * n, n, 0,
				    0 };
	/* Requests one after the other: what a steady stream of them meets,
	 * the steps' code and data still in their CPUs' caches and TLBs. */
	struct series steady = { "latency mode, back to back: step 0 -> step 1", v + 7 * n, n, 0, 0 };
	struct series steady_rtt = { "latency mode, back to back: round trip", v + 8 * n, n, 0, 0 };
	struct series idle = { "default mode: step 0 -> step 1 (step 1 asleep)", v + 2 * n, n, 0,
			       0 };
	struct series idle_rtt = { "default mode: round trip", v + 3 * n, n, 0, 0 };
	struct series floor = { "floor: two host threads, one ring, same CPUs", v + 4 * n, n, 0,
				0 };
	if (!v) {
		free(img);
		return 1;
	}
	printf("one hand-off between the 2 steps of a chain, each step's vCPU on a CPU of its "
	       "own; %d requests %d us apart per mode\n",
	       n, GAP_US);
	rc = chain_open(&b, img, len);
	if (rc == 0) {
		for (int s = 0; s < 2; s++)
			sure_instance_set_spin(b.inst[s], SURE_SPIN_FOREVER);
		pause_us(10000);
		/* The feeder on step 0's CPU, then on step 1's, twice: drift
		 * hits both alike. */
		for (int round = 0; rc == 0 && round < 2; round++) {
			pin(0);
			rc = chain_run(&b, per_ns, &spin, &spin_rtt, round * (n / 2), n / 2, GAP_US);
			if (rc == 0)
				rc = chain_run(&b, per_ns, &steady, &steady_rtt, round * (n / 2), n / 2, 0);
			pin(1);
			if (rc == 0)
				rc = chain_run(&b, per_ns, &crowded, &crowded_rtt, round * (n / 2), n / 2,
					       GAP_US);
		}
		pin(-1);
		for (int s = 0; rc == 0 && s < 2; s++)
			sure_instance_set_spin(b.inst[s], 0);
		pause_us(10000);
		if (rc == 0)
			rc = chain_run(&b, per_ns, &idle, &idle_rtt, 0, n, GAP_US);
		chain_close(&b);
	}
	if (rc == 0)
		rc = host_floor(&floor, per_ns);
	free(img);
	if (rc < 0) {
		fprintf(stderr, "bench_chain_latency: %s\n", strerror(-rc));
		free(v);
		return 1;
	}
	spin.n = crowded.n = spin_rtt.n = crowded_rtt.n = steady.n = steady_rtt.n = n / 2 * 2;
	row(&spin);
	row(&steady);
	row(&crowded);
	row(&idle);
	row(&floor);
	row(&spin_rtt);
	row(&steady_rtt);
	row(&crowded_rtt);
	row(&idle_rtt);
	printf("ratio latency mode, feeder on step 1's / on step 0's CPU, per hop: p50 %.1fx, p99 %.1fx\n",
	       crowded.p50 / spin.p50, crowded.p99 / spin.p99);
	printf("ratio default / latency mode, per hop: p50 %.1fx, p99 %.1fx\n", idle.p50 / spin.p50,
	       idle.p99 / spin.p99);
	printf("ratio latency mode / floor, per hop: p50 %.1fx, p99 %.1fx\n", spin.p50 / floor.p50,
	       spin.p99 / floor.p99);
	printf("ratio latency mode, %d us apart / back to back, per hop: p50 %.1fx, p99 %.1fx\n",
	       GAP_US, spin.p50 / steady.p50, spin.p99 / steady.p99);
	printf("target: per-hop p50 <= 0.5 us in latency mode: %.3f us (%d us apart), %.3f us (back to "
	       "back)\n",
	       spin.p50 / 1000, GAP_US, steady.p50 / 1000);
	free(v);
	return 0;
}
