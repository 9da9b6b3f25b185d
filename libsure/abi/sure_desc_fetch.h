/*
 * sure_desc_fetch.h - the one way to read a descriptor out of a ring another
 * party writes (sure_chain_abi.h): the host reading a step's ring, a step's
 * gate reading its neighbour's. The producer may rewrite the descriptor while
 * it is read, so it is copied once and only the copy is judged and used. A
 * plain struct copy does not promise that: a compiler may read a field of it
 * again from the ring after the check (it did, for the slot, in the gateway's
 * collect), so the copy is made of atomic loads, which it may neither repeat
 * nor invent.
 */
#ifndef SURE_DESC_FETCH_H
#define SURE_DESC_FETCH_H

#include <stdint.h>

#include "sure_chain_abi.h"

_Static_assert(sizeof(struct sure_desc) % 8 == 0 && _Alignof(struct sure_desc) >= 8,
	       "a descriptor is read 8 bytes at a time");

static inline void sure_desc_fetch(struct sure_desc *dst, const struct sure_desc *src)
{
	const uint64_t *from = (const uint64_t *)(const void *)src;
	uint64_t w[sizeof(*src) / 8];

	for (unsigned i = 0; i < sizeof(*src) / 8; i++)
		w[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	__builtin_memcpy(dst, w, sizeof(w));
}

#endif
