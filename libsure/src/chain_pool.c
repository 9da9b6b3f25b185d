/*
 * chain_pool.c - a chain's pool and read-only table (see sure_chain_abi.h):
 * creating and destroying them, request slots and their buffers, and the
 * nodes' eventfds. The host allocates and frees every extent; guests never
 * do, so no guest can corrupt the allocator.
 */
#include "chain.h"

#include <emmintrin.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include "util.h"

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
	if (buf_size == 0 || buf_size % SURE_PAGE_SIZE || buf_size > SURE_CHAIN_BUF_MAX)
		return sure_errf(err, errcap, -EINVAL,
				 "buffer size %u is not a multiple of 4096 up to %u KiB", buf_size,
				 SURE_CHAIN_BUF_MAX >> 10);
	if (nbuf < 2 || (uint64_t)nbuf * buf_size > SURE_CHAIN_POOL_MAX_BYTES)
		return sure_errf(err, errcap, -EINVAL,
				 "pool of %u x %u bytes is outside 2 buffers..%llu MiB", nbuf,
				 buf_size, SURE_CHAIN_POOL_MAX_BYTES >> 20);
	if (nslots == 0 || nslots > SURE_CHAIN_MAX_SLOTS || nslots > SURE_RING_SLOTS)
		return sure_errf(err, errcap, -EINVAL, "slots %u outside 1..%u", nslots,
				 SURE_CHAIN_MAX_SLOTS < SURE_RING_SLOTS ? SURE_CHAIN_MAX_SLOTS
									: SURE_RING_SLOTS);
	for (uint32_t i = 0; i < nsteps; i++) {
		uint32_t d = default_next[i];
		if (!memchr(names + i * SURE_STEP_NAME, 0, SURE_STEP_NAME) || !names[i * SURE_STEP_NAME])
			return sure_errf(err, errcap, -EINVAL, "step %u has no name (1..31 bytes)", i);
		/* Its ring to itself would be one it feeds and drains, its own node
		 * page one it reads as a next hop's (read-only) and writes as its
		 * own: no step hands a request to itself. */
		if (routes[i * SURE_NODES + i])
			return sure_errf(err, errcap, -EINVAL, "step %u routes to itself", i);
		if (d != SURE_NODE_GW && (d >= nsteps || !routes[i * SURE_NODES + d]))
			return sure_errf(err, errcap, -EINVAL,
					 "step %u's default next hop %u is not a route it has", i, d);
	}
	return 0;
}

static int layout(struct sure_chain *c, char *err, size_t errcap)
{
	uint64_t node_off = SURE_PAGE_SIZE; /* the header has page 0 */
	uint64_t ring_off = node_off + (uint64_t)SURE_NODES * sizeof(struct sure_node_state);
	uint64_t buf_off = ring_off + (uint64_t)SURE_NODES * SURE_NODES * SURE_RING_STRIDE;
	uint64_t head_off = buf_off + (uint64_t)c->nbuf * c->buf_size; /* pages: buf_size is */
	uint64_t pool_size = head_off + (uint64_t)c->nslots * SURE_SLOT_HEAD_SIZE;
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
	c->nodes = (struct sure_node_state *)(c->pool.map + node_off);
	c->rings = c->pool.map + ring_off;
	c->bufs = c->pool.map + buf_off;
	c->heads = c->pool.map + head_off;
	c->m = (struct sure_chain_meta *)c->meta.map;
	c->hdr->magic = SURE_POOL_MAGIC;
	c->nodes[SURE_NODE_GW].host = 1; /* hand-offs to it ring at once (sure_chain_abi.h) */
	c->m->magic = SURE_META_MAGIC;
	c->m->nsteps = c->nsteps;
	c->m->nslots = c->nslots;
	c->m->nbuf = c->nbuf;
	c->m->buf_size = c->buf_size;
	c->m->pool_size = c->pool.size;
	c->m->node_off = node_off;
	c->m->ring_off = ring_off;
	c->m->buf_off = buf_off;
	c->m->head_off = head_off;
	return 0;
}

