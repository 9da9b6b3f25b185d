/*
 * chain.c - a chain's pool and the gateway's side of it: slots, submission,
 * completions and failures. The guests move descriptors between themselves
 * without the host; the host only sees the rings into and out of the chain.
 * Everything read from the pool is untrusted and checked against the
 * host-private slot state and the read-only meta before it is used.
 */
#include "chain.h"

#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "instance.h"
#include "util.h"

#define POOL_MAX_BYTES (256ull << 20) /* page tables of every VM must cover it */
#define WAIT_SPIN_NS 20000u

static uint64_t page_up(uint64_t n)
{
	return (n + SURE_PAGE_SIZE - 1) & ~(SURE_PAGE_SIZE - 1);
}

static void fill_steps(struct sure_chain *c, const char *names, const uint8_t *routes,
		       const uint16_t *default_next)
{
	for (uint32_t i = 0; i < c->nsteps; i++) {
		struct sure_step_meta *s = &c->m->step[i];
		memcpy(s->name, names + i * SURE_STEP_NAME, SURE_STEP_NAME - 1);
		s->default_next = default_next[i];
		for (uint32_t j = 0; j < SURE_NODES; j++) {
			/* Every step may finish: the gateway is always a next hop. */
			if (j == SURE_NODE_GW || (j < c->nsteps && routes[i * SURE_NODES + j]))
				s->next[s->n_next++] = (uint16_t)j;
		}
		if (i == 0)
			s->in[s->n_in++] = SURE_NODE_GW;
		for (uint32_t p = 0; p < c->nsteps; p++)
			if (routes[p * SURE_NODES + i])
				s->in[s->n_in++] = (uint16_t)p;
	}
}

static int check_config(uint32_t nsteps, const char *names, const uint8_t *routes,
			const uint16_t *default_next, uint32_t nbuf, uint32_t buf_size,
			uint32_t nslots, char *err, size_t errcap)
{
	if (!names || !routes || !default_next)
		return sure_errf(err, errcap, -EINVAL, "missing names, routes or default_next");
	if (nsteps == 0 || nsteps > SURE_CHAIN_MAX_STEPS)
		return sure_errf(err, errcap, -EINVAL, "a chain has 1..%u steps, not %u",
				 SURE_CHAIN_MAX_STEPS, nsteps);
	if (buf_size == 0 || buf_size % SURE_PAGE_SIZE || buf_size > (1u << 20))
		return sure_errf(err, errcap, -EINVAL,
				 "buffer size %u is not a multiple of 4096 up to 1 MiB", buf_size);
	if (nbuf < 2 || (uint64_t)nbuf * buf_size > POOL_MAX_BYTES)
		return sure_errf(err, errcap, -EINVAL, "pool of %u x %u bytes is outside 2 buffers..%llu MiB",
				 nbuf, buf_size, POOL_MAX_BYTES >> 20);
	if (nslots == 0 || nslots > 4096 || nslots > SURE_RING_SLOTS)
		return sure_errf(err, errcap, -EINVAL, "slots %u outside 1..%u", nslots,
				 SURE_RING_SLOTS);
	for (uint32_t i = 0; i < nsteps; i++) {
		uint32_t d = default_next[i];
		if (!memchr(names + i * SURE_STEP_NAME, 0, SURE_STEP_NAME) || !names[i * SURE_STEP_NAME])
			return sure_errf(err, errcap, -EINVAL, "step %u has no name (1..31 bytes)", i);
		if (d != SURE_NODE_GW && (d >= nsteps || !routes[i * SURE_NODES + d]))
			return sure_errf(err, errcap, -EINVAL,
					 "step %u's default next hop %u is not a route it has", i, d);
	}
	return 0;
}

