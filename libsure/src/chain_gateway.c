/*
 * chain_gateway.c - the node's side of a chain: it copies a request's body
 * into its slot and hands it to step 0, collects what the steps hand back to
 * the gateway, and copies answers out. These are the only copies the node
 * makes, and they are counted here, where they happen. Everything read from
 * the pool is untrusted and checked against the host-private slot state and
 * the read-only table before it is used.
 */
#include "chain.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <x86intrin.h>

#include "sure_desc_fetch.h"
#include "util.h"

#define WAIT_SPIN_NS 20000u

int sure_chain_push(struct sure_chain *c, uint32_t slot, const uint8_t *body, uint32_t len,
		    const uint8_t *trace, const struct sure_chain_hop *hop)
{
	struct sure_ring *r;
	uint32_t h, from = hop ? hop->from : SURE_NODE_GW, to = hop ? hop->to : 0;

	if (!c || slot >= c->nslots || (len && !body) || to >= c->nsteps ||
	    (from != SURE_NODE_GW && from >= c->nsteps) || from == to ||
	    __atomic_load_n(&c->state[slot], __ATOMIC_ACQUIRE) != SLOT_INFLIGHT)
		return -EINVAL;
	if ((uint64_t)len > sure_chain_extent_bytes(c, slot))
		return -E2BIG;
	r = sure_chain_ring(c, from, to);
	h = r->head;
	if (h - sure_load(sure_chain_tail(c, from, to)) >= SURE_RING_SLOTS)
		return -ENOSPC;
	/* The one copy on the way in: the body into extent 0 (none when the
	 * caller received it there). */
	uint8_t *dst = c->bufs + (uint64_t)c->m->slot[slot].first[0] * c->buf_size;
	if (len && body != dst) {
		memcpy(dst, body, len);
		__atomic_add_fetch(&c->copied_in, len, __ATOMIC_RELAXED);
	}
	/* A new request: the caller wrote the request head; the steps add
	 * response headers here. A request back from another node keeps what
	 * this node's steps added before. */
	if (!hop || hop->fresh) {
		__atomic_add_fetch(&c->submitted, 1, __ATOMIC_RELAXED);
		sure_http_resp_head_reset(c->heads + (uint64_t)slot * SURE_SLOT_HEAD_SIZE +
					  SURE_REQ_HEAD_CAP);
	}
	/* The request's context, in the read-only table: the trace id and when
	 * the node took it (deadlines); the parent span travels in the descriptor. */
	struct sure_slot_meta *sm = &c->m->slot[slot];
	struct sure_trace *t = &c->trace[slot];
	memset(t, 0, sizeof(*t));
	if (trace) {
		memcpy(t->trace_id, trace, 16);
		memcpy(t->parent_id, trace + 16, 8);
		t->flags = trace[24];
	}
	memcpy(sm->trace_id, t->trace_id, 16);
	sm->trace_flags = t->flags;
	struct sure_desc *d = &r->d[h % SURE_RING_SLOTS];
	*d = (struct sure_desc){
		.slot = slot,
		.len = len,
		.gen = sm->gen,
		.from = (uint16_t)from,
		.hops = hop ? hop->hops : 0,
		.status = hop ? hop->status : 0,
		.tsc = __rdtsc(),
		.cap = { c->cap[slot][0], c->cap[slot][1] },
	};
	memcpy(d->parent_id, t->parent_id, 8);
	sm->start_tsc = d->tsc;
	sure_store(&r->head, h + 1);
	sure_fence(); /* Dekker with the step's sleep: push, fence, look */
	sure_chain_wake_sleeper(c, to);
	return 0;
}

/* Called on the node's thread for every request: no syscall unless step 0 sleeps. */
SURE_API int sure_chain_submit(struct sure_chain *c, uint32_t slot, const uint8_t *body,
			       uint32_t len, const uint8_t *trace)
{
	return sure_chain_push(c, slot, body, len, trace, NULL);
}

/*
 * Validates one descriptor from ring(step -> to). `lock` held. Returns 1 if
 * it is good: a completion (to is the gateway: the slot is done) or a
 * hand-off to a step another node runs (the slot stays in flight). A step
 * that sent a bogus one is added to *stop.
 */
static int take_desc(struct sure_chain *c, uint32_t step, uint32_t to, const struct sure_desc *d,
		     struct sure_completion *out, uint32_t *stop)
{
	uint32_t slot = d->slot;

