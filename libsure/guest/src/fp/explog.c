/* explog.c - exp, log and pow and their relatives. log is computed as a
 * double-double (a table of log(1 + i/64) and a short atanh series), so that
 * pow = exp(y * log x) keeps its accuracy when y * log x is large. */
#include <errno.h>
#include <math.h>

#include "fp.h"

/* ln 2 split so that k * LN2_HI is exact for |k| < 2^21. */
#define LN2_HI 0x1.62e42fee00000p-1
#define LN2_LO 0x1.a39ef35793c76p-33
/* ln 2, 1/ln 2 and 1/ln 10 as double-doubles. */
static const struct dd LN2 = { 0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56 };
static const struct dd INV_LN2 = { 0x1.71547652b82fep+0, 0x1.777d0ffda0d24p-56 };
static const struct dd INV_LN10 = { 0x1.bcb7b1526e50ep-2, 0x1.95355baaafad3p-57 };

/* log(3/4 + i/64), i = 0..48, as double-doubles (computed to 300 bits). */
static const struct dd LOG_TABLE[49] = {
	{ -0x1.269621134db92p-2, -0x1.e0efadd9db02bp-56 },
	{ -0x1.1178e8227e47cp-2, 0x1.0e63a5f01c691p-57 },
	{ -0x1.f991c6cb3b379p-3, -0x1.f665066f980a2p-57 },
	{ -0x1.d1037f2655e7bp-3, -0x1.60629242471a2p-57 },
	{ -0x1.a93ed3c8ad9e3p-3, -0x1.bcafa9de97203p-57 },
	{ -0x1.823c16551a3c2p-3, 0x1.1232ce70be781p-57 },
	{ -0x1.5bf406b543db2p-3, 0x1.1f5b44c0df7e7p-61 },
	{ -0x1.365fcb0159016p-3, -0x1.7d411a5b944adp-58 },
	{ -0x1.1178e8227e47cp-3, 0x1.0e63a5f01c691p-58 },
	{ -0x1.da727638446a2p-4, -0x1.401fa71733019p-58 },
	{ -0x1.9335e5d594989p-4, 0x1.478a85704ccb7p-58 },
	{ -0x1.4d3115d207eacp-4, -0x1.769f42c7842ccp-58 },
	{ -0x1.08598b59e3a07p-4, 0x1.dd7009902bf32p-58 },
	{ -0x1.894aa149fb343p-5, -0x1.a8be97660a23dp-60 },
	{ -0x1.0415d89e74444p-5, -0x1.c05cf1d753622p-59 },
	{ -0x1.0205658935847p-6, -0x1.27c8e8416e71fp-60 },
	{ 0x0.0p+0, 0x0.0p+0 },
	{ 0x1.fc0a8b0fc03e4p-7, -0x1.83092c59642a1p-62 },
	{ 0x1.f829b0e783300p-6, 0x1.33e3f04f1ef23p-60 },
	{ 0x1.77458f632dcfcp-5, 0x1.18d3ca87b9296p-59 },
	{ 0x1.f0a30c01162a6p-5, 0x1.85f325c5bbacdp-59 },
	{ 0x1.341d7961bd1d1p-4, -0x1.b599f227becbbp-58 },
	{ 0x1.6f0d28ae56b4cp-4, -0x1.906d99184b992p-58 },
	{ 0x1.a926d3a4ad563p-4, 0x1.942f48aa70ea9p-58 },
	{ 0x1.e27076e2af2e6p-4, -0x1.61578001e0162p-60 },
	{ 0x1.0d77e7cd08e59p-3, 0x1.9a5dc5e9030acp-57 },
	{ 0x1.29552f81ff523p-3, 0x1.301771c407dbfp-57 },
	{ 0x1.44d2b6ccb7d1ep-3, 0x1.9f4f6543e1f88p-57 },
	{ 0x1.5ff3070a793d4p-3, -0x1.bc60efafc6f6ep-58 },
	{ 0x1.7ab890210d909p-3, 0x1.be36b2d6a0608p-59 },
	{ 0x1.9525a9cf456b4p-3, 0x1.d904c1d4e2e26p-57 },
	{ 0x1.af3c94e80bff3p-3, -0x1.398cff3641985p-58 },
	{ 0x1.c8ff7c79a9a22p-3, -0x1.4f689f8434012p-57 },
	{ 0x1.e27076e2af2e6p-3, -0x1.61578001e0162p-59 },
	{ 0x1.fb9186d5e3e2bp-3, -0x1.caaae64f21acbp-57 },
	{ 0x1.0a324e27390e3p-2, 0x1.7dcfde8061c03p-56 },
	{ 0x1.1675cababa60ep-2, 0x1.ce63eab883717p-61 },
	{ 0x1.22941fbcf7966p-2, -0x1.76f5eb09628afp-56 },
	{ 0x1.2e8e2bae11d31p-2, -0x1.8f4cdb95ebdf9p-56 },
	{ 0x1.3a64c556945eap-2, -0x1.c68651945f97cp-57 },
	{ 0x1.4618bc21c5ec2p-2, 0x1.f42decdeccf1dp-56 },
	{ 0x1.51aad872df82dp-2, 0x1.3927ac19f55e3p-59 },
	{ 0x1.5d1bdbf5809cap-2, 0x1.4236383dc7fe1p-56 },
	{ 0x1.686c81e9b14afp-2, -0x1.ddea0f7f58e3dp-57 },
	{ 0x1.739d7f6bbd007p-2, -0x1.8c76ceb014b04p-56 },
	{ 0x1.7eaf83b82afc3p-2, 0x1.92ce979ed2950p-56 },
	{ 0x1.89a3386c1425bp-2, -0x1.29639dfbbf0fbp-56 },
	{ 0x1.947941c2116fbp-2, -0x1.16cc8bae0bbe4p-56 },
	{ 0x1.9f323ecbf984cp-2, -0x1.a92e513217f5cp-59 },
};

