/*
 * test_sha256.c - SHA-256 and HMAC-SHA256 (src/sha256.c) against the
 * published test vectors: FIPS 180-4's examples and RFC 4231's HMAC cases,
 * fed whole and in pieces of every size, since a hop's MAC absorbs its
 * message in parts.
 */
#include "check.h"
#include "sha256.h"

static void hex(const uint8_t *b, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < SURE_SHA256_LEN; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[64] = 0;
}

/* The digest of msg fed `step` bytes at a time (0: whole). */
static void digest(const void *msg, size_t len, size_t step, char *out)
{
	struct sure_sha256 s;
	uint8_t d[SURE_SHA256_LEN];
	const uint8_t *p = msg;

	sure_sha256_init(&s);
	if (!step)
		step = len ? len : 1;
	for (size_t at = 0; at < len; at += step)
		sure_sha256_update(&s, p + at, len - at < step ? len - at : step);
	sure_sha256_final(&s, d);
	hex(d, out);
}

static void test_sha256_vectors(void)
{
	static const struct {
		const char *msg, *want;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	char got[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t step = 0; step <= 64; step++) {
			digest(v[i].msg, strlen(v[i].msg), step, got);
			if (strcmp(got, v[i].want)) {
				fprintf(stderr, "  \"%s\" in steps of %zu: %s\n", v[i].msg, step, got);
				CHECK(0);
			}
		}
}

static void test_sha256_million(void)
{
	static char a[1000000];
	char got[65];

	memset(a, 'a', sizeof(a));
	digest(a, sizeof(a), 0, got);
	CHECK(!strcmp(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
	digest(a, sizeof(a), 997, got);
	CHECK(!strcmp(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

static void mac(const uint8_t *key, size_t klen, const char *msg, char *out)
{
	struct sure_hmac_key k;
	struct sure_sha256 s;
	uint8_t d[SURE_SHA256_LEN];

	sure_hmac_key_init(&k, key, klen);
	sure_hmac_start(&k, &s);
	sure_sha256_update(&s, msg, strlen(msg));
	sure_hmac_finish(&k, &s, d);
	hex(d, out);
}

static void test_hmac_rfc4231(void)
{
	uint8_t k1[20], k6[131];
	char got[65];

	memset(k1, 0x0b, sizeof(k1));
	mac(k1, sizeof(k1), "Hi There", got);
	CHECK(!strcmp(got, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
	mac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", got);
	CHECK(!strcmp(got, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	/* A key longer than a block is hashed first. */
	memset(k6, 0xaa, sizeof(k6));
	mac(k6, sizeof(k6), "Test Using Larger Than Block-Size Key - Hash Key First", got);
	CHECK(!strcmp(got, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
	/* One key, many MACs: the key's states are not used up. */
	struct sure_hmac_key k;
	struct sure_sha256 s;
	uint8_t a[SURE_SHA256_LEN], b[SURE_SHA256_LEN];
	sure_hmac_key_init(&k, k1, sizeof(k1));
	for (int round = 0; round < 2; round++) {
		sure_hmac_start(&k, &s);
		sure_sha256_update(&s, "Hi ", 3);
		sure_sha256_update(&s, "There", 5);
		sure_hmac_finish(&k, &s, round ? b : a);
	}
	CHECK(sure_equal_ct(a, b, sizeof(a)));
	hex(a, got);
	CHECK(!strcmp(got, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
	b[31] ^= 1;
	CHECK(!sure_equal_ct(a, b, sizeof(a)));
}

int main(void)
{
	RUN(test_sha256_vectors);
	RUN(test_sha256_million);
	RUN(test_hmac_rfc4231);
	return CHECK_DONE();
}
