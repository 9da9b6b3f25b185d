/*
 * pool.h - the host-private allocator of a chain's buffers: runs of
 * contiguous buffers tracked in a bitmap that no guest can see or touch.
 * Not thread-safe: the chain serialises calls.
 */
#ifndef SURE_POOL_H
#define SURE_POOL_H

#include <stdint.h>

struct sure_pool_alloc {
	uint64_t *bits; /* 1 = buffer in use */
	uint32_t nbuf;
	uint32_t nfree;
	uint32_t cursor; /* next-fit start, so repeated small runs do not rescan */
};

int sure_pool_alloc_init(struct sure_pool_alloc *a, uint32_t nbuf);
void sure_pool_alloc_fini(struct sure_pool_alloc *a);
/* First buffer of a free run of n buffers, marked used; -ENOSPC if none. */
int64_t sure_pool_take(struct sure_pool_alloc *a, uint32_t n);
/* Marks [first, first + n) free again (the caller zeroes the bytes). */
void sure_pool_give(struct sure_pool_alloc *a, uint32_t first, uint32_t n);

#endif
