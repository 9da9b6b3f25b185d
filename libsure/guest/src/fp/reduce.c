/* reduce.c - x = n * pi/2 + r for any finite x. Up to 2^20 pi/2 pi/2 is
 * subtracted in four pieces of 33 bits (each n * piece exact); beyond, the
 * bits of 2/pi that matter are multiplied by x's integer mantissa
 * (Payne-Hanek), so the reduction is exact to well past double precision. */
#include <math.h>

#include "fp.h"

#define PIO2_1 0x1.921fb54400000p+0
#define PIO2_2 0x1.0b4611a600000p-34
#define PIO2_3 0x1.3198a2e000000p-69
#define PIO2_4 0x1.b839a25200000p-104

/* 2/pi in binary, 32 bits a word: bit 31 of word j weighs 2^-(32j + 1). */
static const uint32_t TWO_OVER_PI[40] = {
	0xa2f9836e, 0x4e441529, 0xfc2757d1, 0xf534ddc0, 0xdb629599, 0x3c439041, 0xfe5163ab,
	0xdebbc561, 0xb7246e3a, 0x424dd2e0, 0x06492eea, 0x09d1921c, 0xfe1deb1c, 0xb129a73e,
	0xe88235f5, 0x2ebb4484, 0xe99c7026, 0xb45f7e41, 0x3991d639, 0x835339f4, 0x9c845f8b,
	0xbdf9283b, 0x1ff897ff, 0xde05980f, 0xef2f118b, 0x5a0a6d1f, 0x6d367ecf, 0x27cb09b7,
	0x4f463f66, 0x9e5fea2d, 0x7527bac7, 0xebe5f17b, 0x3d0739f7, 0x8a5292ea, 0x6bfb5fb1,
	0x1f8d5d08, 0x56033046, 0xfc7b6bab, 0xf0cfbc20, 0x9af4361d,
};

/* Bit i of 2/pi (weight 2^-i, i >= 1); 0 for i <= 0. */
static unsigned bit_of(int i)
{
	if (i <= 0)
		return 0;
	i--;
	return TWO_OVER_PI[i / 32] >> (31 - i % 32) & 1;
}

/* 192 bits of 2/pi starting at weight 2^-first, as six words, high first. */
static void window(int first, uint32_t w[6])
{
	for (int j = 0; j < 6; j++) {
		uint32_t v = 0;

		for (int b = 0; b < 32; b++)
			v = v << 1 | bit_of(first + j * 32 + b);
		w[j] = v;
	}
}

static int reduce_big(double x, struct dd *r)
{
	int e = fp_exp_field(x) - 1075; /* x = m * 2^e, m a 53-bit integer */
	uint64_t m = (fp_bits(x) & ((1ull << 52) - 1)) | 1ull << 52;
	uint32_t w[6], p[8] = { 0 };

	/* Bits of 2/pi weighing 2^-i with e - i >= 2 add multiples of 4 to
	 * x * 2/pi: only i >= e - 1 matter, and 192 of them are plenty. */
	window(e - 1, w);
	/* p = m * w (53 x 192 bits), little-endian words. */
	uint32_t mw[2] = { (uint32_t)m, (uint32_t)(m >> 32) };
	for (int a = 0; a < 2; a++) {
		uint64_t carry = 0;

		for (int b = 0; b < 6; b++) {
			uint64_t t = (uint64_t)mw[a] * w[5 - b] + p[a + b] + carry;
			p[a + b] = (uint32_t)t;
			carry = t >> 32;
		}
		p[a + 6] += (uint32_t)carry;
	}
	/* x * 2/pi mod 4 = (p mod 2^192) * 2^-190: word 5's top two bits are
	 * the integer part, the rest the fraction. */
	int n = (int)(p[5] >> 30);
	uint64_t f = (uint64_t)(p[5] & 0x3fffffff) << 34 | (uint64_t)p[4] << 2 | p[3] >> 30;
	uint64_t f2 = (uint64_t)(p[3] & 0x3fffffff) << 34 | (uint64_t)p[2] << 2 | p[1] >> 30;
	/* f is the fraction in units of 2^-64 (f2 the next 64 bits). */
	double hi = (double)(f >> 11) * 0x1p-53, lo = (double)(f & 0x7ff) * 0x1p-64 +
						      (double)(f2 >> 11) * 0x1p-117;
	if (hi >= 0.5) { /* to [-1/2, 1/2): r in [-pi/4, pi/4) */
		hi -= 1.0;
		n++;
	}
	struct dd fr = dd_two_sum(hi, lo);
	struct dd t = dd_two_prod(fr.hi, FP_PIO2.hi);
	t.lo += fr.hi * FP_PIO2.lo + fr.lo * FP_PIO2.hi;
	*r = dd_two_sum(t.hi, t.lo);
	if (x < 0) {
		r->hi = -r->hi;
		r->lo = -r->lo;
		n = -n;
	}
	return n;
}

int sg_rem_pio2(double x, struct dd *r)
{
	if (fp_abs(x) <= 0x1p-1 * FP_PIO2.hi) {
		*r = (struct dd){ x, 0.0 };
		return 0;
	}
	if (fp_abs(x) >= 0x1p20 * FP_PIO2.hi)
		return reduce_big(x, r);
	double k = rint(x * 0x1.45f306dc9c883p-1); /* x * 2/pi */
	/* Each product is exact (k < 2^21, pieces of 33 bits); the first
	 * differences are exact too (Sterbenz) until the pieces get small. */
	double a = x - k * PIO2_1;
	struct dd s = dd_two_sum(a, -(k * PIO2_2));
	s.lo -= k * PIO2_3;
	s.lo -= k * PIO2_4;
	*r = dd_two_sum(s.hi, s.lo);
	return (int)k;
}
