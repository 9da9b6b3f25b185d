/*
 * gate_chain.c - a chain step's ring work, in the gate: take a descriptor
 * from an incoming ring and check it against the host's read-only table (its
 * capability included, sure_cap.h), admit it (the sidecar), hand the handler
 * only the request's addresses, and hand the descriptor on when the handler
 * is done. The function never sees a ring, a node page or a capability: where
 * guests have protection keys they are closed to it (SURE_PKEY_CHAIN), so it
 * can hand on only the request it holds, only where the routes allow, and
 * cannot name a request queued behind it. The host still trusts none of this
 * (chain_holder.c): the page tables decide who may write which ring, and the
 * capability who holds a request.
 */
#include "gate.h"
#include "sure_cap.h"
#include "sure_desc_fetch.h"

#define PUSH_SPIN_LIMIT 100000000ull /* TSC ticks: a consumer this stuck is dead */

static const struct sure_chain_meta *meta;
static uint8_t *pool;
static uint32_t self;
static int ready;
static struct sure_desc held; /* the request the handler has, while holding */
static int holding;
/* Per node: 1 + the count of its sleeps this step last rang WAKE for (0: none). */
static uint64_t rang[SURE_NODES];
/* Per node: its tail of ring(self -> node) as last read. Rings are never
 * reset and tails only grow, so room seen once is still there. */
static uint32_t seen_tail[SURE_NODES];
/* The slot of the last descriptor taken (checked): the host hands a freed
 * slot out again first, so the next request likely has the same one. */
static uint32_t last_slot;

static struct sure_ring *ring(uint32_t from, uint32_t to)
{
	return (struct sure_ring *)(pool + meta->ring_off +
				    (uint64_t)SURE_RING_INDEX(from, to) * SURE_RING_STRIDE);
}

static struct sure_node_state *node(uint32_t n)
{
	return (struct sure_node_state *)(pool + meta->node_off) + n;
}

static void doorbell(uint64_t offset, uint64_t value)
{
	*(volatile uint64_t *)(uintptr_t)(SURE_DOORBELL_GPA + offset) = value;
}

static void pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static int list_ok(const uint16_t *v, uint32_t n)
{
	if (n > SURE_NODES)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (v[i] >= SURE_NODES)
			return 0;
	return 1;
}

/* The host wrote the table; still, a table this code cannot use is refused. */
static int meta_ok(const struct sure_chain_meta *m, uint32_t step)
{
	uint64_t rings_end = m->ring_off + (uint64_t)SURE_NODES * SURE_NODES * SURE_RING_STRIDE;

	if (m->node_off + (uint64_t)SURE_NODES * sizeof(struct sure_node_state) > m->ring_off ||
	    m->magic != SURE_META_MAGIC || m->nsteps == 0 || m->nsteps > SURE_CHAIN_MAX_STEPS ||
	    step >= m->nsteps || m->nslots == 0 || m->nslots > SURE_CHAIN_MAX_SLOTS ||
	    m->nslots > SURE_RING_SLOTS || m->buf_size == 0 || m->buf_size % 4096 || m->nbuf == 0 ||
	    m->pool_size > SURE_POOL_MAX || rings_end > m->buf_off ||
	    m->buf_off + (uint64_t)m->nbuf * m->buf_size > m->pool_size ||
	    m->colours > SURE_CHAIN_COLOURS || (uint64_t)m->colours * m->colour_bufs > m->nbuf)
		return 0;
	const struct sure_step_meta *s = &m->step[step];
	return list_ok(s->next, s->n_next) && list_ok(s->in, s->n_in) &&
	       s->default_next < SURE_NODES;
}

uint64_t gate_chain_init(void)
{
	struct sure_gstate *g = gate_state();

	/* Which step this is comes from the gate state (the VMM's), never from
	 * the control page, which the function may have rewritten. */
	if (ready)
		return 0;
	if (!g->chain)
		return SURE_GATE_EINVAL;
	meta = (const struct sure_chain_meta *)(uintptr_t)SURE_META_GPA;
	pool = (uint8_t *)(uintptr_t)SURE_POOL_GPA;
	if (!meta_ok(meta, g->chain_step))
		return SURE_GATE_EINVAL;
	self = g->chain_step;
	__atomic_store_n(&node(self)->holding, 0, __ATOMIC_RELEASE); /* an instance before it held one */
	gate_copy(g->step_name, meta->step[self].name, SURE_STEP_NAME);
	g->step_name[SURE_STEP_NAME - 1] = 0;
	ready = 1;
	return 0;
}

static int allowed(uint32_t to)
{
	const struct sure_step_meta *s = &meta->step[self];

	for (uint32_t i = 0; i < s->n_next; i++)
		if (s->next[i] == to)
			return 1;
	return 0;
}

