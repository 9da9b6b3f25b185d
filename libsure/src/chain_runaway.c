/*
 * chain_runaway.c - chain steps that keep running with nothing to do.
 *
 * A step's vCPU sleeps (step_sleep, chain_step.c) when its rings are empty;
 * whether it sleeps is the host's own flag. A step that is awake, has no
 * live request queued for it and holds none (as the evidence in the rings
 * says: chain_holder.c) for SURE_RUNAWAY_MS, seen at looks every
 * RUNAWAY_SCAN_NS, is burning a CPU for nothing: it is stopped and counted,
 * and its chain's control plane restarts it. A step that has not slept once
 * since it started is still starting and is left alone, and so is a step the
 * host put in latency mode (sure_instance_set_spin).
 */
#include "chain.h"

#include "instance.h"
#include "util.h"

#define RUNAWAY_SCAN_NS 100000000ull

SURE_API uint32_t sure_chain_runaways(struct sure_chain *c)
{
	const uint64_t bound = (uint64_t)SURE_RUNAWAY_MS * 1000000u;
	uint64_t now = sure_now_ns();
	uint32_t awake = 0, busy = 0, stop = 0;

	if (!c)
		return 0;
	if (!sure_chain_due(&c->next_runaway_scan, now, RUNAWAY_SCAN_NS))
		return 0;
	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t s = 0; s < c->nsteps; s++) {
		struct sure_chain_seat *seat = &c->seat[s];
		/* A step in latency mode is awake by the host's choice. */
		if (seat->inst && seat->slept && !sure_load(&c->sleeping[s]) &&
		    seat->inst->spin_us != SURE_SPIN_FOREVER)
			awake |= 1u << s;
		else
			seat->idle_since_ns = 0;
	}
	pthread_mutex_unlock(&c->seat_lock);
	if (!awake)
		return 0;

	pthread_mutex_lock(&c->lock);
	sure_chain_holders(c);
	/* Queued or held, by the rings' evidence. Not "head != tail": the tail
	 * is the step's own to write, and one set past the head would keep a
	 * step that spins over stale entries "busy" for ever. */
	for (uint32_t slot = 0; slot < c->nslots; slot++)
		if (c->state[slot] == SLOT_INFLIGHT && c->scan_node[slot] < c->nsteps)
			busy |= 1u << c->scan_node[slot];
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t s = 0; s < c->nsteps; s++) {
		struct sure_chain_seat *seat = &c->seat[s];
		if (!(awake & (1u << s)))
			continue;
		if ((busy & (1u << s)) || !seat->inst) {
			seat->idle_since_ns = 0;
			continue;
		}
		if (!seat->idle_since_ns) {
			seat->idle_since_ns = now;
		} else if (sure_elapsed_ns(now, seat->idle_since_ns) >= bound) {
			sure_instance_kill(seat->inst);
			seat->idle_since_ns = 0;
			__atomic_add_fetch(&c->runaways, 1, __ATOMIC_RELAXED);
			stop |= 1u << s;
		}
	}
	pthread_mutex_unlock(&c->seat_lock);
	return stop;
}
