/* big.c - the big integers of big.h. */
#include "big.h"

void sg_big_set(struct sg_big *b, uint64_t v)
{
	b->n = 0;
	if (v)
		b->w[b->n++] = (uint32_t)v;
	if (v >> 32)
		b->w[b->n++] = (uint32_t)(v >> 32);
}

void sg_big_mul_add(struct sg_big *b, uint32_t m, uint32_t add)
{
	uint64_t carry = add;

	for (int i = 0; i < b->n; i++) {
		uint64_t t = (uint64_t)b->w[i] * m + carry;
		b->w[i] = (uint32_t)t;
		carry = t >> 32;
	}
	if (carry && b->n < SG_BIG_LIMBS)
		b->w[b->n++] = (uint32_t)carry;
}

void sg_big_mul_pow10(struct sg_big *b, int e)
{
	for (; e >= 9; e -= 9)
		sg_big_mul_add(b, 1000000000u, 0);
	static const uint32_t small[9] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
					   100000000 };
	sg_big_mul_add(b, small[e], 0);
}

int sg_big_bits(const struct sg_big *b)
{
	return b->n ? 32 * (b->n - 1) + (32 - __builtin_clz(b->w[b->n - 1])) : 0;
}

void sg_big_shl(struct sg_big *b, int bits)
{
	int words = bits / 32, r = bits % 32;

	if (b->n == 0)
		return;
	if (b->n + words + 1 > SG_BIG_LIMBS)
		words = SG_BIG_LIMBS - b->n - 1; /* cannot happen within the bounds checked */
	b->w[b->n + words] = 0;
	for (int i = b->n - 1; i >= 0; i--) {
		uint64_t v = (uint64_t)b->w[i] << r;
		b->w[i + words + 1] |= (uint32_t)(v >> 32);
		b->w[i + words] = (uint32_t)v;
	}
	for (int i = 0; i < words; i++)
		b->w[i] = 0;
	b->n += words + 1;
	while (b->n && b->w[b->n - 1] == 0)
		b->n--;
}

void sg_big_shr1(struct sg_big *b)
{
	for (int i = 0; i < b->n; i++)
		b->w[i] = b->w[i] >> 1 | (i + 1 < b->n ? b->w[i + 1] << 31 : 0);
	while (b->n && b->w[b->n - 1] == 0)
		b->n--;
}

int sg_big_cmp(const struct sg_big *a, const struct sg_big *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (int i = a->n - 1; i >= 0; i--)
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	return 0;
}

/* a -= b, for a >= b. */
void sg_big_sub(struct sg_big *a, const struct sg_big *b)
{
	int64_t borrow = 0;

	for (int i = 0; i < a->n; i++) {
		int64_t t = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
		borrow = t < 0;
		a->w[i] = (uint32_t)(t + (borrow << 32));
	}
	while (a->n && a->w[a->n - 1] == 0)
		a->n--;
}

void sg_big_mul_pow5(struct sg_big *b, int e)
{
	for (; e >= 13; e -= 13)
		sg_big_mul_add(b, 1220703125u, 0); /* 5^13 */
	uint32_t p = 1;
	while (e-- > 0)
		p *= 5;
	sg_big_mul_add(b, p, 0);
}

uint32_t sg_big_divmod(struct sg_big *b, uint32_t d)
{
	uint64_t r = 0;

	for (int i = b->n - 1; i >= 0; i--) {
		uint64_t t = r << 32 | b->w[i];
		b->w[i] = (uint32_t)(t / d);
		r = t % d;
	}
	while (b->n && b->w[b->n - 1] == 0)
		b->n--;
	return (uint32_t)r;
}
