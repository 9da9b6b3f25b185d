/*
 * sha256.c - see sha256.h. The constants are FIPS 180-4's: the first 32
 * bits of the fractional parts of the square roots of the first 8 primes
 * (initial state) and of the cube roots of the first 64 (rounds).
 */
#include "sha256.h"

#include <string.h>

static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One 64-byte block into the state. */
static void compress(uint32_t h[8], const uint8_t *block)
{
	uint32_t w[64];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];

	for (unsigned t = 0; t < 16; t++)
		w[t] = be32(block + 4 * t);
	for (unsigned t = 16; t < 64; t++) {
		uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	for (unsigned t = 0; t < 64; t++) {
		uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] +
			      w[t];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

void sure_sha256_init(struct sure_sha256 *s)
{
	memcpy(s->h, H0, sizeof(H0));
	s->bytes = 0;
	s->nbuf = 0;
}

void sure_sha256_update(struct sure_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->bytes += len;
	if (s->nbuf) {
		size_t take = 64 - s->nbuf < len ? 64 - s->nbuf : len;
		memcpy(s->buf + s->nbuf, p, take);
		s->nbuf += (uint32_t)take;
		p += take;
		len -= take;
		if (s->nbuf < 64)
			return;
		compress(s->h, s->buf);
		s->nbuf = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		compress(s->h, p);
	memcpy(s->buf, p, len);
	s->nbuf = (uint32_t)len;
}

void sure_sha256_final(struct sure_sha256 *s, uint8_t out[SURE_SHA256_LEN])
{
	uint64_t bits = s->bytes * 8;

	/* 0x80, zeros up to 56 mod 64, then the length in bits, big-endian. */
	s->buf[s->nbuf++] = 0x80;
	if (s->nbuf > 56) {
		memset(s->buf + s->nbuf, 0, 64 - s->nbuf);
		compress(s->h, s->buf);
		s->nbuf = 0;
	}
	memset(s->buf + s->nbuf, 0, 56 - s->nbuf);
	put_be32(s->buf + 56, (uint32_t)(bits >> 32));
	put_be32(s->buf + 60, (uint32_t)bits);
	compress(s->h, s->buf);
	for (unsigned i = 0; i < 8; i++)
		put_be32(out + 4 * i, s->h[i]);
}

void sure_hmac_key_init(struct sure_hmac_key *k, const uint8_t *key, size_t len)
{
	uint8_t block[64] = { 0 }, pad[64];

	if (len > sizeof(block)) { /* longer keys are hashed first (RFC 2104) */
		struct sure_sha256 s;
		sure_sha256_init(&s);
		sure_sha256_update(&s, key, len);
		sure_sha256_final(&s, block);
	} else if (len) {
		memcpy(block, key, len);
	}
	for (unsigned i = 0; i < 64; i++)
		pad[i] = block[i] ^ 0x36;
	sure_sha256_init(&k->inner);
	sure_sha256_update(&k->inner, pad, 64);
	for (unsigned i = 0; i < 64; i++)
		pad[i] = block[i] ^ 0x5c;
	sure_sha256_init(&k->outer);
	sure_sha256_update(&k->outer, pad, 64);
	memset(block, 0, sizeof(block));
	memset(pad, 0, sizeof(pad));
}

void sure_hmac_start(const struct sure_hmac_key *k, struct sure_sha256 *s)
{
	*s = k->inner;
}

void sure_hmac_finish(const struct sure_hmac_key *k, struct sure_sha256 *s,
		      uint8_t out[SURE_SHA256_LEN])
{
	uint8_t inner[SURE_SHA256_LEN];
	struct sure_sha256 o = k->outer;

	sure_sha256_final(s, inner);
	sure_sha256_update(&o, inner, sizeof(inner));
	sure_sha256_final(&o, out);
}

int sure_equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}
