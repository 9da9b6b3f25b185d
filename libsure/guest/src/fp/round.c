/* round.c - the exact operations of math.h: rounding to integers, splitting,
 * scaling by powers of two, remainders, min/max. All work on the bits, so
 * they are exact and need no rounding mode. */
#include <errno.h>
#include <math.h>

#include "fp.h"

double fabs(double x)
{
	return fp_abs(x);
}

double copysign(double x, double y)
{
	return fp_from((fp_bits(x) & ~(1ull << 63)) | (fp_bits(y) & 1ull << 63));
}

/* Rounds toward zero: clears the fraction bits below the binary point. */
double trunc(double x)
{
	int e = fp_exp_field(x) - 1023;

	if (e >= 52)
		return x; /* already an integer, or inf/NaN */
	if (e < 0)
		return copysign(0.0, x);
	return fp_from(fp_bits(x) & ~((1ull << (52 - e)) - 1));
}

double floor(double x)
{
	double t = trunc(x);

	return t != x && x < 0 ? t - 1.0 : t;
}

double ceil(double x)
{
	double t = trunc(x);

	return t != x && x > 0 ? t + 1.0 : t;
}

double round(double x)
{
	double t = trunc(x);

	/* x - t is exact (same binade or smaller). */
	if (fp_abs(x - t) >= 0.5)
		t += x < 0 ? -1.0 : 1.0;
	return t;
}

/* Halfway cases to even (the default rounding mode). */
double rint(double x)
{
	double t = trunc(x), d = fp_abs(x - t);

	if (d > 0.5 || (d == 0.5 && fmod(t, 2.0) != 0))
		t += x < 0 ? -1.0 : 1.0;
	return t;
}

double nearbyint(double x)
{
	return rint(x);
}

long lround(double x)
{
	return (long)round(x);
}

long long llround(double x)
{
	return (long long)round(x);
}

long lrint(double x)
{
	return (long)rint(x);
}

double modf(double x, double *ipart)
{
	double t = trunc(x);

	*ipart = t;
	if (isinf(x))
		return copysign(0.0, x);
	return copysign(x - t, x);
}

/* x = m * 2^e with 0.5 <= |m| < 1. */
double frexp(double x, int *exp)
{
	int e = fp_exp_field(x);

	*exp = 0;
	if (x == 0 || e == 0x7ff)
		return x;
	if (e == 0) { /* subnormal: make it normal first */
		x *= 0x1p64;
		e = fp_exp_field(x);
		*exp = -64;
	}
	*exp += e - 1022;
	return fp_from((fp_bits(x) & ~(0x7ffull << 52)) | 1022ull << 52);
}

/* x * 2^n, rounded once even when the result is subnormal. */
double scalbn(double x, int n)
{
	if (n > 1023) {
		x *= 0x1p1023;
		n -= 1023;
		if (n > 1023) {
			x *= 0x1p1023;
			n -= 1023;
			if (n > 1023)
				n = 1023;
		}
	} else if (n < -1022) {
		/* Scale down in steps that stay normal, so that only the last
		 * multiplication rounds. */
		x *= 0x1p-1022 * 0x1p53;
		n += 1022 - 53;
		if (n < -1022) {
			x *= 0x1p-1022 * 0x1p53;
			n += 1022 - 53;
			if (n < -1022)
				n = -1022;
		}
	}
	return x * fp_pow2(n);
}

double ldexp(double x, int n)
{
	double r = scalbn(x, n);

	if (isfinite(x) && x != 0 && (isinf(r) || r == 0))
		errno = ERANGE;
	return r;
}

int ilogb(double x)
{
	int e;

	if (x == 0)
		return -2147483647 - 1; /* FP_ILOGB0 */
	if (!isfinite(x))
		return 2147483647;
	frexp(x, &e);
	return e - 1;
}

double logb(double x)
{
	if (x == 0)
		return sg_fp_err(ERANGE, -HUGE_VAL);
	if (!isfinite(x))
		return x * x;
	return (double)ilogb(x);
}

/* x - n * y with n = trunc(x / y), exactly: long division on the mantissas,
 * at most 11 bits at a time so that every step fits 64 bits. */
double fmod(double x, double y)
{
	int ex = fp_exp_field(x), ey = fp_exp_field(y);
	uint64_t sx = fp_bits(x) & 1ull << 63, mx, my;

	if (isnan(x) || isnan(y))
		return x + y;
	if (ex == 0x7ff || y == 0)
		return sg_fp_err(EDOM, NAN);
	if (ey == 0x7ff || fp_abs(x) < fp_abs(y))
		return x;
	mx = fp_bits(x) & ((1ull << 52) - 1);
	my = fp_bits(y) & ((1ull << 52) - 1);
	/* Subnormals have no hidden bit and the exponent of 2^-1022. */
	if (ex)
		mx |= 1ull << 52;
	else
		ex = 1;
	if (ey)
		my |= 1ull << 52;
	else
		ey = 1;
	mx %= my;
	while (ex > ey && mx) {
		int step = ex - ey < 11 ? ex - ey : 11;

		mx = (mx << step) % my;
		ex -= step;
	}
	/* The remainder is mx * 2^(ey - 1075), below |y|: exact, though it
	 * may need a subnormal. */
	double r = scalbn((double)mx, ey - 1075);
	return fp_from(fp_bits(r) | sx);
}

/* x - n * y with n = x / y rounded to nearest, ties to even. */
double remainder(double x, double y)
{
	double ay = fp_abs(y), ar, r;
	int odd = 0;

	if (isnan(x) || isnan(y))
		return x + y;
	if (isinf(x) || y == 0)
		return sg_fp_err(EDOM, NAN);
	if (isinf(y))
		return x;
	/* First modulo 2|y| (when that is finite), so that n's parity is known. */
	r = ay <= 0x1p1022 ? fmod(x, 2 * ay) : x;
	ar = fp_abs(r);
	if (ar >= ay) { /* exact: ay <= ar < 2ay */
		ar -= ay;
		odd = 1;
	}
	/* 2 * ar may round to inf only when it is far above ay anyway. */
	if (2 * ar > ay || (2 * ar == ay && odd))
		ar -= ay;
	r = r < 0 ? -ar : ar;
	return r == 0 ? copysign(0.0, x) : r;
}

double fmin(double x, double y)
{
	if (isnan(x))
		return y;
	if (isnan(y))
		return x;
	return x < y ? x : y; /* as glibc: -0 and +0 are not ordered */
}

double fmax(double x, double y)
{
	if (isnan(x))
		return y;
	if (isnan(y))
		return x;
	return x > y ? x : y;
}

double fdim(double x, double y)
{
	if (isnan(x) || isnan(y))
		return x + y;
	return x > y ? x - y : 0.0;
}

double fma(double x, double y, double z)
{
	return x * y + z;
}

double nextafter(double x, double y)
{
	uint64_t u = fp_bits(x);

	if (isnan(x) || isnan(y))
		return x + y;
	if (x == y)
		return y;
	if (x == 0)
		return copysign(0x1p-1074, y);
	/* Away from zero is one more in the bits, toward zero one less. */
	u += (x < y) == (x > 0) ? 1 : -1ull;
	return fp_from(u);
}
