/*
 * sure_cap.h - the one-way check of a chain request's capability
 * (sure_chain_abi.h), shared by the host, which publishes it in the read-only
 * table, and the guests, which compare every descriptor they receive with it.
 *
 * The check is SipHash-2-4 keyed by the 128-bit capability over the slot and
 * its generation: seeing the check (every step does) does not give the key,
 * so a step that never held the request cannot make a descriptor that
 * passes. Written from the SipHash paper (Aumasson and Bernstein, 2012).
 */
#ifndef SURE_CAP_H
#define SURE_CAP_H

#include <stdint.h>

static inline uint64_t sure_cap_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SURE_CAP_ROUND(v0, v1, v2, v3)                                              \
	do {                                                                        \
		v0 += v1;                                                           \
		v1 = sure_cap_rotl(v1, 13);                                         \
		v1 ^= v0;                                                           \
		v0 = sure_cap_rotl(v0, 32);                                         \
		v2 += v3;                                                           \
		v3 = sure_cap_rotl(v3, 16);                                         \
		v3 ^= v2;                                                           \
		v0 += v3;                                                           \
		v3 = sure_cap_rotl(v3, 21);                                         \
		v3 ^= v0;                                                           \
		v2 += v1;                                                           \
		v1 = sure_cap_rotl(v1, 17);                                         \
		v1 ^= v2;                                                           \
		v2 = sure_cap_rotl(v2, 32);                                         \
	} while (0)

/* SipHash-2-4 of the 8-byte message slot | gen << 32 under key cap. */
static inline uint64_t sure_cap_check(const uint64_t cap[2], uint32_t slot, uint16_t gen)
{
	uint64_t v0 = cap[0] ^ 0x736f6d6570736575ull, v1 = cap[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = cap[0] ^ 0x6c7967656e657261ull, v3 = cap[1] ^ 0x7465646279746573ull;
	uint64_t m = (uint64_t)slot | (uint64_t)gen << 32;
	uint64_t last = 8ull << 56; /* the message length; no bytes left over */

	v3 ^= m;
	SURE_CAP_ROUND(v0, v1, v2, v3);
	SURE_CAP_ROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= last;
	SURE_CAP_ROUND(v0, v1, v2, v3);
	SURE_CAP_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SURE_CAP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
