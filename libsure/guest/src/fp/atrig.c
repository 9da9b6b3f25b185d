/* atrig.c - atan, atan2, asin, acos and the hyperbolic functions. atan
 * picks the nearest of nine points c = i/8 on [0, 1] and sums
 * atan(c) + atan(t), t = (x - c) / (1 + x c) small enough (|t| < 1/15) for a
 * short series. */
#include <errno.h>
#include <math.h>

#include "fp.h"


/* atan(i/8), i = 0..8, as double-doubles (computed to 300 bits). */
static const struct dd ATAN_TABLE[9] = {
	{ 0x0.0p+0, 0x0.0p+0 },
	{ 0x1.fd5ba9aac2f6ep-4, -0x1.cd37686760c17p-59 },
	{ 0x1.f5b75f92c80ddp-3, 0x1.8ab6e3cf7afbdp-57 },
	{ 0x1.6f61941e4def1p-2, -0x1.c63aae6f6e918p-56 },
	{ 0x1.dac670561bb4fp-2, 0x1.a2b7f222f65e2p-56 },
	{ 0x1.1e00babdefeb4p-1, -0x1.928df287a668fp-58 },
	{ 0x1.4978fa3269ee1p-1, 0x1.2419a87f2a458p-56 },
	{ 0x1.700a7c5784634p-1, -0x1.8c34d25aadef6p-56 },
	{ 0x1.921fb54442d18p-1, 0x1.1a62633145c07p-55 },
};

/* atan(t) - t for |t| <= 1/15: t^3 terms to t^27 (the next is < 2^-60 t). */
static double atan_tail(double t)
{
	double z = t * t, p = -1.0 / 27;

	for (int k = 25; k >= 3; k -= 2)
		p = ((k & 2) ? -1.0 : 1.0) / k + z * p;
	return t * z * p;
}

/* atan(x) for 0 <= x <= 1, as a double-double. */
static struct dd atan_unit(double x)
{
	int i = (int)(x * 8 + 0.5);
	double c = i / 8.0;
	/* x - c is exact (Sterbenz, or c = 0); 1 + x c rounds once. */
	double t = (x - c) / (1.0 + x * c);
	struct dd r = dd_two_sum(ATAN_TABLE[i].hi, t);

	r.lo += ATAN_TABLE[i].lo + atan_tail(t);
	return r;
}

double atan(double x)
{
	double a = fp_abs(x);
	struct dd r;

	if (isnan(x))
		return x + x;
	if (a < 0x1p-27)
		return x;
	if (a <= 1.0) {
		r = atan_unit(a);
	} else {
		/* atan(a) = pi/2 - atan(1/a). */
		struct dd u = atan_unit(1.0 / a);
		r = dd_two_sum(FP_PIO2.hi, -u.hi);
		r.lo += FP_PIO2.lo - u.lo;
	}
	double v = r.hi + r.lo;
	return x < 0 ? -v : v;
}

double atan2(double y, double x)
{
	double ay = fp_abs(y), ax = fp_abs(x);
	int neg_x = signbit(x), neg_y = signbit(y);
	double v;

	if (isnan(x) || isnan(y))
		return x + y;
	if (y == 0) {
		v = neg_x ? FP_PI.hi : 0.0; /* atan2(+-0, -0 or x < 0) = +-pi */
		return neg_y ? -v : v;
	}
	if (x == 0 || isinf(y)) {
		if (isinf(y) && isinf(x))
			v = neg_x ? 3 * FP_PIO2.hi / 2 : FP_PIO2.hi / 2;
		else
			v = FP_PIO2.hi;
		return neg_y ? -v : v;
	}
	if (isinf(x)) {
		v = neg_x ? FP_PI.hi : 0.0;
		return neg_y ? -v : v;
	}
	/* The angle of (ax, ay) in [0, pi/2], then the quadrant. */
	struct dd r;
	if (ay <= ax) {
		double q = ay / ax;
		r = q < 0x1p-27 ? (struct dd){ q, 0 } : atan_unit(q);
	} else {
		struct dd u = atan_unit(ax / ay);
		r = dd_two_sum(FP_PIO2.hi, -u.hi);
		r.lo += FP_PIO2.lo - u.lo;
	}
	if (neg_x) { /* pi - angle */
		struct dd s = dd_two_sum(FP_PI.hi, -r.hi);
		s.lo += FP_PI.lo - r.lo;
		r = s;
	}
	v = r.hi + r.lo;
	return neg_y ? -v : v;
}

