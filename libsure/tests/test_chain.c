/*
 * test_chain.c - a chain's pool and gateway without any VM: this test plays
 * the steps by writing descriptors into the rings the way a guest would, so
 * it runs everywhere (no KVM needed). It checks that the node's copies are
 * counted where they happen, that completions are checked against the
 * host's own slot state and capabilities, that each step's page tables show
 * only its own rings writable, that the host finds a request's holder from
 * evidence no other step can fake, and that the numbers a step's guest
 * reports are folded so that they never go backwards and cannot be inflated
 * at will, and that each step's own limits are held by the host.
 */
#include <errno.h>
#include <x86intrin.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "instance.h"
#include "util.h"

#define BUF 4096u

static struct sure_chain *make_chain(uint32_t nsteps)
{
	char names[SURE_CHAIN_MAX_STEPS * SURE_STEP_NAME] = { 0 };
	uint8_t routes[SURE_CHAIN_MAX_STEPS * SURE_NODES] = { 0 };
	uint16_t next[SURE_CHAIN_MAX_STEPS];
	struct sure_chain *c = NULL;
	char err[128];

	for (uint32_t i = 0; i < nsteps; i++) {
		snprintf(names + i * SURE_STEP_NAME, SURE_STEP_NAME, "step%u", i);
		next[i] = i + 1 < nsteps ? (uint16_t)(i + 1) : SURE_NODE_GW;
		if (i + 1 < nsteps)
			routes[i * SURE_NODES + i + 1] = 1;
	}
	if (sure_chain_create(nsteps, names, routes, next, 16, BUF, 8, &c, err, sizeof(err)) < 0)
		fprintf(stderr, "  sure_chain_create: %s\n", err);
	return c;
}

/* What a step's guest does: push a descriptor to node `to`. */
static void push_to(struct sure_chain *c, uint32_t step, uint32_t to, struct sure_desc d)
{
	struct sure_ring *r = sure_chain_ring(c, step, to);

	r->d[r->head % SURE_RING_SLOTS] = d;
	__atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
}

static void answer(struct sure_chain *c, uint32_t step, struct sure_desc d)
{
	push_to(c, step, SURE_NODE_GW, d);
}

/* A descriptor as a step that holds the slot makes it: with its capability. */
static struct sure_desc held(struct sure_chain *c, uint32_t slot, uint32_t from, uint8_t hops)
{
	struct sure_desc d = { .slot = slot, .len = 1, .gen = c->m->slot[slot].gen,
			       .hops = hops, .from = (uint16_t)from };
	d.cap[0] = c->cap[slot][0];
	d.cap[1] = c->cap[slot][1];
	return d;
}

static struct sure_chain_counters counters(struct sure_chain *c)
{
	struct sure_chain_counters k;

	memset(&k, 0xff, sizeof(k));
	CHECK_EQ(sure_chain_stats(c, &k, sizeof(k)), 0);
	return k;
}

