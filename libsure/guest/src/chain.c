/*
 * chain.c - the request loop of an instance that is one step of a chain.
 * Descriptors arrive on this step's incoming rings in the chain's pool; the
 * function runs on the request's buffer where it lies; the descriptor moves on
 * to the next step's ring (or the gateway's). No byte is copied and, while
 * requests keep coming, no VM exit happens. Descriptors come from other VMs,
 * so each is checked against the host's read-only table before use, its
 * capability included (sure_cap.h). This VM's page tables show only its own
 * rings and node page (sure_chain_abi.h): the host, not this code, makes sure
 * nobody else writes them.
 */
#include "sg.h"
#include "sg_chain.h"
#include "sg_sidecar.h"
#include "sure_cap.h"

#define SPIN_US 50
#define TSC_HZ_GUESS 3000000000ull
#define PUSH_SPIN_LIMIT 100000000ull /* TSC ticks: a consumer this stuck is dead */

static const struct sure_chain_meta *meta;
static uint8_t *pool;
static uint32_t self;
static uint64_t spin_ticks;

int sg_chain_mode;

static struct sure_ring *ring(uint32_t from, uint32_t to)
{
	return (struct sure_ring *)(pool + meta->ring_off +
				    (uint64_t)SURE_RING_INDEX(from, to) * SURE_RING_STRIDE);
}

static struct sure_node_state *node(uint32_t n)
{
	return (struct sure_node_state *)(pool + meta->node_off) + n;
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

/* The host wrote the table; still, a table this code cannot use is fatal. */
static int meta_ok(const struct sure_ctrl *c)
{
	const struct sure_chain_meta *m = meta;
	uint64_t rings_end = m->ring_off + (uint64_t)SURE_NODES * SURE_NODES * SURE_RING_STRIDE;

	if (m->node_off + (uint64_t)SURE_NODES * sizeof(struct sure_node_state) > m->ring_off ||
	    m->magic != SURE_META_MAGIC || m->nsteps == 0 || m->nsteps > SURE_CHAIN_MAX_STEPS ||
	    c->chain_step >= m->nsteps || m->nslots == 0 || m->nslots > SURE_CHAIN_MAX_SLOTS ||
	    m->nslots > SURE_RING_SLOTS || m->buf_size == 0 || m->buf_size % 4096 || m->nbuf == 0 ||
	    m->pool_size > SURE_POOL_MAX || rings_end > m->buf_off ||
	    m->buf_off + (uint64_t)m->nbuf * m->buf_size > m->pool_size)
		return 0;
	const struct sure_step_meta *s = &m->step[c->chain_step];
	return list_ok(s->next, s->n_next) && list_ok(s->in, s->n_in) &&
	       s->default_next < SURE_NODES;
}

static int allowed(uint32_t node)
{
	const struct sure_step_meta *s = &meta->step[self];

	for (uint32_t i = 0; i < s->n_next; i++)
		if (s->next[i] == node)
			return 1;
	return 0;
}

int sg_chain_next(sure_req *req, const char *name)
{
	if (!sg_chain_mode || !req || !name)
		return -1;
	for (uint32_t j = 0; j < meta->nsteps; j++) {
		if (strncmp(meta->step[j].name, name, SURE_STEP_NAME) != 0)
			continue;
		if (allowed(j)) {
			req->sg_next = (int)j;
			return 0;
		}
		/* A step of this chain, but the routes (the chain's policy) forbid it. */
		sg_sidecar_policy_denied();
		sure_log("policy: %s may not hand off to %s", meta->step[self].name, name);
		return -1;
	}
	return -1;
}

const char *sg_chain_step_name(void)
{
	return sg_chain_mode ? meta->step[self].name : "";
}

/* The host reads ring(from -> self) at pos itself before it believes this. */
static void bogus(uint32_t from, uint32_t pos)
{
	struct sure_ctrl *c = sg_ctrl();

	__atomic_store_n(&c->chain.bogus, c->chain.bogus + 1, __ATOMIC_RELAXED);
	sg_doorbell(SURE_DOORBELL_BOGUS, (uint64_t)from | (uint64_t)pos << 32);
}

static void push(uint32_t next, const struct sure_desc *d)
{
	struct sure_ring *r = ring(self, next);
	uint32_t h = r->head;
	uint64_t t0 = sg_rdtsc();

	/* Rings hold at least as many entries as there are slots: full only if the
	 * consumer died with stale entries in it. Then give up on this request. */
	while (h - sg_load(&node(next)->tail[self].v) >= SURE_RING_SLOTS) {
		if (sg_rdtsc() - t0 > PUSH_SPIN_LIMIT)
			return;
		sg_pause();
	}
	r->d[h % SURE_RING_SLOTS] = *d;
	r->d[h % SURE_RING_SLOTS].tsc = sg_rdtsc();
	/* Counted before publishing: whoever sees the result also sees the count. */
	struct sure_ctrl *c = sg_ctrl();
	__atomic_store_n(&c->chain.handoffs, c->chain.handoffs + 1, __ATOMIC_RELEASE);
	sg_store(&r->head, h + 1);
	/* Dekker with the consumer's sleep: it sets sleeping, fences, looks at
	 * the ring; we publish, fence, look at sleeping. */
	sg_fence();
	if (sg_load(&node(next)->sleeping))
		sg_doorbell(SURE_DOORBELL_WAKE, next);
}

static void record_handoff(uint64_t stamped)
{
	struct sure_ctrl *c = sg_ctrl();
	uint64_t delta = sg_rdtsc() - stamped;
	int b = 0;

	/* Stamps come from another VM: a bogus one only skews statistics. */
	if ((int64_t)delta < 0)
		delta = 0;
	while (b < 31 && (delta >> (b + 1)) != 0)
		b++;
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
		n += (uint32_t)(sg_load(&r->head) - node(self)->tail[s->in[i]].v) %
		     (SURE_RING_SLOTS + 1);
	}
	return n;
}