double asin(double x)
{
	if (isnan(x))
		return x + x;
	if (fp_abs(x) > 1.0)
		return sg_fp_err(EDOM, NAN);
	/* (1 - x)(1 + x): 1 - |x| is exact where it matters (|x| >= 1/2). */
	return atan2(x, sqrt((1.0 - x) * (1.0 + x)));
}

double acos(double x)
{
	if (isnan(x))
		return x + x;
	if (fp_abs(x) > 1.0)
		return sg_fp_err(EDOM, NAN);
	return atan2(sqrt((1.0 - x) * (1.0 + x)), x);
}

double sinh(double x)
{
	double a = fp_abs(x), v;

	if (!isfinite(x))
		return x + x;
	if (a < 0x1p-27)
		return x;
	if (a < 22) {
		double t = expm1(a);
		v = 0.5 * (t + t / (t + 1.0)); /* (e^a - e^-a) / 2 */
	} else if (a < 709.7) {
		v = 0.5 * exp(a);
	} else {
		double h = exp(0.5 * a);
		v = (0.5 * h) * h;
		if (isinf(v))
			errno = ERANGE;
	}
	return x < 0 ? -v : v;
}

double cosh(double x)
{
	double a = fp_abs(x);

	if (isnan(x))
		return x + x;
	if (a < 22) {
		double t = exp(a);
		return 0.5 * (t + 1.0 / t);
	}
	if (a < 709.7)
		return 0.5 * exp(a);
	double h = exp(0.5 * a), v = (0.5 * h) * h;
	if (isinf(v) && isfinite(x))
		errno = ERANGE;
	return v;
}

double tanh(double x)
{
	double a = fp_abs(x), v;

	if (isnan(x))
		return x + x;
	if (a < 0x1p-27)
		return x;
	if (a > 22) {
		v = 1.0;
	} else {
		double t = expm1(2 * a);
		v = t / (t + 2.0);
	}
	return x < 0 ? -v : v;
}

double asinh(double x)
{
	double a = fp_abs(x), v;

	if (!isfinite(x))
		return x + x;
	if (a < 0x1p-27)
		return x;
	if (a > 0x1p28)
		v = log(a) + 0x1.62e42fefa39efp-1;
	else
		v = log1p(a + a * a / (1.0 + sqrt(1.0 + a * a)));
	return x < 0 ? -v : v;
}

double acosh(double x)
{
	if (isnan(x))
		return x + x;
	if (x < 1.0)
		return sg_fp_err(EDOM, NAN);
	if (x > 0x1p28)
		return isinf(x) ? x : log(x) + 0x1.62e42fefa39efp-1;
	double t = x - 1.0;
	return log1p(t + sqrt(2 * t + t * t));
}

double atanh(double x)
{
	double a = fp_abs(x), v;

	if (isnan(x))
		return x + x;
	if (a > 1.0)
		return sg_fp_err(EDOM, NAN);
	if (a == 1.0)
		return sg_fp_err(ERANGE, copysign(HUGE_VAL, x));
	if (a < 0x1p-27)
		return x;
	v = 0.5 * log1p(2 * a / (1.0 - a));
	return x < 0 ? -v : v;
}

float atanf(float x)
{
	return (float)atan(x);
}

float atan2f(float y, float x)
{
	return (float)atan2(y, x);
}

float asinf(float x)
{
	return (float)asin(x);
}

float acosf(float x)
{
	return (float)acos(x);
}

float sinhf(float x)
{
	return (float)sinh(x);
}

float coshf(float x)
{
	return (float)cosh(x);
}

float tanhf(float x)
{
	return (float)tanh(x);
}
