/*
 * chain_holder.c - what the host believes about a descriptor and about who
 * holds a request, from evidence no step can fake: a ring is written only by
 * its producer (the page tables of sure_chain_abi.h), and a descriptor that
 * carries the request's capability was made by a step that held the request.
 * So the holder of a slot is the consumer of the latest hand-off carrying
 * its capability; a step that never held it cannot put itself, or anyone
 * else, in that place. A step that held it once can write such a hand-off
 * later, so one that was taken counts only where its consumer also says, in
 * its own node page, that it holds the request (took()).
 */
#include "chain.h"

#include <string.h>

#include "sure_desc_fetch.h"
#include "util.h"

enum sure_desc_verdict sure_chain_judge(struct sure_chain *c, uint32_t from, uint32_t to,
					const struct sure_desc *d)
{
	uint32_t slot = d->slot;

	(void)to;
	if (slot >= c->nslots)
		return SURE_DESC_BOGUS; /* no correct producer names a slot that does not exist */
	if (c->state[slot] != SLOT_INFLIGHT || d->gen != c->m->slot[slot].gen)
		return SURE_DESC_STALE;
	if (d->cap[0] != c->cap[slot][0] || d->cap[1] != c->cap[slot][1])
		return SURE_DESC_FORGED;
	if (d->ext > 1 || d->from != from || (uint64_t)d->len > sure_chain_extent_bytes(c, slot))
		return SURE_DESC_BOGUS;
	return SURE_DESC_OK;
}

int sure_chain_edge(struct sure_chain *c, uint32_t from, uint32_t to)
{
	if (from == SURE_NODE_GW)
		return to == 0;
	const struct sure_step_meta *s = &c->m->step[from];
	for (uint32_t k = 0; k < s->n_next && k < SURE_NODES; k++)
		if (s->next[k] == to)
			return 1;
	return 0;
}

/* Whether step `to` took request s as the hand-off says: the host took it
 * itself (a step another node runs), or the step says it holds it now, in its
 * own node page, where no other step can write. A descriptor is evidence of
 * who made it, not of who holds the request now: a step that held a request
 * and kept its capability can write one, behind the consumer's tail and with
 * any hop count, into a ring it feeds; believed alone, it would make the
 * consumer the holder, stopped when the request times out. `lock` held. */
static int took(struct sure_chain *c, uint32_t to, uint32_t s)
{
	/* The gateway: what this process took from it is finished (no longer
	 * in flight), so a live request's entry behind its tail was planted. */
	if (to == SURE_NODE_GW)
		return 0;
	if (to >= c->nsteps || (c->host_takes & (1u << to)))
		return 1;
	return sure_load(&c->nodes[to].holding) == SURE_HOLDING(s, c->m->slot[s].gen);
}

/* Every descriptor still in ring(from -> to) that carries a live request's
 * capability raises that slot's latest hand-off (only = one slot, or all).
 * Those behind the consumer's tail were taken (and count only where took()
 * says so); the others are still queued. The tail is the consumer's to
 * write: one that lies only moves the line for the requests handed to it (at
 * most a ring's worth counts as queued). */
static void scan_ring(struct sure_chain *c, uint32_t from, uint32_t to, uint32_t only)
{
	struct sure_ring *r = sure_chain_ring(c, from, to);
	uint32_t head = sure_load(&r->head);
	uint32_t waiting = head - sure_load(sure_chain_tail(c, from, to));

	if (waiting > SURE_RING_SLOTS)
		waiting = SURE_RING_SLOTS;
	for (uint32_t k = 1; k <= SURE_RING_SLOTS; k++) {
		struct sure_desc d;
		sure_desc_fetch(&d, &r->d[(head - k) % SURE_RING_SLOTS]);
		uint32_t s = d.slot;

		if (s >= c->nslots || (only < c->nslots && s != only))
			continue;
		enum sure_desc_verdict v = sure_chain_judge(c, from, to, &d);
		if (v == SURE_DESC_STALE || v == SURE_DESC_FORGED)
			continue;
		if (k > waiting && !took(c, to, s))
			continue;
		if ((uint32_t)d.hops + 1 > c->scan_hops[s]) {
			c->scan_hops[s] = (uint8_t)(d.hops + 1 > 255 ? 255 : d.hops + 1);
			c->scan_node[s] = (uint16_t)to;
			c->scan_queued[s] = k <= waiting;
		}
	}
}

static void scan(struct sure_chain *c, uint32_t only)
{
	if (only < c->nslots) {
		c->scan_hops[only] = 0;
		c->scan_node[only] = SURE_NODE_GW;
		c->scan_queued[only] = 0;
	} else {
		memset(c->scan_hops, 0, c->nslots);
		memset(c->scan_queued, 0, c->nslots);
		for (uint32_t s = 0; s < c->nslots; s++)
			c->scan_node[s] = SURE_NODE_GW;
	}
	for (uint32_t from = 0; from < SURE_NODES; from++) {
		if (from >= c->nsteps && from != SURE_NODE_GW)
			continue;
		for (uint32_t to = 0; to < SURE_NODES; to++)
			if (to != from && (to < c->nsteps || to == SURE_NODE_GW) && sure_chain_edge(c, from, to))
				scan_ring(c, from, to, only);
	}
}

uint32_t sure_chain_holder(struct sure_chain *c, uint32_t slot, int *queued)
{
	if (queued)
		*queued = 0;
	if (slot >= c->nslots || c->state[slot] != SLOT_INFLIGHT)
		return SURE_NODE_GW;
	scan(c, slot);
	if (queued)
		*queued = c->scan_queued[slot];
	return c->scan_node[slot];
}

void sure_chain_holders(struct sure_chain *c)
{
	scan(c, 0xffffffffu);
}
