/*
 * chain_stats.c - a chain's counters. The node counts what it does itself
 * (copies in and out, answers); what happens between steps only their
 * libraries see, in each instance's control page, where the guest can write
 * anything. Those numbers are folded into per-step totals that never go
 * backwards (a restarted step, a guest that rewrites its counters) and whose
 * increases are bounded by what the step could have done.
 */
#include "chain.h"

#include <errno.h>
#include <string.h>
#include <x86intrin.h>

#include "instance.h"
#include "util.h"

void sure_chain_seat_fold(struct sure_chain_seat *seat)
{
	const struct sure_chain *c = seat->chain;
	const volatile struct sure_chain_stats *g = &seat->inst->ctrl->chain;
	/* No answer is bigger than the largest extent a slot can have. */
	uint64_t extent_max = (uint64_t)(c->nbuf / 2) * c->buf_size;
	/* Each request the chain took reaches a step at most once per hop. */
	uint64_t visits = sure_mul_sat(__atomic_load_n(&c->submitted, __ATOMIC_RELAXED) + 1,
				       SURE_MAX_HOPS + 1);

	uint64_t before = seat->handled;

	sure_fold_counter(g->handled, &seat->seen_handled, &seat->handled, visits);
	sure_fold_counter(g->handoffs, &seat->seen_handoffs, &seat->handoffs, visits);
	/* No more copied since the last fold than a whole extent for each
	 * request handled since. */
	uint64_t allow = sure_mul_sat(seat->handled - before, extent_max);
	uint64_t bound = seat->copied + allow < seat->copied ? UINT64_MAX : seat->copied + allow;
	sure_fold_counter(g->copied, &seat->seen_copied, &seat->copied, bound);
}

SURE_API int sure_chain_stats(struct sure_chain *c, struct sure_chain_counters *out,
			      size_t size)
{
	struct sure_chain_counters v = { 0 };

	if (!c || !out || size != sizeof(*out))
		return -EINVAL;
	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t i = 0; i < c->nsteps; i++) {
		if (c->seat[i].inst)
			sure_chain_seat_fold(&c->seat[i]);
		v.handoffs += c->seat[i].handoffs;
		v.handoff_bytes += c->seat[i].copied;
	}
	pthread_mutex_unlock(&c->seat_lock);
	pthread_mutex_lock(&c->lock);
	/* Under request-level isolation only the coloured slots are used, each
	 * with its whole share of the pool. */
	v.slots_in_flight = (c->colours ? c->colours : c->nslots) - c->nfree_slots;
	v.free_buffers = c->colours ? c->nbuf - v.slots_in_flight * c->colour_bufs : c->alloc.nfree;
	v.buffers = c->nbuf;
	v.completed = c->completed;
	v.bogus = c->bogus;
	v.unconfirmed = c->unconfirmed;
	v.runaways = __atomic_load_n(&c->runaways, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->lock);
	v.copied_in = __atomic_load_n(&c->copied_in, __ATOMIC_RELAXED);
	v.copied_out = __atomic_load_n(&c->copied_out, __ATOMIC_RELAXED);
	*out = v;
	return 0;
}

SURE_API int sure_chain_step_stats(struct sure_chain *c, uint32_t step,
				   struct sure_step_counters *out, size_t size)
{
	struct sure_chain_stats st;
	uint64_t hz;

	if (!c || !out || size != sizeof(*out) || step >= c->nsteps)
		return -EINVAL;
	pthread_mutex_lock(&c->seat_lock);
	if (!c->seat[step].inst) {
		pthread_mutex_unlock(&c->seat_lock);
		return -ENOENT;
	}
	memcpy(&st, (const void *)&c->seat[step].inst->ctrl->chain, sizeof(st));
	hz = c->seat[step].inst->tsc_hz;
	/* The counts that move data are the seat's folded totals (every
	 * instance the step had); the rest is this instance's own word. */
	sure_chain_seat_fold(&c->seat[step]);
	uint64_t handled = c->seat[step].handled, handoffs = c->seat[step].handoffs;
	uint64_t copied = c->seat[step].copied;
	uint64_t born = c->seat[step].inst->born_tsc;
	pthread_mutex_unlock(&c->seat_lock);
	/* The rest is the instance's word, read once (st) and bounded by what
	 * the node knows: no more descriptors or hand-offs than the chain's
	 * requests could make (each reaches a step at most once per hop), and
	 * no hand-off took longer than the instance has lived. */
	uint64_t visits = sure_mul_sat(__atomic_load_n(&c->submitted, __ATOMIC_RELAXED) + 1,
				       SURE_MAX_HOPS + 1);
	uint64_t now = __rdtsc(), lived = now > born ? now - born : 0;
	uint64_t in_hist = 0;
	*out = (struct sure_step_counters){
		.tsc_hz = hz,
		.handled = handled,
		.handoffs = handoffs,
		.stale = st.stale < visits ? st.stale : visits,
		.bogus = st.bogus < visits ? st.bogus : visits,
		.copied = copied,
	};
	for (int i = 0; i < 32; i++) {
		uint64_t b = st.handoff_hist[i], room = visits - in_hist;
		out->handoff_hist[i] = b < room ? b : room;
		in_hist += out->handoff_hist[i];
	}
	uint64_t most = sure_mul_sat(in_hist, lived);
	out->handoff_tsc_sum = st.handoff_tsc_sum < most ? st.handoff_tsc_sum : most;
	return 0;
}