static int layout(struct sure_chain *c, char *err, size_t errcap)
{
	uint64_t ring_off = page_up(sizeof(struct sure_pool_hdr));
	uint64_t buf_off = page_up(ring_off + (uint64_t)SURE_NODES * SURE_NODES * sizeof(struct sure_ring));
	uint64_t pool_size = buf_off + (uint64_t)c->nbuf * c->buf_size;
	uint64_t meta_size =
		page_up(sizeof(struct sure_chain_meta) + (uint64_t)c->nslots * sizeof(struct sure_slot_meta));
	int rc;

	if (pool_size > SURE_POOL_MAX || meta_size > SURE_META_MAX)
		return sure_errf(err, errcap, -EINVAL, "pool too large");
	rc = sure_shm_create(&c->pool, "sure-pool", pool_size);
	if (rc == 0)
		rc = sure_shm_create(&c->meta, "sure-meta", meta_size);
	if (rc < 0)
		return sure_errf(err, errcap, rc, "pool memory: %s", strerror(-rc));
	c->hdr = (struct sure_pool_hdr *)c->pool.map;
	c->rings = (struct sure_ring *)(c->pool.map + ring_off);
	c->bufs = c->pool.map + buf_off;
	c->m = (struct sure_chain_meta *)c->meta.map;
	c->hdr->magic = SURE_POOL_MAGIC;
	c->m->magic = SURE_META_MAGIC;
	c->m->nsteps = c->nsteps;
	c->m->nslots = c->nslots;
	c->m->nbuf = c->nbuf;
	c->m->buf_size = c->buf_size;
	c->m->pool_size = pool_size;
	c->m->ring_off = ring_off;
	c->m->buf_off = buf_off;
	for (uint32_t s = 0; s < c->nslots && s < 4096; s++)
		c->hdr->slot_loc[s] = SURE_NODE_GW;
	return 0;
}

SURE_API int sure_chain_create(uint32_t nsteps, const char *names, const uint8_t *routes,
			       const uint16_t *default_next, uint32_t nbuf, uint32_t buf_size,
			       uint32_t nslots, struct sure_chain **out, char *err, size_t errcap)
{
	struct sure_chain *c;
	int rc;

	if (err && errcap)
		err[0] = 0;
	if (!out)
		return sure_errf(err, errcap, -EINVAL, "missing handle pointer");
	*out = NULL;
	rc = check_config(nsteps, names, routes, default_next, nbuf, buf_size, nslots, err, errcap);
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return sure_errf(err, errcap, -ENOMEM, "out of memory");
	c->nsteps = nsteps;
	c->nslots = nslots;
	c->nbuf = nbuf;
	c->buf_size = buf_size;
	c->pool.fd = c->meta.fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	for (uint32_t n = 0; n < SURE_NODES; n++)
		c->wake_fd[n] = -1; /* all of them before any can fail: destroy closes >= 0 */
	for (uint32_t n = 0; n < SURE_NODES; n++) {
		if (n < nsteps || n == SURE_NODE_GW) {
			c->wake_fd[n] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (c->wake_fd[n] < 0) {
				rc = sure_errf(err, errcap, -errno, "eventfd: %s", strerror(errno));
				goto fail;
			}
		}
	}
	c->state = calloc(nslots, 1);
	c->free_slots = calloc(nslots, sizeof(uint32_t));
	c->fq = calloc(nslots, sizeof(struct sure_completion));
	rc = (!c->state || !c->free_slots || !c->fq) ? -ENOMEM : sure_pool_alloc_init(&c->alloc, nbuf);
	if (rc < 0) {
		sure_errf(err, errcap, rc, "out of memory");
		goto fail;
	}
	rc = layout(c, err, errcap);
	if (rc < 0)
		goto fail;
	fill_steps(c, names, routes, default_next);
	/* Popped from the end: slot 0 first, for readable traces. */
	for (uint32_t i = 0; i < nslots; i++)
		c->free_slots[i] = nslots - 1 - i;
	c->nfree_slots = nslots;
	*out = c;
	return 0;
fail:
	c->nsteps = 0; /* no instances to check */
	if (rc == 0)
		rc = -ENOMEM;
	sure_chain_destroy(c);
	return rc;
}

