/*
 * primes: is n prime, and how many primes are there up to n (n <= 8,000,000)?
 *
 * sure_init sieves once and keeps a bitset of the odd composites plus a
 * running count per 64-bit word: tens of milliseconds of work that a
 * template does once per deployment, so every instance (a clone of the
 * template) starts with the tables already built and answers in microseconds.
 */
#include <sure.h>

#define LIMIT 8000000u
#define ODD_BITS (LIMIT / 2 + 1) /* bit i stands for 2i+1 */
#define WORDS ((ODD_BITS + 63) / 64)

static uint64_t composite[WORDS]; /* bit set: 2i+1 is not prime */
static uint32_t primes_before[WORDS]; /* odd primes in the words before this one */

static int is_composite(uint32_t i)
{
	return (int)(composite[i / 64] >> (i % 64) & 1);
}

void sure_init(void)
{
	composite[0] |= 1; /* 1 is not prime */
	for (uint32_t i = 1; (2 * i + 1) * (2 * i + 1) <= LIMIT; i++) {
		if (is_composite(i))
			continue;
		uint32_t p = 2 * i + 1;
		for (uint32_t m = p * p; m <= LIMIT; m += 2 * p)
			composite[m / 2 / 64] |= 1ull << (m / 2 % 64);
	}
	uint32_t count = 0;
	for (uint32_t w = 0; w < WORDS; w++) {
		primes_before[w] = count;
		count += 64u - (uint32_t)__builtin_popcountll(composite[w]);
	}
	sure_log("primes: sieve up to %u ready", LIMIT);
}

/* Primes <= n (n >= 2). */
static uint32_t pi(uint32_t n)
{
	uint32_t last = (n - 1) / 2; /* the last odd number <= n is 2*last+1 */
	uint32_t w = last / 64, bits = last % 64 + 1;
	uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
	return 1 + primes_before[w] + (uint32_t)__builtin_popcountll(~composite[w] & mask);
}

int handle(sure_req *req)
{
	char num[16];
	size_t n = req->len < sizeof(num) - 1 ? req->len : sizeof(num) - 1;
	char *end;

	memcpy(num, req->body, n);
	num[n] = 0;
	long v = strtol(num, &end, 10);
	while (*end == '\n' || *end == '\r' || *end == ' ')
		end++;
	if (n == 0 || *end != 0 || v < 0 || v > (long)LIMIT) {
		sure_set_status(req, 400);
		return sure_printf(req, "send a whole number from 0 to %u\n", LIMIT) < 0;
	}
	uint32_t x = (uint32_t)v;
	int prime = x == 2 || (x > 2 && (x & 1) && !is_composite(x / 2));
	return sure_printf(req, "%u is %s; primes up to %u: %u\n", x, prime ? "prime" : "not prime", x,
			   x < 2 ? 0 : pi(x)) < 0;
}