static void add_view(struct sure_chain_seat *seat, uint64_t off, uint64_t size, uint32_t writable,
		     uint32_t key)
{
	if (seat->nviews < SURE_CHAIN_MAX_VIEWS)
		seat->views[seat->nviews++] = (struct sure_view){ off, size, writable, key };
}

/* What step i's page tables show of the pool (sure_chain_abi.h): its own
 * node page and outgoing rings writable; the node pages and incoming rings
 * it reads, read-only; the buffers and head blocks; nothing else. All but the
 * buffers and head blocks carry the chain's key: only the gate touches them. */
static void fill_views(struct sure_chain *c, uint32_t i)
{
	const struct sure_step_meta *s = &c->m->step[i];
	struct sure_chain_seat *seat = &c->seat[i];
	uint64_t node = c->m->node_off, ring = c->m->ring_off;

	const uint32_t gate = SURE_PKEY_CHAIN;

	seat->nviews = 0;
	add_view(seat, 0, SURE_PAGE_SIZE, 0, gate);
	add_view(seat, node + (uint64_t)i * SURE_PAGE_SIZE, SURE_PAGE_SIZE, 1, gate);
	for (uint32_t k = 0; k < s->n_next; k++) {
		add_view(seat, node + (uint64_t)s->next[k] * SURE_PAGE_SIZE, SURE_PAGE_SIZE, 0, gate);
		add_view(seat, ring + (uint64_t)SURE_RING_INDEX(i, s->next[k]) * SURE_RING_STRIDE,
			 SURE_RING_STRIDE, 1, gate);
	}
	for (uint32_t k = 0; k < s->n_in; k++)
		add_view(seat, ring + (uint64_t)SURE_RING_INDEX(s->in[k], i) * SURE_RING_STRIDE,
			 SURE_RING_STRIDE, 0, gate);
	if (!c->colours) {
		add_view(seat, c->m->buf_off, c->pool.size - c->m->buf_off, 1, 0);
		return;
	}
	/* Request-level isolation: each slot's buffers and head block under its
	 * own key; buffers and slots past the colours are not mapped at all. */
	for (uint32_t k = 0; k < c->colours; k++) {
		add_view(seat, c->m->buf_off + (uint64_t)k * c->colour_bufs * c->buf_size,
			 (uint64_t)c->colour_bufs * c->buf_size, 1, SURE_PKEY_COLOUR0 + k);
		add_view(seat, c->m->head_off + (uint64_t)k * SURE_SLOT_HEAD_SIZE, SURE_SLOT_HEAD_SIZE,
			 1, SURE_PKEY_COLOUR0 + k);
	}
}

SURE_API int sure_chain_isolate(struct sure_chain *c, char *err, size_t errcap)
{
	uint32_t colours, per;

	if (!c)
		return sure_errf(err, errcap, -EINVAL, "missing chain");
	colours = c->nslots < SURE_CHAIN_COLOURS ? c->nslots : SURE_CHAIN_COLOURS;
	per = c->nbuf / colours;
	if (per < 2)
		return sure_errf(err, errcap, -EINVAL,
				 "request-level isolation splits the pool in %u: %u buffers are too few",
				 colours, c->nbuf);
	pthread_mutex_lock(&c->seat_lock);
	int busy = 0;
	for (uint32_t i = 0; i < c->nsteps; i++)
		busy |= c->seat[i].inst != NULL;
	pthread_mutex_unlock(&c->seat_lock);
	pthread_mutex_lock(&c->lock);
	if (busy || c->nfree_slots != c->nslots) {
		pthread_mutex_unlock(&c->lock);
		return sure_errf(err, errcap, -EBUSY, "the chain already has instances or requests");
	}
	c->colours = colours;
	c->colour_bufs = per;
	c->m->colours = colours;
	c->m->colour_bufs = per;
	/* Only the coloured slots are ever handed out: one request per key. */
	for (uint32_t i = 0; i < colours; i++)
		c->free_slots[i] = colours - 1 - i;
	c->nfree_slots = colours;
	pthread_mutex_unlock(&c->lock);
	for (uint32_t i = 0; i < c->nsteps; i++)
		fill_views(c, i);
	return 0;
}

SURE_API uint32_t sure_chain_colours(struct sure_chain *c)
{
	return c ? c->colours : 0;
}