SURE_API int sure_chain_destroy(struct sure_chain *c)
{
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->nsteps; i++) {
		if (c->inst[i]) {
			pthread_mutex_unlock(&c->lock);
			return -EBUSY;
		}
	}
	pthread_mutex_unlock(&c->lock);
	for (uint32_t n = 0; n < SURE_NODES; n++)
		if (c->wake_fd[n] >= 0)
			close(c->wake_fd[n]);
	sure_shm_destroy(&c->pool);
	sure_shm_destroy(&c->meta);
	sure_pool_alloc_fini(&c->alloc);
	free(c->state);
	free(c->free_slots);
	free(c->fq);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return 0;
}

SURE_API uint8_t *sure_chain_buffers(struct sure_chain *c)
{
	return c ? c->bufs : NULL;
}

SURE_API uint64_t sure_chain_buffers_size(struct sure_chain *c)
{
	return c ? (uint64_t)c->nbuf * c->buf_size : 0;
}

SURE_API int sure_chain_alloc(struct sure_chain *c, uint32_t bytes, uint32_t *slot,
			      uint64_t *offset)
{
	uint32_t n, s;
	int64_t a, b;

	if (!c || !slot || !offset)
		return -EINVAL;
	n = bytes ? (uint32_t)(((uint64_t)bytes + c->buf_size - 1) / c->buf_size) : 1;
	if (n > c->nbuf / 2)
		return -E2BIG;
	pthread_mutex_lock(&c->lock);
	if (c->nfree_slots == 0 || c->alloc.nfree < 2 * n)
		goto nospace;
	a = sure_pool_take(&c->alloc, n);
	if (a < 0)
		goto nospace;
	b = sure_pool_take(&c->alloc, n);
	if (b < 0) {
		sure_pool_give(&c->alloc, (uint32_t)a, n);
		goto nospace;
	}
	s = c->free_slots[--c->nfree_slots];
	struct sure_slot_meta *sm = &c->m->slot[s];
	sm->first[0] = (uint32_t)a;
	sm->first[1] = (uint32_t)b;
	sm->nbuf = n;
	sm->gen++;
	__atomic_store_n(&sm->live, 1, __ATOMIC_RELEASE);
	c->hdr->slot_loc[s] = SURE_NODE_GW;
	c->state[s] = SLOT_INFLIGHT;
	pthread_mutex_unlock(&c->lock);
	*slot = s;
	*offset = (uint64_t)a * c->buf_size;
	return 0;
nospace:
	pthread_mutex_unlock(&c->lock);
	return -ENOSPC;
}

void sure_chain_kick(struct sure_chain *c, uint32_t node)
{
	uint64_t one = 1;

	if (node < SURE_NODES && c->wake_fd[node] >= 0 && write(c->wake_fd[node], &one, 8) < 0) {
		/* EAGAIN: the counter is saturated, so the sleeper is being woken anyway. */
	}
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending; the caller re-checks its condition anyway. */
	}
}

/* Wakes a node only if it said it sleeps (Dekker: the caller published, then fenced). */
static void wake_node(struct sure_chain *c, uint32_t node)
{
	if (sure_load(&c->sleeping[node]))
		sure_chain_kick(c, node);
}