static struct dd dd_mul(struct dd a, struct dd b)
{
	struct dd p = dd_two_prod(a.hi, b.hi);

	p.lo += a.hi * b.lo + a.lo * b.hi;
	return dd_two_sum(p.hi, p.lo);
}

/* e^r - 1 for |r| <= ~0.36: Taylor to r^14 (the next term is < 2^-60 of it). */
static double expm1_kernel(double r)
{
	double p = 1.0 / 87178291200; /* 1/14! */

	p = 1.0 / 6227020800 + r * p;
	p = 1.0 / 479001600 + r * p;
	p = 1.0 / 39916800 + r * p;
	p = 1.0 / 3628800 + r * p;
	p = 1.0 / 362880 + r * p;
	p = 1.0 / 40320 + r * p;
	p = 1.0 / 5040 + r * p;
	p = 1.0 / 720 + r * p;
	p = 1.0 / 120 + r * p;
	p = 1.0 / 24 + r * p;
	p = 1.0 / 6 + r * p;
	p = 0.5 + r * p;
	return r + r * r * p;
}

double sg_exp_dd(double hi, double lo)
{
	if (isnan(hi))
		return hi + hi;
	if (hi > 709.8)
		return isinf(hi) ? hi : sg_fp_err(ERANGE, HUGE_VAL);
	if (hi < -745.2)
		return isinf(hi) ? 0.0 : sg_fp_err(ERANGE, 0.0);
	/* hi + lo = k ln2 + r, |r| <= ln2/2, r carried as a double-double. */
	int k = (int)(hi * INV_LN2.hi + (hi < 0 ? -0.5 : 0.5));
	struct dd r = dd_two_sum(hi - k * LN2_HI, -(k * LN2_LO));
	r.lo += lo;
	double em1 = expm1_kernel(r.hi);
	/* e^(r.hi + r.lo) = (1 + em1)(1 + r.lo) to within r.lo^2. */
	double v = 1.0 + (em1 + r.lo * (1.0 + em1));
	v = scalbn(v, k);
	if (v == 0 || isinf(v))
		errno = ERANGE;
	return v;
}

double exp(double x)
{
	return sg_exp_dd(x, 0.0);
}

double exp2(double x)
{
	if (isnan(x))
		return x + x;
	if (x > 1024)
		return isinf(x) ? x : sg_fp_err(ERANGE, HUGE_VAL);
	if (x < -1080)
		return isinf(x) ? 0.0 : sg_fp_err(ERANGE, 0.0);
	/* 2^x = 2^k * e^(f ln 2) with f = x - k exact. */
	double k = rint(x), f = x - k;
	struct dd t = dd_mul_d(LN2, f);
	double v = scalbn(sg_exp_dd(t.hi, t.lo), (int)k);
	if (v == 0 || isinf(v))
		errno = ERANGE;
	return v;
}

double expm1(double x)
{
	if (x == 0 || isnan(x))
		return x + x * 0.0; /* keeps -0 */
	if (fp_abs(x) <= 0.34)
		return expm1_kernel(x);
	if (x < -40)
		return -1.0;
	if (x > 709)
		return exp(x);
	/* e^x - 1 = 2^k (1 + em1) - 1 = (2^k - 1) + 2^k em1: 2^k - 1 is exact,
	 * so nothing cancels. */
	int k = (int)(x * INV_LN2.hi + (x < 0 ? -0.5 : 0.5));
	struct dd r = dd_two_sum(x - k * LN2_HI, -(k * LN2_LO));
	double em1 = expm1_kernel(r.hi);
	em1 += r.lo * (1.0 + em1);
	double t = scalbn(1.0, k);
	return (t - 1.0) + t * em1;
}

struct dd sg_log_dd(double x)
{
	int e = 0;

