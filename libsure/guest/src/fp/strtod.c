/*
 * strtod.c - strtod, strtof, atof: correctly rounded (ties to even) for any
 * decimal input, plus hexadecimal floats, "inf"/"infinity" and "nan".
 * Short inputs (at most 15 digits, a power of ten up to 10^22) take one
 * exact double operation; the rest are done exactly with big integers:
 * the digits D and the power of ten, D * 10^e or D / 10^-e reduced to a
 * 64-bit quotient and a sticky bit, then rounded once.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "big.h"
#include "fp.h"

/* Decimal digits kept: a double's halfway points need at most 768
 * significant digits, so beyond 800 only "is anything non-zero" matters. */
#define MAX_DIGITS 800

/* The top 64 bits of b, and whether any bit below them is set. */
static uint64_t big_top64(const struct sg_big *b, int *sticky, int *shift)
{
	int bits = sg_big_bits(b), s = bits > 64 ? bits - 64 : 0;
	uint64_t m = 0;

	*sticky = 0;
	for (int i = bits - 1; i >= 0; i--) {
		int bit = b->w[i / 32] >> (i % 32) & 1;
		if (i >= s)
			m = m << 1 | (uint64_t)bit;
		else if (bit)
			*sticky = 1;
	}
	*shift = s;
	return m;
}

/* m * 2^e (plus a little more when sticky), rounded to nearest, ties to
 * even, with subnormals, overflow and underflow; m != 0. */
static double round_bits(uint64_t m, int sticky, int e)
{
	int lead = 63 - __builtin_clzll(m);
	int top = e + lead; /* the value is in [2^top, 2^(top + 1)) */
	int drop = lead - 52; /* bits below the 53 kept */
	double v;

	if (top > 1023) /* at or above 2^1024 */
		return sg_fp_err(ERANGE, HUGE_VAL);
	int tiny = top < -1022;
	if (tiny)
		drop += -1022 - top; /* subnormal: fewer bits kept */
	if (drop > lead + 1) /* below half the smallest subnormal */
		return sg_fp_err(ERANGE, 0.0);
	if (drop > 0) {
		uint64_t rest = drop >= 64 ? m : m & ((1ull << drop) - 1);
		uint64_t half = 1ull << (drop - 1);
		uint64_t kept = drop >= 64 ? 0 : m >> drop;
		if (rest > half || (rest == half && (sticky || (kept & 1))))
			kept++;
		sticky |= rest != 0;
		m = kept;
		e += drop;
	}
	v = scalbn((double)m, e); /* exact: m has at most 53 bits here */
	/* Underflow is judged before rounding, as glibc does. */
	if (v == 0 || isinf(v) || (tiny && sticky))
		errno = ERANGE;
	return v;
}

static int lower_is(const char *p, const char *word)
{
	for (; *word; p++, word++)
		if (tolower((unsigned char)*p) != *word)
			return 0;
	return 1;
}

/* After "0x": hex digits, an optional point, an optional p exponent. */
static double parse_hex(const char *p, const char **end)
{
	uint64_t m = 0;
	int e = 0, sticky = 0, any = 0, point = 0;

	for (;; p++) {
		int d;
		if (*p == '.' && !point) {
			point = 1;
			continue;
		}
		if (isdigit((unsigned char)*p))
			d = *p - '0';
		else if (isxdigit((unsigned char)*p))
			d = tolower((unsigned char)*p) - 'a' + 10;
		else
			break;
		any = 1;
		if (m >> 60 == 0) {
			m = m << 4 | (uint64_t)d;
			e -= point ? 4 : 0;
		} else {
			sticky |= d != 0;
			e += point ? 0 : 4;
		}
	}
	if (!any)
		return -1.0; /* not a hex float: the caller takes the "0" */
	if ((*p == 'p' || *p == 'P')) {
		const char *q = p + 1;
		int neg = 0;
		long x = 0;
		if (*q == '+' || *q == '-')
			neg = *q++ == '-';
		if (isdigit((unsigned char)*q)) {
			while (isdigit((unsigned char)*q)) {
				if (x < 100000)
					x = x * 10 + (*q - '0');
				q++;
			}
			e += (int)(neg ? -x : x);
			p = q;
		}
	}
	*end = p;
	return m ? round_bits(m, sticky, e) : 0.0;
}