static void run(struct sure_desc *d)
{
	const struct sure_slot_meta *sm = &meta->slot[d->slot];
	uint64_t ext_bytes = (uint64_t)sm->nbuf * meta->buf_size;
	uint8_t *ext[2];
	struct sure_ctrl *c = sg_ctrl();

	for (int e = 0; e < 2; e++)
		ext[e] = pool + meta->buf_off + (uint64_t)sm->first[e] * meta->buf_size;
	if (d->hops >= SURE_MAX_HOPS) {
		/* Sent back as this step's own descriptor: the node checks who sent it. */
		d->status = 508;
		d->len = 0;
		d->from = (uint16_t)self;
		d->hops++;
		push(SURE_NODE_GW, d);
		return;
	}
	/* The request's trace id and start are the host's (read-only table);
	 * its parent span is the previous hop's, in the descriptor. */
	struct sure_trace trace = { .flags = sm->trace_flags };
	memcpy(trace.trace_id, sm->trace_id, 16);
	memcpy(trace.parent_id, d->parent_id, 8);
	sg_trace_enter(&trace);
	uint32_t reason = sg_sidecar_admit(sm->start_tsc, backlog());
	if (reason != SURE_REASON_HANDLER) {
		d->status = (uint16_t)sg_sidecar_status(reason);
		sg_sidecar_record(0, d->status, reason);
		d->len = 0;
		d->reason = reason;
		d->from = (uint16_t)self;
		d->hops++;
		push(SURE_NODE_GW, d);
		return;
	}
	/* The slot's head blocks: the node wrote the request's, every step adds
	 * to the response's (meta is read-only, so head_off can be trusted). */
	uint8_t *heads = pool + meta->head_off + (uint64_t)d->slot * SURE_SLOT_HEAD_SIZE;
	sure_req req = {
		.body = ext[d->ext],
		.len = d->len,
		.out = ext[!d->ext],
		.out_cap = ext_bytes,
		/* The status so far (a step that sets none keeps the one before it). */
		.status = d->status >= 100 && d->status <= 599 ? d->status : 200,
		.sg_next = -1,
		.sg_head = heads,
		.sg_resp_head = heads + SURE_REQ_HEAD_CAP,
	};
	uint64_t t0 = sg_rdtsc();
	int rc = handle(&req);
	uint64_t spent = sg_rdtsc() - t0;
	sg_flush_stdio();
	c->busy_tsc += spent;
	c->chain.handled++;

	uint32_t why = SURE_REASON_HANDLER;
	/* A failed handler's output is dropped and the request goes straight
	 * back (status 500 >= 400 below): the node answers 500 naming rc. */
	if (rc != 0) {
		why = SURE_REASON_FAILED;
		req.status = 500;
		req.sg_inplace = 0;
		req.out_len = 0;
	}
	if (req.status < 100 || req.status > 599)
		req.status = 500;
	sg_sidecar_done(spent, req.status);
	sg_sidecar_record(spent, req.status, why);
	sg_trace_pass(&trace);
	memcpy(d->parent_id, trace.parent_id, 8);
	if (req.sg_inplace) {
		/* sure_inplace bounded len by the buffer; a scribbled value is not trusted. */
		d->len = req.len <= ext_bytes ? (uint32_t)req.len : 0;
	} else {
		d->ext = !d->ext;
		d->len = req.out_len <= ext_bytes ? (uint32_t)req.out_len : 0;
		c->chain.copied += d->len; /* the answer went into the other extent */
	}
	uint32_t next = req.sg_next >= 0 ? (uint32_t)req.sg_next : meta->step[self].default_next;
	/* An error answer goes straight back: later steps would only see garbage. */
	if (req.status >= 400 || !allowed(next))
		next = SURE_NODE_GW;
	d->status = (uint16_t)req.status;
	d->reason = why;
	d->rc = rc;
	d->from = (uint16_t)self;
	d->hops++;
	push(next, d);
}

