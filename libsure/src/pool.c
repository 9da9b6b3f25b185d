/* pool.c - see pool.h. */
#include "pool.h"

#include <errno.h>
#include <stdlib.h>

static int used(const struct sure_pool_alloc *a, uint32_t i)
{
	return (a->bits[i / 64] >> (i % 64)) & 1;
}

static void mark(struct sure_pool_alloc *a, uint32_t first, uint32_t n, int on)
{
	for (uint32_t i = first; i < first + n; i++) {
		if (on)
			a->bits[i / 64] |= 1ull << (i % 64);
		else
			a->bits[i / 64] &= ~(1ull << (i % 64));
	}
}

int sure_pool_alloc_init(struct sure_pool_alloc *a, uint32_t nbuf)
{
	a->bits = calloc((nbuf + 63) / 64, sizeof(uint64_t));
	if (!a->bits)
		return -ENOMEM;
	a->nbuf = nbuf;
	a->nfree = nbuf;
	a->cursor = 0;
	return 0;
}

void sure_pool_alloc_fini(struct sure_pool_alloc *a)
{
	free(a->bits);
	a->bits = NULL;
}

/* Looks for n free buffers in [from, to); returns the first or -1. */
static int64_t scan(const struct sure_pool_alloc *a, uint32_t from, uint32_t to, uint32_t n)
{
	uint32_t run = 0;

	for (uint32_t i = from; i < to; i++) {
		/* Skip whole used words quickly. */
		if (run == 0 && i % 64 == 0 && i + 64 <= to && a->bits[i / 64] == ~0ull) {
			i += 63;
			continue;
		}
		run = used(a, i) ? 0 : run + 1;
		if (run == n)
			return (int64_t)(i + 1 - n);
	}
	return -1;
}

int64_t sure_pool_take(struct sure_pool_alloc *a, uint32_t n)
{
	int64_t first;

	if (n == 0 || n > a->nfree)
		return -ENOSPC;
	first = scan(a, a->cursor, a->nbuf, n);
	if (first < 0)
		first = scan(a, 0, a->nbuf, n);
	if (first < 0)
		return -ENOSPC;
	mark(a, (uint32_t)first, n, 1);
	a->nfree -= n;
	a->cursor = (uint32_t)first + n == a->nbuf ? 0 : (uint32_t)first + n;
	return first;
}

void sure_pool_give(struct sure_pool_alloc *a, uint32_t first, uint32_t n)
{
	if (first >= a->nbuf || n > a->nbuf - first)
		return;
	mark(a, first, n, 0);
	a->nfree += n;
}