	switch (sure_chain_judge(c, step, to, d)) {
	case SURE_DESC_STALE:
		return 0; /* finished, freed or failed meanwhile: late, nobody's fault */
	case SURE_DESC_FORGED:
		/* Only step wrote this ring: it named a request it never held. That
		 * request is not its to fail; step is stopped. */
		c->bogus++;
		*stop |= 1u << step;
		return 0;
	case SURE_DESC_BOGUS:
		c->bogus++;
		if (slot < c->nslots) /* its own request, broken on the way out */
			sure_chain_fail_slot(c, slot, SURE_CE_BOGUS, (uint16_t)step, 502);
		*stop |= 1u << step;
		return 0;
	case SURE_DESC_OK:
		break;
	}
	uint16_t status = d->status ? d->status : 200;
	if (to == SURE_NODE_GW) {
		c->state[slot] = SLOT_DONE;
		c->completed++;
	} else {
		status = d->status; /* travels on as it is */
	}
	memcpy(c->trace[slot].parent_id, d->parent_id, 8); /* the last hop's span */
	*out = (struct sure_completion){
		.slot = slot,
		.len = d->len,
		.offset = (uint64_t)c->m->slot[slot].first[d->ext] * c->buf_size,
		.status = to != SURE_NODE_GW || (status >= 100 && status <= 599) ? status : 502,
		.error = d->hops > SURE_MAX_HOPS ? SURE_CE_LOOP : SURE_CE_OK,
		.node = (uint16_t)step,
		.hops = d->hops,
		.reason = d->reason <= SURE_REASON_FAILED ? (uint16_t)d->reason : 0,
		.rc = d->reason == SURE_REASON_FAILED ? d->rc : 0,
	};
	if (to == SURE_NODE_GW)
		c->done[slot] = *out;
	return 1;
}

/* Failures first (for the gateway), then every ring into `to`. `lock` held. */
static uint32_t collect(struct sure_chain *c, uint32_t to, struct sure_completion *out,
			uint32_t max, uint32_t *stop)
{
	uint32_t n = 0;

	while (to == SURE_NODE_GW && c->fq_n > 0 && n < max)
		out[n++] = c->fq[--c->fq_n];
	for (uint32_t s = 0; s < c->nsteps && n < max; s++) {
		if (s == to)
			continue;
		struct sure_ring *r = sure_chain_ring(c, s, to);
		volatile uint32_t *tail = sure_chain_tail(c, s, to);
		uint32_t t = *tail, h = sure_load(&r->head);

		/* A head more than a ring ahead is a lie: take one ring's worth. */
		if (h - t > SURE_RING_SLOTS)
			h = t + SURE_RING_SLOTS;
		for (; t != h && n < max; t++) {
			struct sure_desc d;
			sure_desc_fetch(&d, &r->d[t % SURE_RING_SLOTS]);
			n += (uint32_t)take_desc(c, s, to, &d, &out[n], stop);
			while (to == SURE_NODE_GW && c->fq_n > 0 && n < max) /* a bogus one just failed */
				out[n++] = c->fq[--c->fq_n];
		}
		sure_store(tail, t);
	}
	return n;
}

uint32_t sure_chain_collect_for(struct sure_chain *c, uint32_t to, struct sure_completion *out,
				uint32_t max)
{
	uint32_t stop = 0, n;

	if (to == SURE_NODE_GW)
		sure_chain_expire_waiting(c); /* its failures are reported below */
	pthread_mutex_lock(&c->lock);
	n = collect(c, to, out, max, &stop);
	pthread_mutex_unlock(&c->lock);
	if (stop)
		sure_chain_stop_steps(c, stop);
	return n;
}

void sure_chain_refuse_sender(struct sure_chain *c, uint32_t step)
{
	if (step >= c->nsteps)
		return;
	pthread_mutex_lock(&c->lock);
	c->bogus++;
	pthread_mutex_unlock(&c->lock);
	sure_chain_stop_steps(c, 1u << step);
}

/* One look at the rings; the steps that lied are stopped once the lock is gone. */
uint32_t sure_chain_collect(struct sure_chain *c, struct sure_completion *out, uint32_t max)
{
	return sure_chain_collect_for(c, SURE_NODE_GW, out, max);
}