/* A fresh capability: 128 bits from the kernel's CSPRNG, drawn a page at a
 * time (`lock` held). */
static int draw_cap(struct sure_chain *c, uint64_t cap[2])
{
	if (c->rnd_n < 2) {
		ssize_t n = getrandom(c->rnd, sizeof(c->rnd), 0);
		if (n != (ssize_t)sizeof(c->rnd))
			return n < 0 ? -errno : -EIO;
		c->rnd_n = sizeof(c->rnd) / sizeof(c->rnd[0]);
	}
	cap[0] = c->rnd[--c->rnd_n];
	cap[1] = c->rnd[--c->rnd_n];
	c->rnd[c->rnd_n] = c->rnd[c->rnd_n + 1] = 0; /* used bits are not kept */
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
	pthread_mutex_init(&c->seat_lock, NULL);
	for (uint32_t i = 0; i < SURE_CHAIN_MAX_STEPS; i++) {
		c->seat[i].chain = c;
		c->seat[i].step = i;
	}
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
	c->done = calloc(nslots, sizeof(struct sure_completion));
	c->cap = calloc(nslots, sizeof(*c->cap));
	c->trace = calloc(nslots, sizeof(*c->trace));
	c->scan_hops = calloc(nslots, 1);
	c->scan_node = calloc(nslots, sizeof(uint16_t));
	c->scan_queued = calloc(nslots, 1);
	rc = (!c->state || !c->free_slots || !c->fq || !c->done || !c->cap || !c->trace ||
	      !c->scan_hops || !c->scan_node || !c->scan_queued)
		     ? -ENOMEM
		     : sure_pool_alloc_init(&c->alloc, nbuf);
	if (rc < 0) {
		sure_errf(err, errcap, rc, "out of memory");
		goto fail;
	}
	rc = layout(c, err, errcap);
	if (rc < 0)
		goto fail;
	fill_steps(c, names, routes, default_next);
	for (uint32_t i = 0; i < nsteps; i++)
		fill_views(c, i);
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

/* 1 if any step still has an instance (destroy must wait). */
static int has_instances(struct sure_chain *c)
{
	int any = 0;

	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t i = 0; i < c->nsteps; i++)
		any |= c->seat[i].inst != NULL;
	pthread_mutex_unlock(&c->seat_lock);
	return any;
}

SURE_API int sure_chain_destroy(struct sure_chain *c)
{
	if (!c)
		return -EINVAL;
	if (has_instances(c))
		return -EBUSY;
	for (uint32_t n = 0; n < SURE_NODES; n++)
		if (c->wake_fd[n] >= 0)
			close(c->wake_fd[n]);
	sure_shm_destroy(&c->pool);
	sure_shm_destroy(&c->meta);
	sure_pool_alloc_fini(&c->alloc);
	free(c->state);
	free(c->free_slots);
	free(c->fq);
	free(c->done);
	free(c->cap);
	free(c->trace);
	free(c->scan_hops);
	free(c->scan_node);
	free(c->scan_queued);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->seat_lock);
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

SURE_API uint8_t *sure_chain_heads(struct sure_chain *c)
{
	return c ? c->heads : NULL;
}

SURE_API uint64_t sure_chain_heads_size(struct sure_chain *c)
{
	return c ? (uint64_t)c->nslots * SURE_SLOT_HEAD_SIZE : 0;
}

