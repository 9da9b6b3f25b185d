/* roots.c - sqrt (the SSE2 instruction: correctly rounded), cbrt, hypot. */
#include <errno.h>
#include <math.h>

#include "fp.h"

double sqrt(double x)
{
	if (x < 0)
		return sg_fp_err(EDOM, NAN);
	/* The instruction, not __builtin_sqrt: that one calls sqrt for errno. */
	__asm__("sqrtsd %1, %0" : "=x"(x) : "x"(x));
	return x;
}

float sqrtf(float x)
{
	if (x < 0)
		return (float)sg_fp_err(EDOM, NAN);
	__asm__("sqrtss %1, %0" : "=x"(x) : "x"(x));
	return x;
}

/* Newton's iteration on y^3 = x from an estimate that divides the exponent
 * by three; the last step is taken in double-double so that it rounds well. */
double cbrt(double x)
{
	int e, q;
	double m, y;

	if (x == 0 || !isfinite(x))
		return x + x;
	m = frexp(fp_abs(x), &e); /* 0.5 <= m < 1 */
	/* Take a multiple of three out of the exponent: m in [0.125, 1). */
	q = e >= 0 ? (e + 2) / 3 : -(-e / 3); /* ceil(e / 3) */
	m = ldexp(m, e - 3 * q);
	y = 0.7 + m * 0.3 - (1 - m) * (1 - m) * 0.2; /* within ~10% on [1/8, 1) */
	for (int i = 0; i < 6; i++)
		y -= (y * y * y - m) / (3 * y * y);
	/* One more step, with the residual y^3 - m computed exactly. */
	struct dd y2 = dd_two_prod(y, y), y3 = dd_mul_d(y2, y);
	double res = (y3.hi - m) + y3.lo;
	y -= res / (3 * y * y);
	y = ldexp(y, q);
	return x < 0 ? -y : y;
}

/* sqrt(x^2 + y^2) without overflow or underflow in the squares. */
double hypot(double x, double y)
{
	double a = fp_abs(x), b = fp_abs(y), t;
	int e;

	if (isinf(x) || isinf(y))
		return INFINITY;
	if (isnan(x) || isnan(y))
		return x + y;
	if (a < b) {
		t = a;
		a = b;
		b = t;
	}
	if (b == 0)
		return a;
	/* Scale a to [1, 2): the sum of squares stays in range. */
	e = ilogb(a);
	a = scalbn(a, -e);
	b = scalbn(b, -e);
	/* a^2 + b^2 with the squares' rounding errors carried along. */
	struct dd aa = dd_two_prod(a, a), bb = dd_two_prod(b, b);
	struct dd s = dd_add(aa, bb);
	double r = sqrt(s.hi);
	struct dd rr = dd_two_prod(r, r);
	r += (((s.hi - rr.hi) - rr.lo) + s.lo) / (2 * r);
	r = scalbn(r, e);
	if (isinf(r))
		errno = ERANGE;
	return r;
}