/* The host reads ring(from -> self) at pos itself before it believes this. */
static void bogus(uint32_t from, uint32_t pos)
{
	struct sure_ctrl *c = gate_ctrl();

	__atomic_store_n(&c->chain.bogus, c->chain.bogus + 1, __ATOMIC_RELAXED);
	doorbell(SURE_DOORBELL_BOGUS, (uint64_t)from | (uint64_t)pos << 32);
}

static void push(uint32_t next, struct sure_desc *d)
{
	struct sure_ring *r = ring(self, next);
	uint32_t h = r->head;
	uint64_t t0 = gate_rdtsc();

	d->from = (uint16_t)self;
	d->hops++;
	/* Rings hold at least as many entries as there are slots: full only if the
	 * consumer died with stale entries in it. Then give up on this request.
	 * The tail is read only when the one seen last leaves no room: the
	 * consumer writes its line at every take, so reading it each time cost
	 * a cache-line transfer in front of every hand-off. */
	while (h - seen_tail[next] >= SURE_RING_SLOTS) {
		seen_tail[next] = __atomic_load_n(&node(next)->tail[self].v, __ATOMIC_ACQUIRE);
		if (h - seen_tail[next] < SURE_RING_SLOTS)
			break;
		if (gate_rdtsc() - t0 > PUSH_SPIN_LIMIT)
			return;
		pause();
	}
	r->d[h % SURE_RING_SLOTS] = *d;
	r->d[h % SURE_RING_SLOTS].tsc = gate_rdtsc();
	/* Counted before publishing: whoever sees the result also sees the count. */
	struct sure_ctrl *c = gate_ctrl();
	__atomic_store_n(&c->chain.handoffs, c->chain.handoffs + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
	if (next != SURE_NODE_GW && __atomic_load_n(&c->defer_wake, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&c->spin_us, __ATOMIC_RELAXED) != SURE_SPIN_FOREVER &&
	    !__atomic_load_n(&node(next)->host, __ATOMIC_RELAXED))
		return; /* the host wakes next when this step sleeps (sure_abi.h) */
	/* Dekker with the consumer's sleep: it counts the sleep, sets sleeping,
	 * fences, looks at the ring; we publish, fence, look at sleeping. One
	 * ring per sleep: while a woken consumer has not run yet (on a shared
	 * CPU it waits for this very step to stop), more rings only cost exits. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&node(next)->sleeping, __ATOMIC_ACQUIRE)) {
		uint64_t sleep = __atomic_load_n(&node(next)->sleeps, __ATOMIC_ACQUIRE) + 1;
		if (rang[next] != sleep) {
			rang[next] = sleep;
			doorbell(SURE_DOORBELL_WAKE, next);
		}
	}
}

static void record_handoff(uint64_t stamped)
{
	struct sure_ctrl *c = gate_ctrl();
	uint64_t delta = gate_rdtsc() - stamped;
	int b = 0;

	/* Stamps come from another VM: a bogus one only skews statistics. */
	if ((int64_t)delta < 0)
		delta = 0;
	if (delta > 1) /* floor(log2(delta)), at most 31: one instruction, not a loop */
		b = 63 - __builtin_clzll(delta);
	if (b > 31)
		b = 31;
	c->chain.handoff_tsc_sum += delta;
	c->chain.handoff_hist[b]++;
}

/* Descriptors waiting on this step's incoming rings (behind the current one). */
static uint64_t backlog(void)
{
	const struct sure_step_meta *s = &meta->step[self];
	uint64_t n = 0;

	for (uint32_t i = 0; i < s->n_in; i++) {
		struct sure_ring *r = ring(s->in[i], self);
		n += (uint32_t)(__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) -
				node(self)->tail[s->in[i]].v) %
		     (SURE_RING_SLOTS + 1);
	}
	return n;
}

/*
 * Request-level isolation: the key of the slot's buffers and head block is
 * open in what the gate leaves PKRU at only while this step holds it. A
 * gate's exit writes gstate.exit_pkru and checks it (gate_entry.S).
 */
static void colour(uint32_t slot, int open)
{
	struct sure_gstate *g = gate_state();
	uint32_t key = SURE_PKEY_COLOUR0 + slot;

	g->exit_pkru = SURE_PKRU_FUNC;
	if (open && meta->colours && slot < meta->colours && key < SURE_PKEY_NKEYS)
		g->exit_pkru &= ~(SURE_PKRU_AD(key) | SURE_PKRU_WD(key));
}

static int sidecar_status(uint32_t reason)
{
	return reason == SURE_REASON_DEADLINE ? 504 : 429;
}

