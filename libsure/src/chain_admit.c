/*
 * chain_admit.c - the host's side of a chain step's own limits.
 *
 * Hand-offs between a chain's steps go through shared rings without the
 * host, so the host cannot count what reaches each step. It bounds it
 * instead, before a request enters the chain on this node: the request is
 * charged to every step this node runs, as if it would pass each of them.
 *
 *   rate         each step's GCRA (the sidecar's rule), on host-private state
 *                kept in the step's seat, so a restart does not refill it;
 *   concurrency  the requests this node's pool holds for the chain (the host's
 *                own slot allocator) stay below every step's limit, so no step
 *                ever has more than its limit queued or running;
 *   deadline     a request still queued for a step (in a ring into it, past
 *                the tail the step keeps) longer than the step's deadline
 *                since the node took it is failed by the host with the step's
 *                504, as a plain function's queue does; once a step took a
 *                request, the chain's timeout bounds it.
 *
 * Both are stricter than the step's own sidecar when routes skip the step,
 * and neither depends on anything a guest writes: a step that rewrites its
 * sidecar page lifts only its own second check. Steps another node runs are
 * charged by that node when the request reaches it.
 */
#include <errno.h>
#include <x86intrin.h>

#include "chain.h"
#include "instance.h"
#include "sure_desc_fetch.h"
#include "util.h"

/* The live instance's limits into its seat (seat_lock held). */
static void remember(struct sure_chain_seat *seat)
{
	struct sure_instance *inst = seat->inst;

	if (!inst)
		return; /* restarting: the last instance's limits still hold */
	seat->rate_per_sec = inst->rate.per_sec;
	seat->rate_burst = inst->rate.burst;
	seat->max_inflight = inst->max_inflight;
	seat->deadline_ms = inst->deadline_ms;
	seat->tsc_hz = inst->tsc_hz ? inst->tsc_hz : 1000000000ull;
	if (seat->deadline_ms)
		__atomic_store_n(&seat->chain->deadlines, 1, __ATOMIC_RELAXED);
}

SURE_API int sure_chain_admit(struct sure_chain *c, uint32_t *step)
{
	uint64_t next[SURE_CHAIN_MAX_STEPS];
	uint32_t taken;
	int rc = 0;

	if (!c || !step)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	taken = c->nslots - c->nfree_slots;
	pthread_mutex_unlock(&c->lock);
	/* The caller holds this request's slot already: the others are in flight. */
	uint32_t others = taken ? taken - 1 : 0;
	uint64_t now = __rdtsc();

	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t s = 0; s < c->nsteps && rc == 0; s++) {
		struct sure_chain_seat *seat = &c->seat[s];
		remember(seat);
		if (seat->max_inflight && others >= seat->max_inflight) {
			rc = -EBUSY;
		} else if (!sure_gcra_fits(seat->rate_per_sec, seat->rate_burst, seat->tsc_hz,
					   seat->rate_tat, now, &next[s])) {
			rc = -EDQUOT;
		}
		if (rc == 0)
			continue;
		*step = s;
		if (seat->inst) /* counted where its step's series read them */
			__atomic_add_fetch(rc == -EBUSY ? &seat->inst->refused_inflight
							: &seat->inst->rate.refused,
					   1, __ATOMIC_RELAXED);
	}
	if (rc == 0) /* every step takes its token only when all admit it */
		for (uint32_t s = 0; s < c->nsteps; s++)
			c->seat[s].rate_tat = next[s];
	pthread_mutex_unlock(&c->seat_lock);
	return rc;
}

/* The request in `slot` waited too long for `step`: answered (504, no bytes)
 * as the step's sidecar would refuse it, so it is taken or freed like any
 * answer. `lock` held. */
static void expire(struct sure_chain *c, uint32_t slot, uint32_t step)
{
	if (c->state[slot] != SLOT_INFLIGHT)
		return;
	struct sure_slot_meta *sm = &c->m->slot[slot];
	c->state[slot] = SLOT_DONE;
	c->completed++;
	sm->gen++; /* its descriptor in the ring is stale now: never run */
	c->done[slot] = (struct sure_completion){
		.slot = slot, .offset = (uint64_t)sm->first[0] * c->buf_size, .status = 504,
		.error = SURE_CE_OK, .node = (uint16_t)step, .reason = SURE_REASON_DEADLINE,
	};
	c->fq[c->fq_n++] = c->done[slot];
}

void sure_chain_expire_waiting(struct sure_chain *c)
{
	uint64_t limit[SURE_CHAIN_MAX_STEPS] = { 0 };
	uint64_t now_ns = sure_now_ns();
	int any = 0;

	if (!__atomic_load_n(&c->deadlines, __ATOMIC_RELAXED))
		return;
	if (!sure_chain_due(&c->next_deadline_scan, now_ns, SURE_DEADLINE_SCAN_NS))
		return;
	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t s = 0; s < c->nsteps; s++) {
		struct sure_chain_seat *seat = &c->seat[s];
		limit[s] = (uint64_t)seat->deadline_ms * (seat->tsc_hz / 1000);
		any |= limit[s] != 0;
	}
	pthread_mutex_unlock(&c->seat_lock);
	if (!any)
		return;
	uint64_t now = __rdtsc();

	pthread_mutex_lock(&c->lock);
	for (uint32_t s = 0; s < c->nsteps; s++) {
		if (!limit[s])
			continue;
		for (uint32_t from = 0; from < SURE_NODES; from++) {
			if (from == s || (from >= c->nsteps && from != SURE_NODE_GW))
				continue;
			struct sure_ring *r = sure_chain_ring(c, from, s);
			uint32_t h = sure_load(&r->head);
			uint32_t t = sure_load(sure_chain_tail(c, from, s));
			/* The tail is the step's to write: at most a ring's worth is queued. */
			if (h - t > SURE_RING_SLOTS)
				t = h - SURE_RING_SLOTS;
			for (; t != h; t++) {
				struct sure_desc d;
				sure_desc_fetch(&d, &r->d[t % SURE_RING_SLOTS]);
				if (sure_chain_judge(c, from, s, &d) != SURE_DESC_OK)
					continue; /* not a live request's genuine hand-off */
				uint64_t took = c->m->slot[d.slot].start_tsc;
				if (sure_elapsed_ns(now, took) > limit[s])
					expire(c, d.slot, s);
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}