static void test_copies_are_counted_where_they_happen(void)
{
	struct sure_chain *c = make_chain(1);
	const char body[] = "hello chain";
	uint8_t trace[25], out[64];
	struct sure_completion done[4];
	uint32_t slot;
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return;
	memset(trace, 7, sizeof(trace));
	CHECK_EQ(sure_chain_alloc(c, sizeof(body), &slot, &off), 0);
	CHECK_EQ(sure_chain_submit(c, slot, (const uint8_t *)body, sizeof(body), trace), 0);
	/* The body is in extent 0, the trace in the slot's context, the descriptor on ring(GW, 0). */
	CHECK(memcmp(c->bufs + off, body, sizeof(body)) == 0);
	CHECK_EQ(c->m->slot[slot].trace_id[0], 7);
	struct sure_ring *in = sure_chain_ring(c, SURE_NODE_GW, 0);
	CHECK_EQ(in->head, 1);
	CHECK_EQ(in->d[0].slot, slot);
	CHECK_EQ(in->d[0].len, sizeof(body));
	CHECK_EQ(in->d[0].parent_id[0], 7);
	/* The capability rides in the descriptor; the table has only its check. */
	CHECK(in->d[0].cap[0] != 0 || in->d[0].cap[1] != 0);
	CHECK_EQ(sure_cap_check(in->d[0].cap, slot, in->d[0].gen), c->m->slot[slot].check);
	CHECK_EQ(counters(c).copied_in, sizeof(body));

	/* Step 0 answers "HI" from extent 1. */
	uint8_t *ext1 = c->bufs + (uint64_t)c->m->slot[slot].first[1] * BUF;
	uint8_t *ext0 = c->bufs + off;
	uint64_t ext_bytes = (uint64_t)c->m->slot[slot].nbuf * BUF;
	/* Scratch anywhere in either extent, first byte to last, as a step may leave. */
	ext0[ext_bytes - 1] = ext0[ext_bytes / 2] = 0x5a;
	ext1[ext_bytes - 1] = ext1[ext_bytes / 2 + 3] = 0xa5;
	memcpy(ext1, "HI", 2);
	struct sure_desc hi = held(c, slot, 0, 1);
	hi.len = 2;
	hi.ext = 1;
	hi.status = 201;
	answer(c, 0, hi);
	CHECK_EQ(sure_chain_wait(c, done, 4, 0), 1);
	CHECK_EQ(done[0].slot, slot);
	CHECK_EQ(done[0].status, 201);
	CHECK_EQ(done[0].error, SURE_CE_OK);
	CHECK_EQ(sure_chain_take(c, slot, out, 1), -E2BIG); /* too small: nothing copied */
	CHECK_EQ(counters(c).copied_out, 0);
	CHECK_EQ(sure_chain_take(c, slot, out, sizeof(out)), 2);
	CHECK(memcmp(out, "HI", 2) == 0);
	struct sure_chain_counters k = counters(c);
	CHECK_EQ(k.copied_out, 2);
	CHECK_EQ(k.completed, 1);
	CHECK_EQ(k.slots_in_flight, 0);
	CHECK_EQ(k.free_buffers, 16);
	CHECK_EQ(k.handoff_bytes, 0); /* no step instance ever reported anything */
	/* Taking frees and zeroes both extents whole: the next owner never sees these bytes. */
	int dirty = 0;
	for (uint64_t i = 0; i < ext_bytes; i++)
		dirty += ext0[i] != 0 || ext1[i] != 0;
	CHECK_EQ(dirty, 0);
	CHECK_EQ(sure_chain_take(c, slot, out, sizeof(out)), -EINVAL);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

static void test_completions_are_checked_by_the_host(void)
{
	struct sure_chain *c = make_chain(2);
	struct sure_completion done[8];
	uint32_t a, b;
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ(sure_chain_alloc(c, 10, &a, &off), 0);
	CHECK_EQ(sure_chain_alloc(c, 10, &b, &off), 0);
	CHECK_EQ(sure_chain_submit(c, a, (const uint8_t *)"a", 1, NULL), 0);
	CHECK_EQ(sure_chain_submit(c, b, (const uint8_t *)"b", 1, NULL), 0);
	/* Step 1 claims step 0 sent it (from != ring), and a length past the extent. */
	answer(c, 1, held(c, a, 0, 2));
	struct sure_desc big = held(c, b, 1, 2);
	big.len = BUF + 1;
	answer(c, 1, big);
	/* A stale generation and a slot that does not exist are dropped or failed. */
	answer(c, 1, (struct sure_desc){ .slot = 99, .len = 1, .from = 1 });
	int n = sure_chain_wait(c, done, 8, 0);
	CHECK_EQ(n, 2);
	for (int i = 0; i < n; i++) {
		CHECK_EQ(done[i].error, SURE_CE_BOGUS);
		CHECK_EQ(done[i].node, 1); /* the step whose ring it came from is blamed */
		CHECK_EQ(done[i].status, 502);
	}
	CHECK_EQ(counters(c).completed, 0);
	CHECK_EQ(sure_chain_free(c, a), 0);
	CHECK_EQ(sure_chain_free(c, b), 0);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/* One request in flight on a fresh slot (the gateway pushed it to step 0). */
static int submit_one(struct sure_chain *c, uint32_t *slot)
{
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return -1;
	CHECK_EQ(sure_chain_alloc(c, 10, slot, &off), 0);
	CHECK_EQ(sure_chain_submit(c, *slot, (const uint8_t *)"a", 1, NULL), 0);
	return 0;
}

/* Whether any of a seat's views covers [off, off + size), and writably. */
static void view_of(const struct sure_chain_seat *seat, uint64_t off, uint64_t size, int *seen,
		    int *writable)
{
	*seen = *writable = 0;
	for (uint32_t v = 0; v < seat->nviews; v++) {
		const struct sure_view *w = &seat->views[v];
		if (off + size > w->off && off < w->off + w->size) {
			*seen = 1;
			*writable |= (int)w->writable;
		}
	}
}

/* A step that never held a request cannot complete it, fail it, or get
 * another step blamed: without the capability it is only itself stopped. */
static void test_forged_completions_fail_nothing(void)
{
	struct sure_chain *c = make_chain(2);
	struct sure_completion done[8];
	uint32_t a;

	if (submit_one(c, &a) < 0)
		return;
	/* Everything but the capability right; then the capability off by one bit. */
	struct sure_desc f = held(c, a, 1, 2);
	f.cap[0] = f.cap[1] = 0;
	answer(c, 1, f);
	f = held(c, a, 1, 2);
	f.cap[1] ^= 1;
	answer(c, 1, f);
	CHECK_EQ(sure_chain_wait(c, done, 8, 0), 0); /* nothing completed, nothing failed */
	struct sure_chain_counters k = counters(c);
	CHECK_EQ(k.bogus, 2);
	CHECK_EQ(k.slots_in_flight, 1);
	/* The real holder still answers it. */
	answer(c, 1, held(c, a, 1, 2));
	CHECK_EQ(sure_chain_wait(c, done, 8, 0), 1);
	CHECK_EQ(done[0].slot, a);
	CHECK_EQ(done[0].error, SURE_CE_OK);
	CHECK_EQ(sure_chain_free(c, a), 0);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/* The views of every step of a 3-step chain, against every ring and node
 * page: writable exactly where the step is the producer (its own node page),
 * visible exactly where it is the producer or the consumer. */
static void test_each_step_sees_only_its_own_rings(void)
{
	struct sure_chain *c = make_chain(3);

	CHECK(c != NULL);
	if (!c)
		return;
	for (uint32_t s = 0; s < 3; s++) {
		const struct sure_chain_seat *seat = &c->seat[s];
		const struct sure_step_meta *m = &c->m->step[s];
		for (uint32_t from = 0; from < SURE_NODES; from++) {
			for (uint32_t to = 0; to < SURE_NODES; to++) {
				uint64_t off = c->m->ring_off +
					       (uint64_t)SURE_RING_INDEX(from, to) * SURE_RING_STRIDE;
				int in = 0, out = 0, seen, writable;
				for (uint32_t k = 0; k < m->n_next; k++)
					out |= from == s && m->next[k] == to;
				for (uint32_t k = 0; k < m->n_in; k++)
					in |= to == s && m->in[k] == from;
				view_of(seat, off, SURE_RING_STRIDE, &seen, &writable);
				CHECK_EQ(seen, in || out);
				CHECK_EQ(writable, out);
			}
		}
		for (uint32_t n = 0; n < SURE_NODES; n++) {
			int seen, writable;
			view_of(seat, c->m->node_off + (uint64_t)n * SURE_PAGE_SIZE, SURE_PAGE_SIZE,
				&seen, &writable);
			CHECK_EQ(writable, n == s);
		}
	}
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/* Request-level isolation: one slot per key colour, each with its own share
 * of the pool and head block under that key; nothing else of the buffers is
 * mapped; the rings and node pages are the gate's. */
static void test_request_isolation_gives_each_slot_its_key(void)
{
	struct sure_chain *c = make_chain(2);
	char err[160] = "";
	uint32_t slot, got[SURE_CHAIN_COLOURS];
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return;
	/* 16 buffers, 8 slots: 8 colours of 2 buffers (an extent of 1 each). */
	CHECK_EQ(sure_chain_isolate(c, err, sizeof(err)), 0);
	CHECK_EQ(sure_chain_colours(c), 8);
	CHECK_EQ(sure_chain_alloc(c, BUF + 1, &slot, &off), -E2BIG);
	for (uint32_t i = 0; i < 8; i++) {
		CHECK_EQ(sure_chain_alloc(c, BUF, &got[i], &off), 0);
		CHECK_EQ(c->m->slot[got[i]].first[0], got[i] * 2);
		CHECK_EQ(c->m->slot[got[i]].first[1], got[i] * 2 + 1);
		CHECK_EQ(off, (uint64_t)got[i] * 2 * BUF);
	}
	CHECK_EQ(sure_chain_alloc(c, 1, &slot, &off), -ENOSPC);
	struct sure_chain_counters v;
	CHECK_EQ(sure_chain_stats(c, &v, sizeof(v)), 0);
	CHECK_EQ(v.slots_in_flight, 8);
	CHECK_EQ(v.free_buffers, 0);
	CHECK_EQ(sure_chain_free(c, got[3]), 0);
	CHECK_EQ(sure_chain_alloc(c, 1, &slot, &off), 0);
	CHECK_EQ(slot, got[3]); /* its own share again */
	for (uint32_t s = 0; s < 2; s++) {
		const struct sure_chain_seat *seat = &c->seat[s];
		for (uint32_t k = 0; k < seat->nviews; k++) {
			const struct sure_view *w = &seat->views[k];
			if (w->off < c->m->buf_off) {
				CHECK_EQ(w->pkey, SURE_PKEY_CHAIN);
				continue;
			}
			uint64_t rel = w->off >= c->m->head_off
					       ? (w->off - c->m->head_off) / SURE_SLOT_HEAD_SIZE
					       : (w->off - c->m->buf_off) / (2 * BUF);
			CHECK(rel < 8);
			CHECK_EQ(w->pkey, SURE_PKEY_COLOUR0 + rel);
		}
	}
	/* Too late once it has requests; too small a pool is said so. */
	CHECK_EQ(sure_chain_isolate(c, err, sizeof(err)), -EBUSY);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/* A step never hands a request to itself: its own node page would be mapped
 * read-only as a next hop's and its ring to itself fed and drained by it. */
static void test_a_step_cannot_route_to_itself(void)
{
	char names[SURE_CHAIN_MAX_STEPS * SURE_STEP_NAME] = { 0 };
	uint8_t routes[SURE_CHAIN_MAX_STEPS * SURE_NODES] = { 0 };
	uint16_t next[2] = { 1, SURE_NODE_GW };
	struct sure_chain *c = NULL;
	char err[128];

	snprintf(names, SURE_STEP_NAME, "a");
	snprintf(names + SURE_STEP_NAME, SURE_STEP_NAME, "b");
	routes[0 * SURE_NODES + 1] = 1;
	routes[1 * SURE_NODES + 1] = 1;
	CHECK_EQ(sure_chain_create(2, names, routes, next, 16, BUF, 8, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "step 1 routes to itself") != NULL);
	CHECK(c == NULL);
	routes[1 * SURE_NODES + 1] = 0;
	CHECK_EQ(sure_chain_create(2, names, routes, next, 16, BUF, 8, &c, err, sizeof(err)), 0);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/* A timeout takes back a request still queued for a step: from then on no
 * gate gives it to a handler (live is 0). A step whose gate said it holds it
 * before the tail moved keeps it (Dekker with gate_chain.c poll_ring). */
static void test_a_queued_request_is_taken_back_unless_taken(void)
{
	struct sure_chain *c = make_chain(2);
	uint32_t a, where = 99;

	if (submit_one(c, &a) < 0)
		return;
	/* Step 0's gate has stored its holding word, not yet moved its tail. */
	c->nodes[0].holding = SURE_HOLDING(a, c->m->slot[a].gen);
	CHECK_EQ(sure_chain_queued(c, a), 1);
	CHECK_EQ(sure_chain_take_back(c, a, &where), 0);
	CHECK_EQ(where, 0);
	CHECK_EQ(c->m->slot[a].live, 1); /* it runs it */
	/* A word for another generation is not this request's. */
	c->nodes[0].holding = SURE_HOLDING(a, c->m->slot[a].gen + 1);
	CHECK_EQ(sure_chain_take_back(c, a, &where), 1);
	CHECK_EQ(where, 0);
	CHECK_EQ(c->m->slot[a].live, 0); /* a gate that looks again drops it */
	CHECK_EQ(sure_chain_free(c, a), 0);
	/* Taken (tail moved, holding said): held, not taken back. */
	if (submit_one(c, &a) < 0)
		return;
	*sure_chain_tail(c, SURE_NODE_GW, 0) += 1;
	c->nodes[0].holding = SURE_HOLDING(a, c->m->slot[a].gen);
	CHECK_EQ(sure_chain_take_back(c, a, &where), 0);
	CHECK_EQ(where, 0);
	CHECK_EQ(c->m->slot[a].live, 1);
	CHECK_EQ(sure_chain_take_back(c, c->nslots, &where), -EINVAL);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/* Who holds a request is what the rings carrying its capability say: a
 * descriptor without it moves nothing, whoever it names. */
static void test_the_holder_comes_from_evidence(void)
{
	struct sure_chain *c = make_chain(3);
	uint32_t a;

	if (submit_one(c, &a) < 0)
		return;
	CHECK_EQ(sure_chain_locate(c, a), 0);
	CHECK_EQ(sure_chain_queued(c, a), 1); /* step 0 has not taken it */
	*sure_chain_tail(c, SURE_NODE_GW, 0) += 1;
	CHECK_EQ(sure_chain_queued(c, a), 0);
	push_to(c, 0, 1, held(c, a, 0, 1));
	CHECK_EQ(sure_chain_locate(c, a), 1);
	CHECK_EQ(sure_chain_queued(c, a), 1);
	/* A tail past the head (the consumer's to write) lies only about what
	 * was handed to it: at most a ring's worth counts as queued. */
	*sure_chain_tail(c, 0, 1) += 5;
	CHECK_EQ(sure_chain_queued(c, a), 1);
	*sure_chain_tail(c, 0, 1) -= 4;
	CHECK_EQ(sure_chain_queued(c, a), 0);
	/* Taken by step 1, which does not say it holds it (its gate says so in
	 * its own node page): nobody is known to. Once it says so, step 1. */
	CHECK_EQ(sure_chain_locate(c, a), SURE_NODE_GW);
	c->nodes[1].holding = SURE_HOLDING(a, c->m->slot[a].gen);
	CHECK_EQ(sure_chain_locate(c, a), 1);
	/* A word for another request, or another generation, is not this one. */
	c->nodes[1].holding = SURE_HOLDING(a, c->m->slot[a].gen + 1);
	CHECK_EQ(sure_chain_locate(c, a), SURE_NODE_GW);
	c->nodes[1].holding = SURE_HOLDING(a, c->m->slot[a].gen);
	/* Step 1 pushes a capability-less claim that step 2 has it, and a
	 * later hop count: the holder does not move. */
	struct sure_desc lie = held(c, a, 1, 9);
	lie.cap[0] ^= 0x10;
	push_to(c, 1, 2, lie);
	CHECK_EQ(sure_chain_locate(c, a), 1);
	push_to(c, 1, 2, held(c, a, 1, 2));
	CHECK_EQ(sure_chain_locate(c, a), 2);
	CHECK_EQ(sure_chain_queued(c, a), 1);
	/* Step 2 takes it (and step 1 gave it back). */
	*sure_chain_tail(c, 1, 2) += 2;
	c->nodes[1].holding = 0;
	c->nodes[2].holding = SURE_HOLDING(a, c->m->slot[a].gen);
	CHECK_EQ(sure_chain_locate(c, a), 2);
	CHECK_EQ(sure_chain_queued(c, a), 0);
	/* Step 0 held it once and kept its capability: it rewrites the entry of
	 * ring(0 -> 1) that step 1 took, with a later hop count than any. Step 1
	 * says it holds nothing, so step 2 stays the holder: a timeout stops
	 * step 2, not step 1. */
	struct sure_ring *r01 = sure_chain_ring(c, 0, 1);
	r01->d[(*sure_chain_tail(c, 0, 1) - 1) % SURE_RING_SLOTS] = held(c, a, 0, 200);
	CHECK_EQ(sure_chain_locate(c, a), 2);
	CHECK_EQ(sure_chain_queued(c, a), 0);
	/* Or behind the gateway's tail (what the node took from there is
	 * finished): nobody's hand-off either. */
	struct sure_ring *r0g = sure_chain_ring(c, 0, SURE_NODE_GW);
	struct sure_desc other = held(c, a, 0, 1);
	other.gen++; /* an earlier request's completion, which the node took */
	push_to(c, 0, SURE_NODE_GW, other);
	*sure_chain_tail(c, 0, SURE_NODE_GW) += 1;
	r0g->d[(*sure_chain_tail(c, 0, SURE_NODE_GW) - 1) % SURE_RING_SLOTS] = held(c, a, 0, 250);
	CHECK_EQ(sure_chain_locate(c, a), 2);
	CHECK_EQ(sure_chain_queued(c, a), 0);
	CHECK_EQ(sure_chain_free(c, a), 0);
	CHECK_EQ(sure_chain_locate(c, a), SURE_NODE_GW);
	CHECK_EQ(sure_chain_queued(c, a), 0);
	CHECK_EQ(sure_chain_queued(c, 99), -EINVAL);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

static void test_named_structs_check_their_size(void)
{
	struct sure_chain *c = make_chain(1);
	struct sure_chain_counters k;
	struct sure_step_counters s;
	struct sure_process_stats p;

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ(sure_chain_stats(c, &k, sizeof(k) - 8), -EINVAL);
	CHECK_EQ(sure_chain_step_stats(c, 0, &s, sizeof(s) + 8), -EINVAL);
	CHECK_EQ(sure_chain_step_stats(c, 0, &s, sizeof(s)), -ENOENT); /* no instance */
	CHECK_EQ(sure_stats(&p, sizeof(p) / 2), -EINVAL);
	CHECK_EQ(sure_stats(&p, sizeof(p)), 0);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/*
 * A step's guest writes its counters where it likes. Sit a stand-in
 * instance in the seat (only its control page is read) and lie.
 */
static void test_guest_counters_never_go_back_nor_inflate(void)
{
	struct sure_chain *c = make_chain(1);
	struct sure_instance inst;
	struct sure_ctrl ctrl;

	CHECK(c != NULL);
	if (!c)
		return;
	memset(&inst, 0, sizeof(inst));
	memset(&ctrl, 0, sizeof(ctrl));
	inst.ctrl = &ctrl;
	c->seat[0].inst = &inst;

	ctrl.chain.handled = 2;
	ctrl.chain.handoffs = 2;
	ctrl.chain.copied = 100;
	struct sure_chain_counters k = counters(c);
	CHECK_EQ(k.handoffs, 2);
	CHECK_EQ(k.handoff_bytes, 100);

	/* Zeroed: the totals stay. */
	memset(&ctrl.chain, 0, sizeof(ctrl.chain));
	k = counters(c);
	CHECK_EQ(k.handoffs, 2);
	CHECK_EQ(k.handoff_bytes, 100);

	/* Inflated: one more request handled cannot have copied more than the largest extent. */
	ctrl.chain.handled = 1;
	ctrl.chain.copied = 1000000000000000ull;
	k = counters(c);
	CHECK_EQ(k.handoff_bytes, 100 + (16 / 2) * BUF);

	/* Wrapped: zeroed, then a count just short of 2^64 (a sum that wraps
	 * would take the total back, and a product that wraps would let any
	 * copy through). Bounded by the requests the chain took, never back. */
	memset(&ctrl.chain, 0, sizeof(ctrl.chain));
	k = counters(c);
	ctrl.chain.handled = ~0ull - 1;
	ctrl.chain.handoffs = ~0ull - 1;
	ctrl.chain.copied = ~0ull - 1;
	k = counters(c);
	CHECK(k.handoffs >= 2);
	CHECK(k.handoffs <= (uint64_t)(SURE_MAX_HOPS + 1)); /* nothing submitted: one visit's worth */
	CHECK(k.handoff_bytes >= 100 + (16 / 2) * BUF);
	CHECK(k.handoff_bytes <= 100 + (uint64_t)(SURE_MAX_HOPS + 2) * (16 / 2) * BUF);
	struct sure_chain_counters was = k;
	ctrl.chain.handled = 3;
	ctrl.chain.handoffs = 3;
	ctrl.chain.copied = 3;
	k = counters(c);
	CHECK_EQ(k.handoffs, was.handoffs);
	CHECK_EQ(k.handoff_bytes, was.handoff_bytes);

	/* The instance's own word (stale, bogus, the hand-off histogram and its
	 * time sum) is bounded too: no more than the chain's requests could
	 * make, no hand-off longer than the instance has lived. */
	ctrl.chain.stale = ~0ull;
	ctrl.chain.bogus = ~0ull;
	ctrl.chain.handoff_tsc_sum = ~0ull;
	for (int i = 0; i < 32; i++)
		ctrl.chain.handoff_hist[i] = ~0u;
	inst.born_tsc = __rdtsc();
	struct sure_step_counters sc;
	CHECK_EQ(sure_chain_step_stats(c, 0, &sc, sizeof(sc)), 0);
	uint64_t visits = SURE_MAX_HOPS + 1, in_hist = 0; /* nothing submitted: one request's worth */
	CHECK(sc.stale <= visits && sc.bogus <= visits);
	for (int i = 0; i < 32; i++)
		in_hist += sc.handoff_hist[i];
	CHECK(in_hist <= visits);
	CHECK(sc.handoff_tsc_sum <= in_hist * (__rdtsc() - inst.born_tsc));

	/* The seat's instance goes: its counts stay in the totals. */
	c->seat[0].inst = NULL;
	CHECK_EQ(counters(c).handoff_bytes, k.handoff_bytes);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/*
 * A step's own limits hold at the host: stand-in instances whose sidecar
 * pages are never read (a guest may write anything there), with the limits
 * the host keeps. A request is charged to every step or to none.
 */
static void test_step_limits_are_held_by_the_host(void)
{
	struct sure_chain *c = make_chain(2);
	struct sure_instance first, second;
	uint32_t slot[4], step = 99;
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return;
	memset(&first, 0, sizeof(first));
	memset(&second, 0, sizeof(second));
	first.tsc_hz = second.tsc_hz = 1000000000000ull; /* one token per 1000 s of TSC */
	first.max_inflight = 2;
	first.rate.per_sec = 1;
	first.rate.burst = 3;
	second.rate.per_sec = 1;
	second.rate.burst = 2;
	c->seat[0].inst = &first;
	c->seat[1].inst = &second;

	/* Rate: the second step's burst of 2, then refused, blaming it. */
	for (int k = 0; k < 2; k++) {
		CHECK_EQ(sure_chain_alloc(c, 1, &slot[0], &off), 0);
		CHECK_EQ(sure_chain_admit(c, &step), 0);
		CHECK_EQ(sure_chain_free(c, slot[0]), 0);
	}
	uint64_t first_tat = c->seat[0].rate_tat;
	CHECK_EQ(sure_chain_alloc(c, 1, &slot[0], &off), 0);
	CHECK_EQ(sure_chain_admit(c, &step), -EDQUOT);
	CHECK_EQ(step, 1);
	CHECK_EQ(second.rate.refused, 1);
	CHECK_EQ(first.rate.refused, 0);
	/* The refused request took no token from the step that would have admitted it. */
	CHECK_EQ(c->seat[0].rate_tat, first_tat);
	/* A restart (no instance for a while) does not refill the bucket. */
	c->seat[1].inst = NULL;
	CHECK_EQ(sure_chain_admit(c, &step), -EDQUOT);
	CHECK_EQ(step, 1);
	CHECK_EQ(sure_chain_free(c, slot[0]), 0);

	/* Concurrency: the first step admits 2 requests held at once, counted
	 * by the host's own slots, whatever the rings say. */
	second.rate.per_sec = 0;
	c->seat[1].inst = &second;
	first.rate.per_sec = 0;
	for (int k = 0; k < 2; k++) {
		CHECK_EQ(sure_chain_alloc(c, 1, &slot[k], &off), 0);
		CHECK_EQ(sure_chain_admit(c, &step), 0);
	}
	CHECK_EQ(sure_chain_alloc(c, 1, &slot[2], &off), 0);
	step = 99;
	CHECK_EQ(sure_chain_admit(c, &step), -EBUSY);
	CHECK_EQ(step, 0);
	CHECK_EQ(first.refused_inflight, 1);
	/* One answered: room again. */
	CHECK_EQ(sure_chain_free(c, slot[0]), 0);
	CHECK_EQ(sure_chain_admit(c, &step), 0);
	CHECK_EQ(sure_chain_free(c, slot[1]), 0);
	CHECK_EQ(sure_chain_free(c, slot[2]), 0);
	CHECK_EQ(sure_chain_admit(NULL, &step), -EINVAL);
	c->seat[0].inst = c->seat[1].inst = NULL;
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/*
 * A step's deadline holds at the host for requests still queued for it: one
 * waiting in ring(0 -> 1) past step 1's deadline is answered 504 (a deadline
 * refusal naming step 1) and its descriptor goes stale; one step 1 has taken
 * (its tail moved past it) is the chain timeout's business.
 */
static void test_step_deadlines_expire_queued_requests(void)
{
	struct sure_chain *c = make_chain(2);
	struct sure_instance second;
	struct sure_completion done[4];
	uint32_t waiting, taken, step;
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return;
	memset(&second, 0, sizeof(second));
	second.tsc_hz = 1000000; /* 1 ms = 1000 ticks: real waits of well under a ms */
	second.deadline_ms = 1;
	c->seat[1].inst = &second;
	CHECK_EQ(sure_chain_alloc(c, 1, &taken, &off), 0);
	CHECK_EQ(sure_chain_admit(c, &step), 0);
	CHECK_EQ(sure_chain_submit(c, taken, (const uint8_t *)"a", 1, NULL), 0);
	CHECK_EQ(sure_chain_alloc(c, 1, &waiting, &off), 0);
	CHECK_EQ(sure_chain_admit(c, &step), 0);
	CHECK_EQ(sure_chain_submit(c, waiting, (const uint8_t *)"b", 1, NULL), 0);
	/* Step 0 hands both on; step 1 takes the first only. */
	push_to(c, 0, 1, held(c, taken, 0, 1));
	push_to(c, 0, 1, held(c, waiting, 0, 1));
	*sure_chain_tail(c, 0, 1) = sure_chain_ring(c, 0, 1)->head - 1;
	uint32_t gen = c->m->slot[waiting].gen;
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	uint32_t n = sure_chain_collect(c, done, 4);
	CHECK_EQ(n, 1);
	CHECK_EQ(done[0].slot, waiting);
	CHECK_EQ(done[0].reason, SURE_REASON_DEADLINE);
	CHECK_EQ(done[0].status, 504);
	CHECK_EQ(done[0].node, 1);
	CHECK(c->m->slot[waiting].gen != gen);
	/* Reported once. */
	nanosleep(&ts, NULL);
	CHECK_EQ(sure_chain_collect(c, done, 4), 0);
	CHECK_EQ(sure_chain_free(c, waiting), 0);
	CHECK_EQ(sure_chain_free(c, taken), 0);
	c->seat[1].inst = NULL;
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/*
 * An expired request's answer is the caller's only once a wait reported it:
 * take() of a slot it was not told of is refused, whatever the pool says
 * (found by fuzz_chain: an expiry marks the slot done before reporting it).
 */
static void test_unreported_answers_cannot_be_taken(void)
{
	struct sure_chain *c = make_chain(2);
	struct sure_instance second;
	struct sure_completion done[4];
	uint32_t slot[2], step;
	uint64_t off;
	uint8_t out[8];

	CHECK(c != NULL);
	if (!c)
		return;
	memset(&second, 0, sizeof(second));
	second.tsc_hz = 1000000;
	second.deadline_ms = 1;
	c->seat[1].inst = &second;
	for (int k = 0; k < 2; k++) {
		CHECK_EQ(sure_chain_alloc(c, 1, &slot[k], &off), 0);
		CHECK_EQ(sure_chain_admit(c, &step), 0);
		CHECK_EQ(sure_chain_submit(c, slot[k], (const uint8_t *)"a", 1, NULL), 0);
		push_to(c, 0, 1, held(c, slot[k], 0, 1)); /* step 1 takes neither */
	}
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	/* Both expire; a wait for one reports one, the other stays queued. */
	CHECK_EQ(sure_chain_collect(c, done, 1), 1);
	uint32_t told = done[0].slot, other = told == slot[0] ? slot[1] : slot[0];
	CHECK_EQ(sure_chain_take(c, other, out, sizeof(out)), -EINVAL);
	CHECK_EQ(sure_chain_take(c, told, out, sizeof(out)), 0);
	CHECK_EQ(sure_chain_collect(c, done, 4), 1);
	CHECK_EQ(done[0].slot, other);
	CHECK_EQ(done[0].status, 504);
	CHECK_EQ(sure_chain_take(c, other, out, sizeof(out)), 0);
	c->seat[1].inst = NULL;
	CHECK_EQ(sure_chain_destroy(c), 0);
}

/*
 * A step awake with nothing queued and nothing held for SURE_RUNAWAY_MS is
 * stopped and counted, unless the host itself put it in latency mode
 * (sure_instance_set_spin: it polls by the host's choice).
 */
/* The eventfd's count: how many times it was written since the last read. */
static uint64_t doorbell_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) < 0)
		v = 0;
	return v;
}

/* A push to a step that sleeps rings it once per sleep, however many pushes
 * reach it before it wakes (the data plane rang step 0 ~0.45 times per
 * request at c32); a new sleep is rung again, an awake step not at all, and
 * every wake-up that finds work rings a sleeper only once too. */
static void test_a_sleeper_is_rung_once_per_sleep(void)
{
	struct sure_chain *c = make_chain(2);
	uint32_t slot[6];
	uint64_t off;

	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 6; i++)
		CHECK_EQ(sure_chain_alloc(c, 10, &slot[i], &off), 0);
	/* Awake: nothing rung. */
	CHECK_EQ(sure_chain_submit(c, slot[0], (const uint8_t *)"a", 1, NULL), 0);
	CHECK_EQ(doorbell_count(c->wake_fd[0]), 0);
	/* Asleep (as step_sleep: a new sleep counted, then the flag): three
	 * pushes, one ring; the deferred wake-up finds it rung already. */
	sure_chain_sleeps(c, 0);
	__atomic_store_n(&c->sleeping[0], 1, __ATOMIC_SEQ_CST);
	for (int i = 1; i <= 3; i++)
		CHECK_EQ(sure_chain_submit(c, slot[i], (const uint8_t *)"b", 1, NULL), 0);
	sure_chain_wake_deferred(c);
	CHECK_EQ(doorbell_count(c->wake_fd[0]), 1);
	/* Its next sleep is rung again, once. */
	sure_chain_sleeps(c, 0);
	sure_chain_wake_deferred(c); /* work is waiting: rung */
	CHECK_EQ(sure_chain_submit(c, slot[4], (const uint8_t *)"c", 1, NULL), 0);
	CHECK_EQ(sure_chain_submit(c, slot[5], (const uint8_t *)"d", 1, NULL), 0);
	CHECK_EQ(doorbell_count(c->wake_fd[0]), 1);
	__atomic_store_n(&c->sleeping[0], 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(sure_chain_free(c, slot[i]), 0);
	CHECK_EQ(sure_chain_destroy(c), 0);
}

static void test_runaways_spare_steps_in_latency_mode(void)
{
	struct sure_chain *c = make_chain(2);
	struct sure_instance polling, runaway;
	struct timespec ts = { 0, 50000000 };
	uint32_t stopped = 0;
	uint64_t t0;

	CHECK(c != NULL);
	if (!c)
		return;
	memset(&polling, 0, sizeof(polling));
	memset(&runaway, 0, sizeof(runaway));
	polling.ch.notify_fd = runaway.ch.notify_fd = -1; /* stand-ins: no VM, no fds */
	polling.wake_fd = runaway.wake_fd = -1;
	static struct sure_ctrl ctrl, ctrl1; /* the control pages the guests would read */
	polling.ctrl = &ctrl;
	runaway.ctrl = &ctrl1;
	ctrl1.spin_us = SURE_SPIN_FOREVER; /* a guest's own claim of latency mode counts for nothing */
	CHECK_EQ(sure_instance_set_spin(&polling, SURE_SPIN_FOREVER), 0);
	CHECK_EQ(ctrl.spin_us, SURE_SPIN_FOREVER);
	CHECK_EQ(sure_instance_set_spin(NULL, 0), -EINVAL);
	c->seat[0].inst = &polling;
	c->seat[1].inst = &runaway;
	c->seat[0].slept = c->seat[1].slept = 1; /* both started, and awake now */
	t0 = sure_now_ns();
	while (!stopped && sure_now_ns() - t0 < 4000000000ull) {
		stopped = sure_chain_runaways(c);
		nanosleep(&ts, NULL);
	}
	CHECK_EQ(stopped, 2u); /* step 1 only */
	CHECK(sure_now_ns() - t0 >= (uint64_t)SURE_RUNAWAY_MS * 1000000u);
	CHECK_EQ(counters(c).runaways, 1);
	CHECK_EQ(runaway.ch.dead, 1);
	CHECK_EQ(polling.ch.dead, 0);
	c->seat[0].inst = c->seat[1].inst = NULL;
	CHECK_EQ(sure_chain_destroy(c), 0);
}

int main(void)
{
	RUN(test_copies_are_counted_where_they_happen);
	RUN(test_completions_are_checked_by_the_host);
	RUN(test_forged_completions_fail_nothing);
	RUN(test_each_step_sees_only_its_own_rings);
	RUN(test_request_isolation_gives_each_slot_its_key);
	RUN(test_the_holder_comes_from_evidence);
	RUN(test_a_queued_request_is_taken_back_unless_taken);
	RUN(test_a_step_cannot_route_to_itself);
	RUN(test_named_structs_check_their_size);
	RUN(test_guest_counters_never_go_back_nor_inflate);
	RUN(test_step_limits_are_held_by_the_host);
	RUN(test_step_deadlines_expire_queued_requests);
	RUN(test_unreported_answers_cannot_be_taken);
	RUN(test_runaways_spare_steps_in_latency_mode);
	RUN(test_a_sleeper_is_rung_once_per_sleep);
	return CHECK_DONE();
}