void sure_chain_register_doorbells(struct sure_chain *c, int vm_fd)
{
	for (uint32_t n = 0; n < SURE_NODES; n++) {
		if (c->wake_fd[n] < 0)
			continue;
		struct kvm_ioeventfd io = {
			.datamatch = n,
			.addr = SURE_DOORBELL_GPA + SURE_DOORBELL_WAKE,
			.len = 8,
			.fd = c->wake_fd[n],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		/* Refused (no KVM_CAP_IOEVENTFD): WAKE stays an exit that vcpu.c handles. */
		ioctl(vm_fd, KVM_IOEVENTFD, &io);
	}
}

/* Called on the Deno thread for every request: no syscall unless step 0 sleeps. */
SURE_API int sure_chain_submit(struct sure_chain *c, uint32_t slot, uint32_t len)
{
	struct sure_ring *r;
	uint32_t h;

	if (!c || slot >= c->nslots || __atomic_load_n(&c->state[slot], __ATOMIC_ACQUIRE) != SLOT_INFLIGHT)
		return -EINVAL;
	if ((uint64_t)len > (uint64_t)c->m->slot[slot].nbuf * c->buf_size)
		return -E2BIG;
	r = sure_chain_ring(c, SURE_NODE_GW, 0);
	h = r->head;
	if (h - sure_load(&r->tail) >= SURE_RING_SLOTS)
		return -ENOSPC;
	struct sure_desc *d = &r->d[h % SURE_RING_SLOTS];
	d->slot = slot;
	d->len = len;
	d->gen = c->m->slot[slot].gen;
	d->ext = 0;
	d->hops = 0;
	d->status = 0;
	d->from = SURE_NODE_GW;
	d->tsc = __rdtsc();
	c->hdr->ctx[slot].start_tsc = d->tsc;
	c->hdr->slot_loc[slot] = 0;
	sure_store(&r->head, h + 1);
	sure_fence(); /* Dekker with the step's sleep: push, fence, look */
	wake_node(c, 0);
	return 0;
}

SURE_API int sure_chain_set_trace(struct sure_chain *c, uint32_t slot, const uint8_t *trace)
{
	if (!c || !trace || slot >= c->nslots)
		return -EINVAL;
	struct sure_trace *t = &c->hdr->ctx[slot].trace;
	memcpy(t->trace_id, trace, 16);
	memcpy(t->parent_id, trace + 16, 8);
	t->flags = trace[24];
	return 0;
}

/* Marks an in-flight slot failed and queues its failure report. Lock held. */
static void fail_slot(struct sure_chain *c, uint32_t slot, uint16_t error, uint16_t node,
		      uint16_t status)
{
	if (c->state[slot] != SLOT_INFLIGHT)
		return;
	c->state[slot] = SLOT_FAILED;
	c->m->slot[slot].gen++; /* descriptors still in rings are now stale */
	c->fq[c->fq_n++] = (struct sure_completion){
		.slot = slot, .status = status, .error = error, .node = node,
	};
}

/* Validates one descriptor from ring(step -> GW). Lock held. Returns 1 if reported. */
static int take_completion(struct sure_chain *c, uint32_t step, const struct sure_desc *d,
			   struct sure_completion *out)
{
	uint32_t slot = d->slot;
	int bad = 0;

	if (slot >= c->nslots || c->state[slot] != SLOT_INFLIGHT)
		bad = slot >= c->nslots; /* a finished or freed slot: late, not bogus */
	else if (d->gen != c->m->slot[slot].gen)
		return 0; /* stale: the request was failed already */
	else if (d->ext > 1 || d->from != step ||
		 (uint64_t)d->len > (uint64_t)c->m->slot[slot].nbuf * c->buf_size)
		bad = 1;
	else {
		uint16_t status = d->status ? d->status : 200;
		c->state[slot] = SLOT_DONE;
		c->completed++;
		*out = (struct sure_completion){
			.slot = slot,
			.len = d->len,
			.offset = (uint64_t)c->m->slot[slot].first[d->ext] * c->buf_size,
			.status = status < 100 || status > 599 ? 502 : status,
			.error = d->hops > SURE_MAX_HOPS ? SURE_CE_LOOP : SURE_CE_OK,
			.node = (uint16_t)step,
			.hops = d->hops,
			.reason = d->reserved <= SURE_REASON_DEADLINE ? (uint16_t)d->reserved : 0,
		};
		return 1;
	}
	if (bad) {
		if (slot < c->nslots)
			fail_slot(c, slot, SURE_CE_BOGUS, (uint16_t)step, 502);
		if (c->inst[step])
			sure_instance_kill_bogus(c->inst[step]);
	}
	return 0;
}

/* Failures first, then every ring into the gateway. Lock held. */
static uint32_t collect(struct sure_chain *c, struct sure_completion *out, uint32_t max)
{
	uint32_t n = 0;

	while (c->fq_n > 0 && n < max)
		out[n++] = c->fq[--c->fq_n];
	for (uint32_t s = 0; s < c->nsteps && n < max; s++) {
		struct sure_ring *r = sure_chain_ring(c, s, SURE_NODE_GW);
		uint32_t t = r->tail, h = sure_load(&r->head);

		/* A head more than a ring ahead is a lie: take one ring's worth. */
		if (h - t > SURE_RING_SLOTS)
			h = t + SURE_RING_SLOTS;
		for (; t != h && n < max; t++) {
			struct sure_desc d = r->d[t % SURE_RING_SLOTS];
			n += (uint32_t)take_completion(c, s, &d, &out[n]);
			while (c->fq_n > 0 && n < max) /* a bogus one just failed */
				out[n++] = c->fq[--c->fq_n];
		}
		sure_store(&r->tail, t);
	}
	return n;
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
		pthread_mutex_lock(&c->lock);
		n = collect(c, out, max);
		pthread_mutex_unlock(&c->lock);
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
		sure_store(&c->sleeping[SURE_NODE_GW], 1);
		sure_store(&c->hdr->node[SURE_NODE_GW].sleeping, 1);
		sure_fence();
		pthread_mutex_lock(&c->lock);
		n = collect(c, out, max);
		pthread_mutex_unlock(&c->lock);
		if (n == 0) {
			struct pollfd p = { .fd = c->wake_fd[SURE_NODE_GW], .events = POLLIN };
			poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
			drain(c->wake_fd[SURE_NODE_GW]);
		}
		sure_store(&c->hdr->node[SURE_NODE_GW].sleeping, 0);
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

SURE_API int sure_chain_free(struct sure_chain *c, uint32_t slot)
{
	struct sure_slot_meta *sm;

	if (!c || slot >= c->nslots)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	if (c->state[slot] == SLOT_FREE) {
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	/* A failure still queued for this slot must never reach its next owner. */
	for (uint32_t i = 0; i < c->fq_n; i++) {
		if (c->fq[i].slot == slot)
			c->fq[i--] = c->fq[--c->fq_n];
	}
	sm = &c->m->slot[slot];
	__atomic_store_n(&sm->live, 0, __ATOMIC_RELEASE);
	sm->gen++;
	/* Freeing zeroes: the next request never sees this one's bytes. */
	for (int e = 0; e < 2; e++) {
		memset(c->bufs + (uint64_t)sm->first[e] * c->buf_size, 0, (uint64_t)sm->nbuf * c->buf_size);
		sure_pool_give(&c->alloc, sm->first[e], sm->nbuf);
	}
	c->hdr->slot_loc[slot] = SURE_NODE_GW;
	c->state[slot] = SLOT_FREE;
	c->free_slots[c->nfree_slots++] = slot;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

SURE_API int sure_chain_locate(struct sure_chain *c, uint32_t slot)
{
	uint16_t loc;

	if (!c || slot >= c->nslots)
		return -EINVAL;
	if (__atomic_load_n(&c->state[slot], __ATOMIC_ACQUIRE) != SLOT_INFLIGHT)
		return SURE_NODE_GW;
	loc = c->hdr->slot_loc[slot];
	return loc < c->nsteps ? loc : SURE_NODE_GW;
}

SURE_API void sure_chain_count_copy(struct sure_chain *c, uint64_t in_bytes, uint64_t out_bytes)
{
	if (!c)
		return;
	__atomic_add_fetch(&c->copied_in, in_bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->copied_out, out_bytes, __ATOMIC_RELAXED);
}

SURE_API void sure_chain_stats(struct sure_chain *c, uint64_t *out)
{
	uint64_t handoffs = 0;

	if (!c || !out)
		return;
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < c->nsteps; i++)
		if (c->inst[i])
			handoffs += __atomic_load_n(&c->inst[i]->ctrl->chain.handoffs, __ATOMIC_RELAXED);
	out[0] = c->nslots - c->nfree_slots;
	out[1] = c->alloc.nfree;
	out[2] = c->nbuf;
	out[3] = __atomic_load_n(&c->copied_in, __ATOMIC_RELAXED);
	out[4] = __atomic_load_n(&c->copied_out, __ATOMIC_RELAXED);
	out[5] = handoffs;
	out[6] = 0; /* hand-offs move descriptors, never bytes */
	out[7] = c->completed;
	pthread_mutex_unlock(&c->lock);
}

SURE_API int sure_chain_step_stats(struct sure_chain *c, uint32_t step, uint64_t *out, size_t n)
{
	struct sure_chain_stats st;
	uint64_t v[40];
	size_t k = 0;

	if (!c || !out || step >= c->nsteps)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	if (!c->inst[step]) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	memcpy(&st, (const void *)&c->inst[step]->ctrl->chain, sizeof(st));
	v[k++] = c->inst[step]->ctrl->tsc_hz;
	pthread_mutex_unlock(&c->lock);
	v[k++] = st.handled;
	v[k++] = st.handoffs;
	v[k++] = st.handoff_tsc_sum;
	v[k++] = st.stale;
	v[k++] = st.bogus;
	for (int i = 0; i < 32; i++)
		v[k++] = st.handoff_hist[i];
	if (n > k)
		n = k;
	memcpy(out, v, n * sizeof(uint64_t));
	return (int)n;
}

/* ---- hooks for the vCPU threads ---- */

static int has_work(struct sure_chain *c, uint32_t step)
{
	const struct sure_step_meta *s = &c->m->step[step];

	for (uint32_t i = 0; i < s->n_in && i < SURE_NODES; i++) {
		struct sure_ring *r = sure_chain_ring(c, s->in[i], step);
		if (sure_load(&r->head) != sure_load(&r->tail))
			return 1;
	}
	return 0;
}

void sure_chain_sleep(struct sure_instance *inst)
{
	struct sure_chain *c = inst->chain;
	uint32_t step = inst->step;

	/* The host checks the rings itself: a guest that lies only hurts itself. */
	for (;;) {
		sure_store(&c->sleeping[step], 1);
		sure_fence();
		if (sure_channel_dead(&inst->ch) || has_work(c, step))
			break;
		struct pollfd p = { .fd = c->wake_fd[step], .events = POLLIN };
		poll(&p, 1, -1); /* a kill kicks this fd too (and the signal ends poll) */
		drain(c->wake_fd[step]);
	}
	sure_store(&c->sleeping[step], 0);
}

/* WAKE that did not match an in-kernel doorbell (old host or a bad node). */
void sure_chain_wake_node(struct sure_chain *c, uint64_t node)
{
	if (node < c->nsteps || node == SURE_NODE_GW)
		sure_chain_kick(c, (uint32_t)node);
	/* else: nothing to wake: a confused guest, not worth a kill */
}

void sure_chain_bogus(struct sure_chain *c, uint32_t reporter, uint64_t data)
{
	uint32_t blamed = (uint32_t)(data & 0xffff), slot = (uint32_t)(data >> 32);

	pthread_mutex_lock(&c->lock);
	/* The descriptor's own request fails (the chain is one trust domain: a
	 * step's report is believed); its later descriptors are then stale. */
	if (slot < c->nslots)
		fail_slot(c, slot, SURE_CE_BOGUS, (uint16_t)(blamed < c->nsteps ? blamed : reporter),
			  502);
	if (blamed < c->nsteps && blamed != reporter && c->inst[blamed])
		sure_instance_kill_bogus(c->inst[blamed]);
	pthread_mutex_unlock(&c->lock);
	sure_chain_kick(c, SURE_NODE_GW);
}

void sure_chain_step_died(struct sure_chain *c, uint32_t step)
{
	pthread_mutex_lock(&c->lock);
	for (uint32_t s = 0; s < c->nslots; s++)
		if (c->state[s] == SLOT_INFLIGHT && c->hdr->slot_loc[s] == step)
			fail_slot(c, s, SURE_CE_FAULT, (uint16_t)step, 502);
	pthread_mutex_unlock(&c->lock);
	sure_chain_kick(c, SURE_NODE_GW);
}

void sure_chain_detach(struct sure_chain *c, uint32_t step, struct sure_instance *inst)
{
	pthread_mutex_lock(&c->lock);
	if (step < c->nsteps && c->inst[step] == inst)
		c->inst[step] = NULL;
	pthread_mutex_unlock(&c->lock);
}
