/*
 * malloc.c - the heap: [heap_start, heap_end) between the image and the
 * stack guard. Blocks carry a 16-byte header (size of the previous block and
 * of this one); free blocks sit on one first-fit list and merge with free
 * neighbours. Memory above `top` has never been used: the heap grows into it
 * only on demand, so an instance (and a copy-on-write clone) touches no more
 * pages than it needs. A free block that reaches top is given back to it.
 */
#include "sg.h"

#define ALIGN 16
#define HDR ((size_t)sizeof(struct blk))
#define MIN_BLOCK (HDR + 2 * sizeof(void *)) /* room for the list links */
#define USED 1ul

struct blk {
	size_t prev_size; /* size of the block just below; 0 for the first */
	size_t size; /* whole block incl. header, multiple of ALIGN; | USED */
};

struct free_blk {
	struct blk h;
	struct free_blk *next, *prev;
};

static uintptr_t heap_lo, heap_top, heap_hi;
static size_t top_prev; /* size of the block just below top; 0 if none */
static struct free_blk *free_list;

void sg_heap_init(uint64_t start, uint64_t end)
{
	uintptr_t lo = (start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);

	/* A host that gives no heap (or a bogus one) gets NULL from malloc. */
	if (end < lo)
		end = lo;
	heap_lo = heap_top = lo;
	heap_hi = end & ~(uintptr_t)(ALIGN - 1);
	if (heap_hi < heap_lo)
		heap_hi = heap_lo;
	top_prev = 0;
	free_list = NULL;
}

static size_t bsize(const struct blk *b)
{
	return b->size & ~USED;
}

static struct blk *next_of(struct blk *b)
{
	uintptr_t n = (uintptr_t)b + bsize(b);

	return n < heap_top ? (struct blk *)n : NULL;
}

static struct blk *prev_of(struct blk *b)
{
	return b->prev_size ? (struct blk *)((uintptr_t)b - b->prev_size) : NULL;
}

/* Keeps the following block's back link right after b changed size. */
static void link_next(struct blk *b)
{
	struct blk *n = next_of(b);

	if (n)
		n->prev_size = bsize(b);
}

static void list_add(struct blk *b)
{
	struct free_blk *f = (struct free_blk *)b;

	f->prev = NULL;
	f->next = free_list;
	if (free_list)
		free_list->prev = f;
	free_list = f;
}

static void list_del(struct blk *b)
{
	struct free_blk *f = (struct free_blk *)b;

	if (f->prev)
		f->prev->next = f->next;
	else
		free_list = f->next;
	if (f->next)
		f->next->prev = f->prev;
}

/* Bytes of block needed for n bytes of payload; 0 if impossible. */
static size_t block_size(size_t n)
{
	if (n > SIZE_MAX / 2)
		return 0;
	size_t need = (n + HDR + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/*
 * Releases a block that is not on the free list: merges it with free
 * neighbours, hands it back to top if it ends there, else lists it.
 */
static void release(struct blk *b)
{
	struct blk *p = prev_of(b), *n = next_of(b);

	b->size = bsize(b);
	if (n && !(n->size & USED)) {
		list_del(n);
		b->size += bsize(n);
	}
	if (p && !(p->size & USED)) {
		list_del(p);
		p->size += b->size;
		b = p;
	}
	if ((uintptr_t)b + b->size == heap_top) {
		/* Below b is a used block (a free one was merged above) or nothing. */
		heap_top = (uintptr_t)b;
		top_prev = b->prev_size;
		return;
	}
	link_next(b);
	list_add(b);
}

/* Cuts b (in use) down to need bytes and releases the rest if big enough. */
static void trim(struct blk *b, size_t need)
{
	size_t have = bsize(b);

	if (have - need < MIN_BLOCK)
		return;
	struct blk *rest = (struct blk *)((uintptr_t)b + need);
	b->size = need | USED;
	rest->prev_size = need;
	rest->size = (have - need) | USED;
	link_next(rest);
	release(rest);
}

/* Grows the heap at top by a new used block of need bytes, or NULL. */
static struct blk *from_top(size_t need)
{
	if (need > heap_hi - heap_top)
		return NULL;
	struct blk *b = (struct blk *)heap_top;
	b->prev_size = top_prev;
	b->size = need | USED;
	heap_top += need;
	top_prev = need;
	return b;
}

void *malloc(size_t n)
{
	size_t need = block_size(n ? n : 1);

	if (!need)
		return NULL;
	for (struct free_blk *f = free_list; f; f = f->next) {
		if (bsize(&f->h) >= need) {
			struct blk *b = &f->h;
			list_del(b);
			b->size |= USED;
			trim(b, need);
			return b + 1;
		}
	}
	struct blk *b = from_top(need);
	return b ? b + 1 : NULL;
}

void *calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = malloc(count * size);
	/* Reused blocks hold old data; fresh ones are zero but clearing is cheap
	 * next to the cost of a wrong guess. */
	if (p)
		memset(p, 0, count * size);
	return p;
}

/* The header of a pointer malloc handed out; aborts on anything else. */
static struct blk *owner(void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct blk *b = (struct blk *)a - 1;

	if (a < heap_lo + HDR || a >= heap_top || (a & (ALIGN - 1)) || !(b->size & USED) ||
	    bsize(b) < MIN_BLOCK || bsize(b) > heap_top - (uintptr_t)b)
		sure_abort("free/realloc of a pointer malloc did not return (or a double free)");
	return b;
}

void free(void *p)
{
	if (p)
		release(owner(p));
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	struct blk *b = owner(p);
	size_t need = block_size(n), have = bsize(b);

	if (!need)
		return NULL;
	if (need <= have) {
		trim(b, need);
		return p;
	}
	/* The last block grows into top without a copy. */
	if ((uintptr_t)b + have == heap_top) {
		if (need - have > heap_hi - heap_top)
			return NULL;
		heap_top += need - have;
		b->size = need | USED;
		top_prev = need;
		return p;
	}
	/* Or it swallows a free neighbour above it. */
	struct blk *nx = next_of(b);
	if (nx && !(nx->size & USED) && have + bsize(nx) >= need) {
		list_del(nx);
		b->size = (have + bsize(nx)) | USED;
		link_next(b);
		trim(b, need);
		return p;
	}
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, have - HDR);
	release(b);
	return q;
}