/* A checked descriptor: 1 if it is for the handler (then held), 2 if it went on from here. */
static int start(struct sure_desc *d, struct sure_gate_take *out)
{
	const struct sure_slot_meta *sm = &meta->slot[d->slot];
	uint64_t ext_bytes = (uint64_t)sm->nbuf * meta->buf_size;

	if (d->hops >= SURE_MAX_HOPS) {
		/* Sent back as this step's own descriptor: the node checks who sent it. */
		d->status = 508;
		d->len = 0;
		push(SURE_NODE_GW, d);
		__atomic_store_n(&node(self)->holding, 0, __ATOMIC_RELEASE);
		return 2;
	}
	/* The request's trace id and start are the host's (read-only table);
	 * its parent span is the previous hop's, in the descriptor. */
	struct sure_trace trace = { .flags = sm->trace_flags };
	gate_copy(trace.trace_id, sm->trace_id, 16);
	gate_copy(trace.parent_id, d->parent_id, 8);
	gate_trace_set(&trace);
	uint32_t reason = (uint32_t)gate_admit(sm->start_tsc, backlog());
	if (reason != SURE_REASON_HANDLER) {
		d->status = (uint16_t)sidecar_status(reason);
		gate_record(0, d->status, reason);
		d->len = 0;
		d->reason = reason;
		push(SURE_NODE_GW, d);
		__atomic_store_n(&node(self)->holding, 0, __ATOMIC_RELEASE);
		return 2;
	}
	uint64_t heads = SURE_POOL_GPA + meta->head_off + (uint64_t)d->slot * SURE_SLOT_HEAD_SIZE;
	uint64_t ext[2];
	for (int e = 0; e < 2; e++)
		ext[e] = SURE_POOL_GPA + meta->buf_off + (uint64_t)sm->first[e] * meta->buf_size;
	out->body = ext[d->ext];
	out->out = ext[!d->ext];
	out->len = d->len;
	out->out_cap = ext_bytes;
	/* The status so far (a step that sets none keeps the one before it). */
	out->status = d->status >= 100 && d->status <= 599 ? d->status : 200;
	out->head = heads;
	out->resp_head = heads + SURE_REQ_HEAD_CAP;
	held = *d;
	holding = 1; /* node(self)->holding says so already: poll_ring */
	colour(d->slot, 1);
	return 1;
}

/* Takes one descriptor from ring(from -> self): 0 if there was none. */
static int poll_ring(uint32_t from, struct sure_gate_take *out)
{
	struct sure_ring *r = ring(from, self);
	volatile uint32_t *tail = &node(self)->tail[from].v;
	uint32_t t = *tail;

	/* Fetched while the head is read, not after it: the next descriptor
	 * and the table entry it most likely names (one cache line each). */
	__builtin_prefetch(&r->d[t % SURE_RING_SLOTS]);
	__builtin_prefetch(&meta->slot[last_slot]);
	if (t == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE))
		return 0;
	struct sure_desc d;
	sure_desc_fetch(&d, &r->d[t % SURE_RING_SLOTS]);

	/* Judged before the tail moves: a request this step takes says so in
	 * its node page first (holding), so the host never sees it taken and
	 * held by nobody (it would answer a timeout and free a slot the handler
	 * is about to run on). */
	const struct sure_slot_meta *sm = d.slot < meta->nslots ? &meta->slot[d.slot] : 0;
	int stale = sm && (!__atomic_load_n(&sm->live, __ATOMIC_ACQUIRE) || sm->gen != d.gen);
	int broken = !sm || (!stale && (sure_cap_check(d.cap, d.slot, d.gen) != sm->check ||
					 d.ext > 1 || d.from != from ||
					 (uint64_t)d.len > (uint64_t)sm->nbuf * meta->buf_size ||
					 sm->first[0] + (uint64_t)sm->nbuf > meta->nbuf ||
					 sm->first[1] + (uint64_t)sm->nbuf > meta->nbuf));
	if (!stale && !broken) {
		__atomic_store_n(&node(self)->holding, SURE_HOLDING(d.slot, d.gen),
				 __ATOMIC_SEQ_CST);
		/* Dekker with the host taking a queued request back (a timeout,
		 * sure_chain_take_back): it clears live, fences and looks at
		 * holding; this says holding, fences and looks at live again. One
		 * of the two sees the other: the host leaves it to this step, or
		 * this step drops it, never both running and freed. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&sm->live, __ATOMIC_SEQ_CST) || sm->gen != d.gen) {
			stale = 1;
			__atomic_store_n(&node(self)->holding, 0, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);

	if (broken) {
		/* Only a step that held this request has its capability. */
		bogus(from, t);
		return 2;
	}
	if (stale) {
		/* The host failed or freed this request meanwhile: not anyone's fault. */
		gate_ctrl()->chain.stale++;
		return 2;
	}
	record_handoff(d.tsc);
	last_slot = d.slot;
	return start(&d, out);
}

