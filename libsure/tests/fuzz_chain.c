/*
 * fuzz_chain.c - libFuzzer target for the gateway's side of a chain's pool
 * (src/chain*.c): completions read from the rings the steps push to the
 * gateway, the descriptors in them, ring heads and tails, and the steps'
 * node pages - the memory the chain's guests can write (each its own).
 *
 * No VM: a small chain is made through the public API (libsure.h), requests
 * are allocated and submitted, and the input then plays the chain's guests -
 * step 0 taking descriptors off its ring, any step pushing descriptors
 * (forwarded ones with fields changed, or raw bytes) to the gateway, lying
 * about ring heads and tails, scribbling on their node pages - while the
 * gateway waits (timeout 0: it never sleeps), frees, locates and counts.
 * Only the structs of sure_chain_abi.h and the public API are used, so the
 * target does not care how the host's chain code is split into files.
 *
 * Whatever the guests write, every completion must name a slot that is in
 * flight (once per allocation), lie inside the pool's buffers and inside its
 * slot's extent, carry a status of 100..599, and a freed slot's buffers must
 * read as zeroes. A slot in flight may be refused only once a step deadline
 * expired it (the next wait must report that 504), and only an answer a wait
 * reported may be taken. An empty input completes two requests (the built-in
 * seed).
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_chain -max_total_time=60
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "fuzz_input.h"
#include "libsure.h"
#include "sure_abi.h"

#define MAX_SLOTS 8
#define MAX_HELD 32
#define PAGE SURE_PAGE_SIZE

_Static_assert(sizeof(struct sure_desc) == 64, "descriptor layout");

/* What the gateway knows of a slot: M_DONE answered (take it), M_FAILED failed. */
enum { M_FREE, M_INFLIGHT, M_DONE, M_FAILED };

struct fx {
	struct sure_chain *c;
	uint32_t nsteps, nslots, nbuf, buf_size;
	uint32_t colours, per; /* request-level isolation: slots used, buffers per share */
	uint8_t *bufs;
	uint64_t bufs_size;
	struct sure_pool_hdr *hdr;
	struct sure_node_state *nodes;
	uint8_t *rings;
	uint8_t st[MAX_SLOTS]; /* what the gateway knows of each slot */
	uint64_t off0[MAX_SLOTS], ext_bytes[MAX_SLOTS];
	struct sure_completion done[MAX_SLOTS]; /* of M_DONE slots */
	uint64_t copied_in, copied_out; /* bytes the API copied, as it must count them */
	struct sure_desc held[MAX_HELD]; /* descriptors step 0 took */
	uint32_t nheld;
	uint8_t deadlines; /* steps have deadlines: waits may expire queued requests */
};