SURE_API int sure_chain_alloc(struct sure_chain *c, uint32_t bytes, uint32_t *slot,
			      uint64_t *offset)
{
	uint32_t n, s;
	int64_t a, b;

	if (!c || !slot || !offset)
		return -EINVAL;
	n = bytes ? (uint32_t)(((uint64_t)bytes + c->buf_size - 1) / c->buf_size) : 1;
	if (n > (c->colours ? c->colour_bufs : c->nbuf) / 2)
		return -E2BIG;
	pthread_mutex_lock(&c->lock);
	if (c->nfree_slots == 0)
		goto nospace;
	s = c->free_slots[c->nfree_slots - 1];
	if (c->colours) {
		/* The slot's own buffers: its colour's, the two halves. */
		a = (int64_t)s * c->colour_bufs;
		b = a + c->colour_bufs / 2;
	} else {
		if (c->alloc.nfree < 2 * n)
			goto nospace;
		a = sure_pool_take(&c->alloc, n);
		if (a < 0)
			goto nospace;
		b = sure_pool_take(&c->alloc, n);
		if (b < 0) {
			sure_pool_give(&c->alloc, (uint32_t)a, n);
			goto nospace;
		}
	}
	if (draw_cap(c, c->cap[s]) < 0) {
		if (!c->colours) {
			sure_pool_give(&c->alloc, (uint32_t)a, n);
			sure_pool_give(&c->alloc, (uint32_t)b, n);
		}
		goto nospace;
	}
	c->nfree_slots--;
	struct sure_slot_meta *sm = &c->m->slot[s];
	sm->first[0] = (uint32_t)a;
	sm->first[1] = (uint32_t)b;
	sm->nbuf = n;
	sm->gen++;
	sm->check = sure_cap_check(c->cap[s], s, sm->gen);
	memset(&c->trace[s], 0, sizeof(c->trace[s]));
	__atomic_store_n(&sm->live, 1, __ATOMIC_RELEASE);
	c->state[s] = SLOT_INFLIGHT;
	pthread_mutex_unlock(&c->lock);
	*slot = s;
	*offset = (uint64_t)a * c->buf_size;
	return 0;
nospace:
	pthread_mutex_unlock(&c->lock);
	return -ENOSPC;
}

/*
 * Zeroes a freed extent (page-aligned, whole buffers) with non-temporal
 * stores: they write whole lines without reading them first. The extent's
 * lines were last written by the steps on other CPUs or are long out of this
 * one's cache, so a plain memset fetched each before overwriting it: ~5% of
 * the data plane's time at c32 (perf) went there.
 */
static void zero_extent(uint8_t *p, uint64_t n)
{
	__m128i z = _mm_setzero_si128();

	for (uint64_t i = 0; i < n; i += 64) {
		_mm_stream_si128((__m128i *)(void *)(p + i), z);
		_mm_stream_si128((__m128i *)(void *)(p + i + 16), z);
		_mm_stream_si128((__m128i *)(void *)(p + i + 32), z);
		_mm_stream_si128((__m128i *)(void *)(p + i + 48), z);
	}
	_mm_sfence(); /* visible before the slot can be handed out again */
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
		zero_extent(c->bufs + (uint64_t)sm->first[e] * c->buf_size,
			    (uint64_t)sm->nbuf * c->buf_size);
		if (!c->colours)
			sure_pool_give(&c->alloc, sm->first[e], sm->nbuf);
	}
	/* The capability dies with the request: nothing the host keeps still opens it. */
	c->cap[slot][0] = c->cap[slot][1] = 0;
	c->state[slot] = SLOT_FREE;
	c->free_slots[c->nfree_slots++] = slot;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void sure_chain_kick(struct sure_chain *c, uint32_t node)
{
	uint64_t one = 1;

	if (node < SURE_NODES && c->wake_fd[node] >= 0 && write(c->wake_fd[node], &one, 8) < 0) {
		/* EAGAIN: the counter is saturated, so the sleeper is being woken anyway. */
	}
}

void sure_chain_wake_sleeper(struct sure_chain *c, uint32_t node)
{
	if (node >= SURE_NODES || !sure_load(&c->sleeping[node]))
		return;
	/* Measured (3-step chain, c32): the data plane wrote step 0's eventfd
	 * ~0.45 times per request when it rang at every push that found it
	 * asleep, pushes coming faster than its vCPU thread wakes. */
	uint64_t sleep = __atomic_load_n(&c->host_sleeps[node], __ATOMIC_ACQUIRE) + 1;
	if (__atomic_exchange_n(&c->rung[node], sleep, __ATOMIC_ACQ_REL) != sleep)
		sure_chain_kick(c, node);
}

void sure_chain_drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending; the caller re-checks its condition anyway. */
	}
}

void sure_chain_fail_slot(struct sure_chain *c, uint32_t slot, uint16_t error, uint16_t node,
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