	if (fp_exp_field(x) == 0) { /* subnormal */
		x *= 0x1p64;
		e = -64;
	}
	e += fp_exp_field(x) - 1023;
	double m = fp_from((fp_bits(x) & ((1ull << 52) - 1)) | 1023ull << 52); /* [1, 2) */
	/* m in [3/4, 3/2), so that x just below 1 is m just below 1, not 2m
	 * (log 2 - log 2 would cancel the digits that matter). */
	if (m >= 1.5) {
		m *= 0.5;
		e++;
	}
	/* m = c (1 + u) with c = 3/4 + i/64 the nearest table point:
	 * log m = log c + 2 atanh(s), s = (m - c) / (m + c), |s| < 1/192. */
	int i = (int)((m - 0.75) * 64 + 0.5);
	double c = 0.75 + i / 64.0, num = m - c; /* exact */
	struct dd den = dd_two_sum(m, c);
	double s = num / den.hi;
	struct dd sd = dd_two_prod(s, den.hi);
	double s_lo = ((num - sd.hi) - sd.lo - s * den.lo) / den.hi;
	double s2 = s * s;
	/* 2 atanh(s) = 2s + 2s^3/3 + 2s^5/5 + 2s^7/7 (s^9 is below 2^-72 s). */
	double tail = s * s2 * (2.0 / 3 + s2 * (2.0 / 5 + s2 * (2.0 / 7)));
	struct dd l = { 2 * s, 2 * s_lo + tail };
	l = dd_add(LOG_TABLE[i], l);
	struct dd el = dd_two_sum(e * LN2_HI, e * LN2_LO);
	return dd_add(el, l);
}

/* Shared by the logarithms: NaN, negative, zero and infinity. */
static int log_special(double x, double *out)
{
	if (isnan(x)) {
		*out = x + x;
		return 1;
	}
	if (x < 0) {
		*out = sg_fp_err(EDOM, NAN);
		return 1;
	}
	if (x == 0) {
		*out = sg_fp_err(ERANGE, -HUGE_VAL);
		return 1;
	}
	if (isinf(x)) {
		*out = x;
		return 1;
	}
	return 0;
}

double log(double x)
{
	double r;

	if (log_special(x, &r))
		return r;
	struct dd l = sg_log_dd(x);
	return l.hi + l.lo;
}

double log2(double x)
{
	double r;

	if (log_special(x, &r))
		return r;
	struct dd l = dd_mul(sg_log_dd(x), INV_LN2);
	return l.hi + l.lo;
}

double log10(double x)
{
	double r;

	if (log_special(x, &r))
		return r;
	struct dd l = dd_mul(sg_log_dd(x), INV_LN10);
	return l.hi + l.lo;
}

double log1p(double x)
{
	double u = 1.0 + x, r;

	if (x == -1.0)
		return sg_fp_err(ERANGE, -HUGE_VAL);
	if (x < -1.0)
		return sg_fp_err(EDOM, NAN);
	if (u == 1.0 || isnan(x))
		return x; /* log(1 + x) = x to within x^2/2 */
	if (log_special(u, &r))
		return r;
	struct dd l = sg_log_dd(u);
	/* u - 1 is exact; scale by x / (u - 1) for the part of x lost in u. */
	return (l.hi + l.lo) * (x / (u - 1.0));
}

/* 1 if y is an odd integer, 0 if an even one, -1 if not an integer. */
static int int_kind(double y)
{
	if (!isfinite(y) || trunc(y) != y)
		return -1;
	if (fp_abs(y) >= 0x1p53)
		return 0;
	return fmod(y, 2.0) != 0;
}

/* C99 F.9.4.4, case by case, then exp(y log |x|) with the sign. */
double pow(double x, double y)
{
	int kind = int_kind(y);
	double ax = fp_abs(x);

	if (y == 0 || x == 1.0)
		return 1.0;
	if (isnan(x) || isnan(y))
		return x + y;
	if (x == 0) {
		if (y < 0)
			return sg_fp_err(ERANGE, kind == 1 ? copysign(HUGE_VAL, x) : HUGE_VAL);
		return kind == 1 ? x : 0.0;
	}
	if (isinf(y)) {
		if (ax == 1.0)
			return 1.0;
		return (ax > 1.0) == (y > 0) ? HUGE_VAL : 0.0;
	}
	if (isinf(x)) {
		double v = y > 0 ? HUGE_VAL : 0.0;
		return x < 0 && kind == 1 ? -v : v;
	}
	if (x < 0 && kind < 0)
		return sg_fp_err(EDOM, NAN);
	if (ax == 1.0) /* -1 to an integer power */
		return kind == 1 ? -1.0 : 1.0;
	struct dd l = sg_log_dd(ax);
	double hi = y * l.hi, v;
	if (hi > 800 || hi < -800) { /* certain overflow or underflow */
		v = sg_fp_err(ERANGE, hi > 0 ? HUGE_VAL : 0.0);
	} else {
		struct dd yl = dd_two_prod(y, l.hi);
		v = sg_exp_dd(yl.hi, yl.lo + y * l.lo);
	}
	return x < 0 && kind == 1 ? -v : v;
}

/* float variants: double precision is more than enough for them. */
float expf(float x)
{
	return (float)exp(x);
}

float exp2f(float x)
{
	return (float)exp2(x);
}

float logf(float x)
{
	return (float)log(x);
}

float log2f(float x)
{
	return (float)log2(x);
}

float log10f(float x)
{
	return (float)log10(x);
}

float powf(float x, float y)
{
	return (float)pow(x, y);
}
