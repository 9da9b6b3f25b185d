/*
 * sha256.h - internal: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for
 * the MAC that authenticates chain hops between nodes (dp_hop.h). Written
 * here so that libsure needs no crypto library; checked against the
 * published test vectors in tests/test_sha256.c.
 */
#ifndef SURE_SHA256_H
#define SURE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SURE_SHA256_LEN 32

struct sure_sha256 {
	uint32_t h[8];
	uint64_t bytes; /* absorbed so far */
	uint8_t buf[64];
	uint32_t nbuf;
};

void sure_sha256_init(struct sure_sha256 *s);
void sure_sha256_update(struct sure_sha256 *s, const void *data, size_t len);
void sure_sha256_final(struct sure_sha256 *s, uint8_t out[SURE_SHA256_LEN]);

/* An HMAC key as the two hash states after its padded blocks: a MAC costs
 * no key work, only the message and two final blocks. */
struct sure_hmac_key {
	struct sure_sha256 inner, outer;
};

void sure_hmac_key_init(struct sure_hmac_key *k, const uint8_t *key, size_t len);
/* Starts a MAC: s absorbs the message with sure_sha256_update. */
void sure_hmac_start(const struct sure_hmac_key *k, struct sure_sha256 *s);
void sure_hmac_finish(const struct sure_hmac_key *k, struct sure_sha256 *s,
		      uint8_t out[SURE_SHA256_LEN]);

/* 1 if the n bytes at a and b are equal, in a time that does not depend on
 * where they differ. */
int sure_equal_ct(const uint8_t *a, const uint8_t *b, size_t n);

#endif