/* The start of the mapping that holds p, from /proc/self/maps (0 if none). */
static uintptr_t mapping_start(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a, b, found = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &a, &b) == 2 && a <= (uintptr_t)p &&
		    (uintptr_t)p < b) {
			found = a;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * The pool is header, node pages, rings, buffers (sure_chain_abi.h); the guests learn the
 * offsets from the read-only table, which the public API does not expose, so
 * they are computed here as the host lays them out, and checked once against
 * the real mapping so that a layout change stops this target loudly.
 */
static void locate_pool(struct fx *f)
{
	static int checked;
	uint64_t node_off = PAGE;
	uint64_t ring_off = node_off + (uint64_t)SURE_NODES * sizeof(struct sure_node_state);
	uint64_t buf_off = ring_off + (uint64_t)SURE_NODES * SURE_NODES * SURE_RING_STRIDE;
	uint8_t *base = f->bufs - buf_off;

	if (!checked) {
		if (mapping_start(f->bufs) != (uintptr_t)base) {
			fprintf(stderr, "fuzz_chain: the pool is not laid out as this target "
					"computes (see locate_pool)\n");
			abort();
		}
		checked = 1;
	}
	f->hdr = (struct sure_pool_hdr *)base;
	f->nodes = (struct sure_node_state *)(base + node_off);
	f->rings = base + ring_off;
	if (f->hdr->magic != SURE_POOL_MAGIC)
		abort();
}

static struct sure_ring *ring(struct fx *f, uint32_t from, uint32_t to)
{
	return (struct sure_ring *)(f->rings + (uint64_t)SURE_RING_INDEX(from, to) * SURE_RING_STRIDE);
}

/* The consumer's tail of ring(from -> to), in to's node page. */
static volatile uint32_t *tail(struct fx *f, uint32_t from, uint32_t to)
{
	return &f->nodes[to].tail[from].v;
}

static int is_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void make_chain(struct fx *f, struct fuzz_in *in)
{
	char names[SURE_CHAIN_MAX_STEPS * SURE_STEP_NAME];
	uint8_t routes[SURE_CHAIN_MAX_STEPS * SURE_NODES];
	uint16_t next[SURE_CHAIN_MAX_STEPS];
	char err[128];

	memset(f, 0, sizeof(*f));
	memset(names, 0, sizeof(names));
	memset(routes, 0, sizeof(routes));
	f->nsteps = 1 + fin_u8(in, 1) % 3;
	f->nslots = 1 + fin_u8(in, 3) % MAX_SLOTS;
	f->nbuf = 2 + fin_u8(in, 6) % 15;
	f->buf_size = (uint32_t)PAGE * (1 + fin_u8(in, 0) % 2);
	for (uint32_t i = 0; i < f->nsteps; i++) {
		snprintf(names + i * SURE_STEP_NAME, SURE_STEP_NAME, "step%u", i);
		next[i] = i + 1 < f->nsteps ? (uint16_t)(i + 1) : SURE_NODE_GW;
		if (i + 1 < f->nsteps)
			routes[i * SURE_NODES + i + 1] = 1;
	}
	if (sure_chain_create(f->nsteps, names, routes, next, f->nbuf, f->buf_size, f->nslots,
			      &f->c, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_chain: sure_chain_create: %s\n", err);
		abort();
	}
	/* Some inputs give every step a deadline that every queued request has
	 * passed: the host's scan of the rings (chain_admit.c) fails them. */
	if (fin_u8(in, 0) & 2) {
		for (uint32_t i = 0; i < f->nsteps; i++) {
			f->c->seat[i].deadline_ms = 1;
			f->c->seat[i].tsc_hz = 1000; /* 1 ms = 1 tick */
		}
		f->c->deadlines = 1;
		f->deadlines = 1;
	}
	/* Half the inputs run under request-level isolation: a share per slot. */
	if (fin_u8(in, 0) & 1 && sure_chain_isolate(f->c, err, sizeof(err)) == 0) {
		f->colours = sure_chain_colours(f->c);
		f->per = f->nbuf / f->colours;
		if (f->colours == 0 || f->colours > f->nslots || f->per < 2)
			abort();
	}
	f->bufs = sure_chain_buffers(f->c);
	f->bufs_size = sure_chain_buffers_size(f->c);
	if (f->bufs_size != (uint64_t)f->nbuf * f->buf_size)
		abort();
	locate_pool(f);
}

static void do_alloc(struct fx *f, uint32_t bytes)
{
	uint32_t slot = UINT32_MAX, nper = bytes ? (bytes + f->buf_size - 1) / f->buf_size : 1;
	uint64_t off = UINT64_MAX;
	int rc = sure_chain_alloc(f->c, bytes, &slot, &off), nfree = 0;

	for (uint32_t s = 0; s < f->nslots; s++)
		nfree += f->st[s] == M_FREE;
	if (nper > (f->colours ? f->per : f->nbuf) / 2) {
		if (rc != -E2BIG)
			abort();
		return;
	}
	if (rc == -ENOSPC)
		return; /* buffers can run out or fragment before the slots do */
	if (rc != 0 || nfree == 0 || slot >= f->nslots || f->st[slot] != M_FREE)
		abort();
	uint64_t ext = (uint64_t)nper * f->buf_size;
	if (off % f->buf_size || off + ext > f->bufs_size)
		abort();
	/* Isolated: only coloured slots, each in its own share. */
	if (f->colours && (slot >= f->colours || off != (uint64_t)slot * f->per * f->buf_size))
		abort();
	for (uint32_t s = 0; s < f->nslots; s++)
		if (f->st[s] != M_FREE && off < f->off0[s] + f->ext_bytes[s] &&
		    f->off0[s] < off + ext)
			abort(); /* two live requests share a buffer */
	if (!is_zero(f->bufs + off, ext))
		abort(); /* a new request sees an old one's bytes */
	f->st[slot] = M_INFLIGHT;
	f->off0[slot] = off;
	f->ext_bytes[slot] = ext;
}

static void check_completion(struct fx *f, const struct sure_completion *o);

/*
 * Whether a wait reports slot's expiry (504, its step's deadline) now: the
 * only reason a slot the caller still holds in flight may be refused. An
 * expiry during an earlier wait is queued until a wait reports it, and the
 * slot is no longer the caller's to submit to. Every completion reported
 * here goes through check_completion like any other.
 */
static int expiry_reported(struct fx *f, uint32_t slot)
{
	struct sure_completion out[MAX_SLOTS];
	int n, found = 0;

	do {
		n = sure_chain_wait(f->c, out, MAX_SLOTS, 0);
		if (n < 0)
			abort();
		for (int k = 0; k < n; k++) {
			found |= out[k].slot == slot && out[k].status == 504 &&
				 out[k].reason == SURE_REASON_DEADLINE;
			check_completion(f, &out[k]);
		}
	} while (n == MAX_SLOTS);
	return found;
}

/*
 * The body is a heap block of exactly len bytes (ASan sees an over-read), or
 * one byte when len is absurd: the host must refuse those before reading.
 */
static void do_submit(struct fx *f, uint32_t slot, uint32_t len, int with_trace)
{
	struct sure_ring *r = ring(f, SURE_NODE_GW, 0);
	uint32_t h = r->head, full = h - *tail(f, SURE_NODE_GW, 0) >= SURE_RING_SLOTS;
	int sane = len <= 4 * f->buf_size;
	uint8_t *body = len == 0 && !with_trace ? NULL : malloc(sane && len ? len : 1);
	uint8_t trace[25];

	for (uint32_t i = 0; body && sane && i < len; i++)
		body[i] = (uint8_t)('a' + slot + i);
	for (uint32_t i = 0; i < sizeof(trace); i++)
		trace[i] = (uint8_t)(slot * 31 + i);
	int rc = sure_chain_submit(f->c, slot, body, len, with_trace ? trace : NULL);
	if (slot >= f->nslots || f->st[slot] != M_INFLIGHT || (len && !body)) {
		if (rc != -EINVAL)
			abort();
	} else if (rc == -EINVAL && f->deadlines) {
		if (!expiry_reported(f, slot))
			abort(); /* refused for no reason */
	} else if (len > f->ext_bytes[slot]) {
		if (rc != -E2BIG)
			abort();
	} else if (full) {
		if (rc != -ENOSPC)
			abort();
	} else {
		const struct sure_desc *d = &r->d[h % SURE_RING_SLOTS];
		if (rc != 0 || r->head != h + 1 || d->slot != slot || d->len != len || d->ext != 0 ||
		    d->from != SURE_NODE_GW || (d->cap[0] == 0 && d->cap[1] == 0))
			abort();
		if (len && memcmp(f->bufs + f->off0[slot], body, len) != 0)
			abort(); /* the body went into extent 0 */
		if (with_trace && memcmp(d->parent_id, trace + 16, 8) != 0)
			abort();
		f->copied_in += len;
	}
	free(body);
}

/* Step 0 takes a descriptor, as its guest would. */
static void do_pop(struct fx *f, uint32_t keep_at)
{
	struct sure_ring *r = ring(f, SURE_NODE_GW, 0);
	uint32_t t = *tail(f, SURE_NODE_GW, 0);

	if (t == r->head)
		return;
	struct sure_desc d = r->d[t % SURE_RING_SLOTS];
	*tail(f, SURE_NODE_GW, 0) = t + 1;
	if (f->nheld < MAX_HELD)
		f->held[f->nheld++] = d;
	else
		f->held[keep_at % MAX_HELD] = d;
}

static void push(struct fx *f, uint32_t from, const struct sure_desc *d)
{
	struct sure_ring *r = ring(f, from, SURE_NODE_GW);
	uint32_t h = r->head;

	r->d[h % SURE_RING_SLOTS] = *d;
	r->head = h + 1;
}

/* A step hands a descriptor it got to the gateway, some fields changed. */
static void do_forward(struct fx *f, struct fuzz_in *in)
{
	if (f->nheld == 0)
		return;
	struct sure_desc d = f->held[fin_u8(in, 0) % f->nheld];
	uint32_t step = fin_u8(in, (uint8_t)(f->nsteps - 1)) % f->nsteps;
	uint8_t how = fin_u8(in, 0);

	d.from = (uint16_t)step;
	d.hops = (uint8_t)(d.hops + step + 1);
	if (how & 1)
		d.len = fin_u8(in, 0) & 1 ? fin_u32(in, 0) : fin_u16(in, 0) % (3 * f->buf_size);
	if (how & 2)
		d.ext = fin_u8(in, 1);
	if (how & 4)
		d.status = fin_u16(in, 404);
	if (how & 8)
		d.hops = fin_u8(in, SURE_MAX_HOPS + 1);
	if (how & 16)
		d.from = fin_u16(in, SURE_NODE_GW);
	if (how & 32)
		d.slot = fin_u8(in, 0) & 1 ? fin_u32(in, 0) : fin_u8(in, 0) % (f->nslots + 1);
	if (how & 64)
		d.gen = (uint16_t)(d.gen + fin_u8(in, 1));
	if (how & 128) /* the fields after tsc: raw bytes (capability included, or not) */
		fin_bytes(in, (uint8_t *)&d + 24, fin_u8(in, 8) % (sizeof(d) - 24 + 1));
	push(f, step, &d);
}

static void check_completion(struct fx *f, const struct sure_completion *o)
{
	if (o->slot >= f->nslots || f->st[o->slot] != M_INFLIGHT)
		abort(); /* a slot not in flight, or reported twice */
	if (o->status < 100 || o->status > 599 || o->error > SURE_CE_LOOP ||
	    o->node >= f->nsteps || o->reason > SURE_REASON_FAILED)
		abort();
	/* A return code is reported only with the reason that carries one. */
	if (o->rc != 0 && o->reason != SURE_REASON_FAILED)
		abort();
	int answered = o->error == SURE_CE_OK || o->error == SURE_CE_LOOP;
	if (answered) {
		/* Extent 0, or another extent of the same size that does not overlap it. */
		uint64_t e = f->ext_bytes[o->slot], o0 = f->off0[o->slot];
		if (o->offset % f->buf_size || o->offset > f->bufs_size ||
		    o->len > f->bufs_size - o->offset || o->len > e ||
		    (o->offset != o0 && o->offset < o0 + e && o0 < o->offset + e))
			abort();
	} else if (o->len != 0) {
		abort(); /* a failure carries no bytes */
	}
	f->st[o->slot] = answered ? M_DONE : M_FAILED;
	f->done[o->slot] = *o;
}

/* The answer copied out into exactly cap bytes; the slot is freed with it. */
static void do_take(struct fx *f, uint32_t slot, uint32_t cap)
{
	uint8_t *dst = malloc(cap ? cap : 1), *want = NULL;
	uint32_t len = slot < f->nslots ? f->done[slot].len : 0;

	if (slot < f->nslots && f->st[slot] == M_DONE && len <= cap) {
		want = malloc(len ? len : 1);
		memcpy(want, f->bufs + f->done[slot].offset, len);
	}
	int rc = sure_chain_take(f->c, slot, dst, cap);
	if (slot >= f->nslots || f->st[slot] != M_DONE) {
		if (rc != -EINVAL)
			abort();
	} else if (len > cap) {
		if (rc != -E2BIG)
			abort();
	} else {
		if (rc != (int)len || memcmp(dst, want, len) != 0 ||
		    !is_zero(f->bufs + f->off0[slot], f->ext_bytes[slot]))
			abort();
		f->st[slot] = M_FREE;
		f->copied_out += len;
	}
	free(want);
	free(dst);
}

static void do_free(struct fx *f, uint32_t slot)
{
	int rc = sure_chain_free(f->c, slot);

	if (slot >= f->nslots || f->st[slot] == M_FREE) {
		if (rc != -EINVAL)
			abort();
		return;
	}
	if (rc != 0 || !is_zero(f->bufs + f->off0[slot], f->ext_bytes[slot]))
		abort(); /* freeing zeroes what the next request could see */
	f->st[slot] = M_FREE;
}

/* Returns the number of completions. */
static int do_wait(struct fx *f, uint32_t max, struct fuzz_in *in)
{
	struct sure_completion *out = malloc(max * sizeof(*out));
	int n = sure_chain_wait(f->c, out, max, 0);

	if (n < 0 || (uint32_t)n > max)
		abort();
	for (int k = 0; k < n; k++)
		check_completion(f, &out[k]);
	for (int k = 0; k < n; k++) {
		uint8_t how = fin_u8(in, 1) % 4;
		if (how == 1)
			do_take(f, out[k].slot, out[k].len + fin_u8(in, 0) % 2);
		else if (how == 2)
			do_take(f, out[k].slot, fin_u16(in, 0));
		else if (how == 3)
			do_free(f, out[k].slot);
	}
	free(out);
	return n;
}

static void do_locate(struct fx *f, uint32_t slot)
{
	int rc = sure_chain_locate(f->c, slot);

	if (slot >= f->nslots) {
		if (rc != -EINVAL)
			abort();
	} else if (f->st[slot] != M_INFLIGHT) {
		if (rc != SURE_NODE_GW)
			abort();
	} else if (rc < 0 || ((uint32_t)rc >= f->nsteps && rc != SURE_NODE_GW)) {
		abort();
	}
}

static void check_stats(struct fx *f)
{
	struct sure_chain_counters st;
	uint64_t busy = 0, used = 0;

	if (sure_chain_stats(f->c, &st, sizeof(st)) != 0 ||
	    sure_chain_stats(f->c, &st, sizeof(st) - 1) != -EINVAL)
		abort();
	for (uint32_t s = 0; s < f->nslots; s++) {
		if (f->st[s] != M_FREE) {
			busy++;
			/* Isolated, a request holds its whole share. */
			used += f->colours ? f->per : 2 * f->ext_bytes[s] / f->buf_size;
		}
	}
	if (st.slots_in_flight != busy || st.free_buffers != f->nbuf - used ||
	    st.buffers != f->nbuf || st.copied_in != f->copied_in || st.copied_out != f->copied_out)
		abort();
}

static void run(struct fx *f, struct fuzz_in *in)
{
	struct fuzz_in none = { NULL, 0 };

	/* The seed: two requests submitted, step 0 has taken them. */
	for (uint32_t i = 0; i < 2 && i < f->nslots; i++)
		do_alloc(f, 100 + i);
	for (uint32_t s = 0; s < f->nslots; s++)
		if (f->st[s] == M_INFLIGHT)
			do_submit(f, s, 100 + s, 1);
	do_pop(f, 0);
	do_pop(f, 1);
	while (fin_more(in)) {
		uint32_t v;
		switch (fin_u8(in, 0) % 13) {
		case 0:
			do_alloc(f, fin_u16(in, 100) % (3 * f->buf_size + 1));
			break;
		case 1:
			v = fin_u8(in, 0) % (f->nslots + 1);
			do_submit(f, v, fin_u8(in, 0) & 1 ? fin_u32(in, 0) : fin_u16(in, 10) % (2 * f->buf_size),
				  fin_u8(in, 1) & 1);
			break;
		case 2:
			do_pop(f, fin_u8(in, 0));
			break;
		case 3:
		case 4:
			do_forward(f, in);
			break;
		case 5: { /* a step pushes raw bytes as a descriptor */
			struct sure_desc d;
			memset(&d, 0, sizeof(d));
			fin_bytes(in, &d, sizeof(d));
			push(f, fin_u8(in, 0) % f->nsteps, &d);
			break;
		}
		case 6: { /* a guest lies about what it may write: its ring's head or its tail */
			uint32_t s = fin_u8(in, 0) % f->nsteps;
			if (fin_u8(in, 0) % 2) {
				volatile uint32_t *t = tail(f, SURE_NODE_GW, 0); /* step 0 consumes */
				*t = fin_u8(in, 0) & 1 ? fin_u32(in, 0) : *t + fin_u8(in, 1);
			} else {
				struct sure_ring *r = ring(f, s, SURE_NODE_GW); /* step s produces */
				r->head = fin_u8(in, 0) & 1 ? fin_u32(in, 0) : r->head + fin_u8(in, 1);
			}
			break;
		}
		case 7: { /* ... or writes anything into its own node page */
			uint8_t bytes[16] = { 0 };
			uint8_t *page = (uint8_t *)&f->nodes[fin_u8(in, 0) % f->nsteps];
			size_t off = fin_u16(in, 0) % sizeof(struct sure_node_state);
			size_t n = fin_bytes(in, bytes, 1 + fin_u8(in, 0) % sizeof(bytes));
			if (n > sizeof(struct sure_node_state) - off)
				n = sizeof(struct sure_node_state) - off;
			memcpy(page + off, bytes, n);
			break;
		}
		case 8:
			do_wait(f, 1 + fin_u8(in, 3) % 8, in);
			break;
		case 9:
			do_free(f, fin_u8(in, 0) % (f->nslots + 1));
			break;
		case 10:
			do_locate(f, fin_u8(in, 0) % (f->nslots + 1));
			break;
		case 11:
			check_stats(f);
			break;
		case 12:
			v = fin_u8(in, 0) % (f->nslots + 1);
			do_take(f, v, fin_u16(in, 4096) % (3 * f->buf_size));
			break;
		}
	}
	/* The end of the seed: the last step answers what step 0 holds, unchanged. */
	for (uint32_t k = 0; k < f->nheld; k++) {
		struct sure_desc d = f->held[k];
		d.from = (uint16_t)(f->nsteps - 1);
		d.hops = (uint8_t)f->nsteps;
		push(f, f->nsteps - 1, &d);
	}
	for (int round = 0; round < 4 * MAX_SLOTS; round++)
		if (do_wait(f, MAX_SLOTS, &none) == 0)
			break;
	check_stats(f);
	for (uint32_t s = 0; s < f->nslots; s++) {
		if (f->st[s] == M_DONE)
			do_take(f, s, f->done[s].len);
		else if (f->st[s] != M_FREE)
			do_free(f, s);
	}
	check_stats(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fx f;

	make_chain(&f, &in);
	run(&f, &in);
	if (sure_chain_destroy(f.c) != 0)
		abort();
	return 0;
}
