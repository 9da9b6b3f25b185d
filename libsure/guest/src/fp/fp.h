/*
 * fp.h - private helpers of libsg's floating-point files: bit access,
 * double-double arithmetic (a value carried as hi + lo, for the steps whose
 * error would otherwise be magnified, such as pow's log) and the kernels the
 * files share.
 */
#ifndef SG_FP_H
#define SG_FP_H

#include <errno.h>
#include <stdint.h>

static inline uint64_t fp_bits(double x)
{
	union {
		double d;
		uint64_t u;
	} v = { .d = x };
	return v.u;
}

static inline double fp_from(uint64_t u)
{
	union {
		double d;
		uint64_t u;
	} v = { .u = u };
	return v.d;
}

/* The biased exponent field (0 = zero/subnormal, 0x7ff = inf/NaN). */
static inline int fp_exp_field(double x)
{
	return (int)(fp_bits(x) >> 52 & 0x7ff);
}

static inline double fp_abs(double x)
{
	return fp_from(fp_bits(x) & ~(1ull << 63));
}

/* 2^n for a normal result (-1022 <= n <= 1023). */
static inline double fp_pow2(int n)
{
	return fp_from((uint64_t)(n + 1023) << 52);
}

/* Double-double: hi + lo with |lo| <= ulp(hi) / 2. */
struct dd {
	double hi, lo;
};

/* a + b exactly, as a rounded sum and its error (any order of magnitude). */
static inline struct dd dd_two_sum(double a, double b)
{
	double s = a + b, bb = s - a;

	return (struct dd){ s, (a - (s - bb)) + (b - bb) };
}

/* a * b exactly (Dekker: split each factor in two 26-bit halves). */
static inline struct dd dd_two_prod(double a, double b)
{
	const double split = 134217729.0; /* 2^27 + 1 */
	double p = a * b, t;

	t = split * a;
	double ah = t - (t - a), al = a - ah;
	t = split * b;
	double bh = t - (t - b), bl = b - bh;
	return (struct dd){ p, ((ah * bh - p) + ah * bl + al * bh) + al * bl };
}

static inline struct dd dd_add(struct dd a, struct dd b)
{
	struct dd s = dd_two_sum(a.hi, b.hi);

	s.lo += a.lo + b.lo;
	return dd_two_sum(s.hi, s.lo);
}

static inline struct dd dd_mul_d(struct dd a, double b)
{
	struct dd p = dd_two_prod(a.hi, b);

	p.lo += a.lo * b;
	return dd_two_sum(p.hi, p.lo);
}

/* pi and pi/2 as double-doubles. */
static const struct dd FP_PI = { 0x1.921fb54442d18p+1, 0x1.1a62633145c07p-53 };
static const struct dd FP_PIO2 = { 0x1.921fb54442d18p+0, 0x1.1a62633145c07p-54 };

/* Sets errno (EDOM or ERANGE) and returns v, so a case reads as one line. */
static inline double sg_fp_err(int e, double v)
{
	errno = e;
	return v;
}

/* exp(hi + lo) for |lo| tiny next to hi; overflow and underflow handled. */
double sg_exp_dd(double hi, double lo);
/* log(x) as a double-double, for finite x > 0. */
struct dd sg_log_dd(double x);
/* x reduced by pi/2: x = n * pi/2 + r (r as hi + lo, |r| <= ~pi/4); returns n. */
int sg_rem_pio2(double x, struct dd *r);

#endif