uint64_t gate_chain_take(uint64_t out)
{
	struct sure_gate_take t = { 0 };
	const struct sure_step_meta *s;
	int got = 0;

	if (!ready || holding || !gate_user_ok(out, sizeof(t)))
		return SURE_GATE_EINVAL;
	s = &meta->step[self];
	for (uint32_t i = 0; i < s->n_in && got != 1; i++) {
		int r = poll_ring(s->in[i], &t);
		if (r == 1 || got == 0)
			got = r;
	}
	if (got == 1)
		gate_copy((void *)(uintptr_t)out, &t, sizeof(t));
	return (uint64_t)got;
}

uint64_t gate_chain_give(uint64_t in)
{
	struct sure_gate_give g;
	struct sure_ctrl *c = gate_ctrl();

	if (!ready || !holding || !gate_user_ok(in, sizeof(g)))
		return SURE_GATE_EINVAL;
	gate_copy(&g, (const void *)(uintptr_t)in, sizeof(g));
	struct sure_desc *d = &held;
	const struct sure_slot_meta *sm = &meta->slot[d->slot];
	uint64_t ext_bytes = (uint64_t)sm->nbuf * meta->buf_size;
	uint32_t status = g.status;
	uint32_t why = SURE_REASON_HANDLER;

	holding = 0;
	__atomic_store_n(&node(self)->holding, 0, __ATOMIC_RELEASE);
	colour(d->slot, 0);
	c->busy_tsc += g.handler_ticks;
	c->chain.handled++;
	/* A failed handler's output is dropped and the request goes straight
	 * back (status 500 >= 400 below): the node answers 500 naming rc. */
	if (g.rc != 0) {
		why = SURE_REASON_FAILED;
		status = 500;
		g.inplace = 0;
		g.out_len = 0;
	}
	if (status < 100 || status > 599)
		status = 500;
	gate_done(g.handler_ticks, status);
	gate_record(g.handler_ticks, status, why);
	gate_trace_parent(d->parent_id);
	if (g.inplace) {
		d->len = g.len <= ext_bytes ? (uint32_t)g.len : 0;
	} else {
		d->ext = !d->ext;
		d->len = g.out_len <= ext_bytes ? (uint32_t)g.out_len : 0;
		c->chain.copied += d->len; /* the answer went into the other extent */
	}
	uint32_t next = g.next >= 0 ? (uint32_t)g.next : meta->step[self].default_next;
	/* An error answer goes straight back: later steps would only see garbage. */
	if (status >= 400 || next >= SURE_NODES || !allowed(next))
		next = SURE_NODE_GW;
	d->status = (uint16_t)status;
	d->reason = why;
	d->rc = g.rc;
	push(next, d);
	return 0;
}

uint64_t gate_chain_next(uint64_t name)
{
	char want[SURE_STEP_NAME];
	uint32_t n = 0;

	if (!ready)
		return (uint64_t)-1;
	/* A name from the function: bytes it may hand over, at most a step name long. */
	while (n < SURE_STEP_NAME && gate_user_ok(name + n, 1)) {
		want[n] = *(const char *)(uintptr_t)(name + n);
		if (!want[n++])
			break;
	}
	if (n == 0 || want[n - 1] != 0)
		return (uint64_t)-1;
	for (uint32_t j = 0; j < meta->nsteps; j++) {
		const char *have = meta->step[j].name;
		uint32_t k = 0;
		while (k < n && have[k] == want[k] && want[k])
			k++;
		if (k + 1 != n || have[k] != 0)
			continue;
		if (allowed(j))
			return j;
		/* A step of this chain, but the routes (the chain's policy) forbid it. */
		gate_policy_denied();
		return (uint64_t)-2;
	}
	return (uint64_t)-1;
}

uint64_t gate_chain_sleep(uint64_t asleep)
{
	const struct sure_step_meta *s;

	if (!ready)
		return SURE_GATE_EINVAL;
	if (!asleep) {
		node(self)->sleeping = 0;
		return 0;
	}
	__atomic_store_n(&node(self)->sleeps, node(self)->sleeps + 1, __ATOMIC_RELEASE);
	node(self)->sleeping = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s = &meta->step[self];
	for (uint32_t i = 0; i < s->n_in; i++)
		if (__atomic_load_n(&ring(s->in[i], self)->head, __ATOMIC_ACQUIRE) !=
		    node(self)->tail[s->in[i]].v)
			return 1;
	return 0;
}