SURE_API int sure_chain_wait(struct sure_chain *c, struct sure_completion *out, uint32_t max,
			     uint32_t timeout_ms)
{
	uint64_t start = sure_now_ns();
	uint64_t deadline = start + (uint64_t)timeout_ms * 1000000ull;
	uint32_t n;

	if (!c || !out || max == 0)
		return -EINVAL;
	for (;;) {
		n = sure_chain_collect(c, out, max);
		if (n > 0)
			break;
		uint64_t now = sure_now_ns();
		if (now >= deadline)
			break;
		if (now - start < WAIT_SPIN_NS) {
			__builtin_ia32_pause();
			continue;
		}
		/* Tell producers to ring WAKE, then look once more before sleeping. */
		sure_chain_sleeps(c, SURE_NODE_GW);
		sure_store(&c->sleeping[SURE_NODE_GW], 1);
		sure_store(&c->nodes[SURE_NODE_GW].sleeping, 1);
		sure_fence();
		n = sure_chain_collect(c, out, max);
		if (n == 0) {
			struct pollfd p = { .fd = c->wake_fd[SURE_NODE_GW], .events = POLLIN };
			uint64_t ms = (deadline - now + 999999) / 1000000;
			/* Steps with deadlines: look at their queues every few ms;
			 * and so at hand-offs whose WAKE was deferred. */
			if ((__atomic_load_n(&c->deadlines, __ATOMIC_RELAXED) || c->seat[0].defer_wake) &&
			    ms > 5)
				ms = 5;
			sure_chain_wake_deferred(c);
			poll(&p, 1, (int)ms);
			sure_chain_drain_fd(c->wake_fd[SURE_NODE_GW]);
		}
		sure_store(&c->nodes[SURE_NODE_GW].sleeping, 0);
		sure_store(&c->sleeping[SURE_NODE_GW], 0);
		if (n > 0)
			break;
	}
	return (int)n;
}

SURE_API void sure_chain_wake(struct sure_chain *c)
{
	if (c)
		sure_chain_kick(c, SURE_NODE_GW);
}

/* The slot's completion is still queued (an expiry sets SLOT_DONE before
 * sure_chain_wait reports it). `lock` held. */
static int completion_queued(const struct sure_chain *c, uint32_t slot)
{
	for (uint32_t i = 0; i < c->fq_n; i++)
		if (c->fq[i].slot == slot)
			return 1;
	return 0;
}

SURE_API int sure_chain_take(struct sure_chain *c, uint32_t slot, uint8_t *dst, uint32_t cap)
{
	struct sure_completion done;

	if (!c || slot >= c->nslots || (cap && !dst))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	/* Only an answer the caller was told of: one it guessed is not its yet. */
	if (c->state[slot] != SLOT_DONE || completion_queued(c, slot)) {
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	done = c->done[slot];
	pthread_mutex_unlock(&c->lock);
	if (done.len > cap)
		return -E2BIG;
	/* The one copy on the way out. Only the caller frees a DONE slot, so its
	 * buffers stay the request's until sure_chain_free below. */
	if (done.len)
		memcpy(dst, c->bufs + done.offset, done.len);
	__atomic_add_fetch(&c->copied_out, done.len, __ATOMIC_RELAXED);
	sure_chain_free(c, slot);
	return (int)done.len;
}

int sure_chain_where(struct sure_chain *c, uint32_t slot, int *queued)
{
	uint32_t at;

	if (!c || slot >= c->nslots)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	at = sure_chain_holder(c, slot, queued);
	pthread_mutex_unlock(&c->lock);
	return at < c->nsteps ? (int)at : SURE_NODE_GW;
}

SURE_API int sure_chain_locate(struct sure_chain *c, uint32_t slot)
{
	return sure_chain_where(c, slot, NULL);
}

/*
 * Dekker with a step's gate taking the request (gate_chain.c poll_ring): the
 * gate says it holds it (holding), fences and looks at the slot's live flag
 * again; this clears live, fences and looks at holding. One of the two sees
 * the other's store: the gate drops the request as stale, or this sees it
 * held and puts live back (the step runs it, as any request it holds). A
 * gate that saw both drops it while this believes it held: the caller stops
 * a step for a request it let go, never frees a slot a handler runs on.
 */
SURE_API int sure_chain_take_back(struct sure_chain *c, uint32_t slot, uint32_t *where)
{
	int queued = 0, rc = 0;

	if (!c || slot >= c->nslots)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	uint32_t at = sure_chain_holder(c, slot, &queued);
	if (where)
		*where = at < c->nsteps ? at : SURE_NODE_GW;
	if (queued) {
		struct sure_slot_meta *sm = &c->m->slot[slot];
		__atomic_store_n(&sm->live, 0, __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (at < c->nsteps && !(c->host_takes & (1u << at)) &&
		    sure_load(&c->nodes[at].holding) == SURE_HOLDING(slot, sm->gen))
			__atomic_store_n(&sm->live, 1, __ATOMIC_RELEASE);
		else
			rc = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

SURE_API int sure_chain_queued(struct sure_chain *c, uint32_t slot)
{
	int queued = 0;
	int rc = sure_chain_where(c, slot, &queued);

	return rc < 0 ? rc : queued;
}