/* Takes one descriptor from ring(from -> self); returns 1 if there was one. */
static int poll_ring(uint32_t from)
{
	struct sure_ring *r = ring(from, self);
	volatile uint32_t *tail = &node(self)->tail[from].v;
	uint32_t t = *tail;

	if (t == sg_load(&r->head))
		return 0;
	struct sure_desc d = r->d[t % SURE_RING_SLOTS];
	sg_store(tail, t + 1);

	if (d.slot >= meta->nslots) {
		bogus(from, t);
		return 1;
	}
	const struct sure_slot_meta *sm = &meta->slot[d.slot];
	if (!sg_load(&sm->live) || sm->gen != d.gen) {
		/* The host failed or freed this request meanwhile: not anyone's fault. */
		struct sure_ctrl *c = sg_ctrl();
		c->chain.stale++;
		return 1;
	}
	/* Only a step that held this request has its capability. */
	if (sure_cap_check(d.cap, d.slot, d.gen) != sm->check || d.ext > 1 || d.from != from ||
	    (uint64_t)d.len > (uint64_t)sm->nbuf * meta->buf_size ||
	    sm->first[0] + (uint64_t)sm->nbuf > meta->nbuf ||
	    sm->first[1] + (uint64_t)sm->nbuf > meta->nbuf) {
		bogus(from, t);
		return 1;
	}
	record_handoff(d.tsc);
	run(&d);
	return 1;
}

static int poll_all(void)
{
	const struct sure_step_meta *s = &meta->step[self];
	int got = 0;

	for (uint32_t i = 0; i < s->n_in; i++)
		got |= poll_ring(s->in[i]);
	return got;
}

__attribute__((noreturn)) void sg_serve_chain(void)
{
	struct sure_ctrl *c = sg_ctrl();
	uint64_t hz = c->tsc_hz ? c->tsc_hz : TSC_HZ_GUESS;

	spin_ticks = hz / 1000000 * SPIN_US;
	sg_sidecar_init(hz);
	for (;;) {
		uint64_t idle_since = sg_rdtsc();

		while (sg_rdtsc() - idle_since < spin_ticks) {
			if (poll_all())
				idle_since = sg_rdtsc();
			else
				sg_pause();
		}
		node(self)->sleeping = 1;
		sg_fence();
		if (!poll_all())
			sg_doorbell(SURE_DOORBELL_SLEEP, 0);
		node(self)->sleeping = 0;
	}
}

int sg_chain_init(void)
{
	struct sure_ctrl *c = sg_ctrl();

	if (c->chain_meta_gva == 0)
		return 0;
	if (c->chain_meta_gva != SURE_META_GPA)
		return -1;
	meta = (const struct sure_chain_meta *)(uintptr_t)SURE_META_GPA;
	pool = (uint8_t *)(uintptr_t)SURE_POOL_GPA;
	if (!meta_ok(c))
		return -1;
	self = c->chain_step;
	sg_chain_mode = 1;
	return 0;
}
