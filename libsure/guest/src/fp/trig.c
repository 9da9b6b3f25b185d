/* trig.c - sin, cos, tan: the argument reduced by pi/2 (reduce.c), then
 * Taylor series on [-pi/4, pi/4] with the reduced argument's low part
 * carried as a first-order correction. */
#include <errno.h>
#include <math.h>

#include "fp.h"

/* sin(r) for |r| <= pi/4 + a little: r^19/19! is below 2^-60 of sin r. */
static double sin_kernel(double r, double rl)
{
	double z = r * r;
	double p = -1.0 / 121645100408832000; /* -1/19! */

	p = 1.0 / 355687428096000 + z * p;
	p = -1.0 / 1307674368000 + z * p;
	p = 1.0 / 6227020800 + z * p;
	p = -1.0 / 39916800 + z * p;
	p = 1.0 / 362880 + z * p;
	p = -1.0 / 5040 + z * p;
	p = 1.0 / 120 + z * p;
	p = -1.0 / 6 + z * p;
	/* sin(r + rl) = sin r + rl cos r, cos r ~ 1 - z/2 at this order. */
	return r + (r * z * p + rl * (1.0 - 0.5 * z));
}

static double cos_kernel(double r, double rl)
{
	double z = r * r;
	double p = -1.0 / 6402373705728000; /* -1/18! */

	p = 1.0 / 20922789888000 + z * p;
	p = -1.0 / 87178291200 + z * p;
	p = 1.0 / 479001600 + z * p;
	p = -1.0 / 3628800 + z * p;
	p = 1.0 / 40320 + z * p;
	p = -1.0 / 720 + z * p;
	p = 1.0 / 24 + z * p;
	/* 1 - z/2 loses bits to rounding: carry its error (w's low part). */
	double hz = 0.5 * z, w = 1.0 - hz;
	return w + (((1.0 - w) - hz) + (z * z * p - r * rl));
}

static double trig(double x, int which)
{
	struct dd r;
	int n;

	if (!isfinite(x))
		return isnan(x) ? x + x : sg_fp_err(EDOM, NAN);
	if (fp_abs(x) < 0x1p-27) /* the cubic term is below half an ulp */
		return which == 1 ? 1.0 : x;
	n = sg_rem_pio2(x, &r);
	switch (which) {
	case 0: /* sin: sin, cos, -sin, -cos by quadrant */
		switch (n & 3) {
		case 0: return sin_kernel(r.hi, r.lo);
		case 1: return cos_kernel(r.hi, r.lo);
		case 2: return -sin_kernel(r.hi, r.lo);
		default: return -cos_kernel(r.hi, r.lo);
		}
	case 1: /* cos: cos, -sin, -cos, sin */
		switch (n & 3) {
		case 0: return cos_kernel(r.hi, r.lo);
		case 1: return -sin_kernel(r.hi, r.lo);
		case 2: return -cos_kernel(r.hi, r.lo);
		default: return sin_kernel(r.hi, r.lo);
		}
	default: { /* tan: sin/cos, or -cos/sin in odd quadrants */
		double s = sin_kernel(r.hi, r.lo), c = cos_kernel(r.hi, r.lo);
		return n & 1 ? -c / s : s / c;
	}
	}
}

double sin(double x)
{
	return trig(x, 0);
}

double cos(double x)
{
	return trig(x, 1);
}

double tan(double x)
{
	return trig(x, 2);
}

float sinf(float x)
{
	return (float)sin(x);
}

float cosf(float x)
{
	return (float)cos(x);
}

float tanf(float x)
{
	return (float)tan(x);
}