/* D * 10^e10 for the digits in dig (no leading zeros), the slow way. */
static double decimal_big(const char *dig, int nd, int e10)
{
	struct sg_big a, b;
	int sticky, shift;

	sg_big_set(&a, 0);
	for (int i = 0; i < nd; i++)
		sg_big_mul_add(&a, 10, (uint32_t)(dig[i] - '0'));
	if (e10 >= 0) {
		sg_big_mul_pow10(&a, e10);
		uint64_t m = big_top64(&a, &sticky, &shift);
		return round_bits(m, sticky, shift);
	}
	/* a / 10^-e10: a 64-bit quotient q = floor(a 2^s / b) (2^62 <= q <
	 * 2^64), then the value is q * 2^-s, the remainder the sticky bit. */
	sg_big_set(&b, 1);
	sg_big_mul_pow10(&b, -e10);
	int s = sg_big_bits(&b) - sg_big_bits(&a) + 63;
	if (s > 0)
		sg_big_shl(&a, s);
	else
		sg_big_shl(&b, -s);
	sg_big_shl(&b, 63);
	uint64_t q = 0;
	for (int i = 63; i >= 0; i--) {
		if (sg_big_cmp(&a, &b) >= 0) {
			sg_big_sub(&a, &b);
			q |= 1ull << i;
		}
		sg_big_shr1(&b);
	}
	return round_bits(q, a.n != 0, -s);
}

static const double POW10[23] = { 1e0,	1e1,  1e2,  1e3,  1e4,	1e5,  1e6,  1e7,
				  1e8,	1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

double strtod(const char *s, char **end)
{
	const char *p = s;
	char dig[MAX_DIGITS + 1];
	int nd = 0, e10 = 0, any = 0, point = 0, sticky = 0, neg = 0;
	double v;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (lower_is(p, "inf")) {
		p += lower_is(p, "infinity") ? 8 : 3;
		v = INFINITY;
		goto done;
	}
	if (lower_is(p, "nan")) {
		p += 3;
		if (*p == '(') { /* nan(chars): taken only when closed */
			const char *q = p + 1;
			while (isalnum((unsigned char)*q) || *q == '_')
				q++;
			if (*q == ')')
				p = q + 1;
		}
		v = NAN;
		goto done;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		const char *q;
		v = parse_hex(p + 2, &q);
		if (v >= 0) {
			p = q;
			goto done;
		}
	}
	for (;; p++) {
		if (*p == '.' && !point) {
			point = 1;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			break;
		any = 1;
		if (nd == 0 && *p == '0') { /* leading zero: only moves the point */
			e10 -= point;
			continue;
		}
		if (nd < MAX_DIGITS) {
			dig[nd++] = *p;
			e10 -= point;
		} else {
			sticky |= *p != '0';
			e10 += !point;
		}
	}
	if (!any) {
		if (end)
			*end = (char *)s;
		return 0.0;
	}
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		int eneg = 0;
		long x = 0;
		if (*q == '+' || *q == '-')
			eneg = *q++ == '-';
		if (isdigit((unsigned char)*q)) {
			while (isdigit((unsigned char)*q)) {
				if (x < 100000)
					x = x * 10 + (*q - '0');
				q++;
			}
			e10 += (int)(eneg ? -x : x);
			p = q;
		}
	}
	if (sticky) /* a non-zero digit past the kept ones: just above D */
		dig[nd++] = '1', e10--;
	while (nd > 0 && dig[nd - 1] == '0')
		nd--, e10++;
	if (nd == 0) {
		v = 0.0;
	} else if (nd + e10 > 310) {
		v = sg_fp_err(ERANGE, HUGE_VAL);
	} else if (nd + e10 < -324) {
		v = sg_fp_err(ERANGE, 0.0);
	} else if (nd <= 15 && e10 >= -22 && e10 <= 22) {
		uint64_t d = 0;
		for (int i = 0; i < nd; i++)
			d = d * 10 + (uint64_t)(dig[i] - '0');
		/* Both exact, so one correctly rounded operation. */
		v = e10 >= 0 ? (double)d * POW10[e10] : (double)d / POW10[-e10];
	} else {
		v = decimal_big(dig, nd, e10);
	}
done:
	if (end)
		*end = (char *)p;
	return neg ? -v : v;
}

float strtof(const char *s, char **end)
{
	return (float)strtod(s, end);
}

double atof(const char *s)
{
	return strtod(s, NULL);
}
