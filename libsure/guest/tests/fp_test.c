/*
 * fp_test.c - runs libsg's floating-point files (math.h, strtod) on the
 * host next to glibc as the reference, like libc_test.c: the guest sources
 * are included with their symbols renamed (sg_sin, ...), so each call can be
 * made both ways. Built and run by tests/build_test.ts:
 *
 *   cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -fno-builtin \
 *      -fsanitize=address,undefined -iquote libsure/abi \
 *      -iquote libsure/guest/include -iquote libsure/guest/src \
 *      libsure/guest/tests/fp_test.c -o fp_test -lm
 *
 * Accuracy: random arguments over several ranges must stay within MAX_ULP
 * of glibc (itself within one ulp, but for cbrt: up to 3, where libsg's
 * agrees with a 200-bit reference); special values (zeros, infinities, NaN,
 * +-1, huge and tiny) must match it bit for bit (any NaN matches any NaN).
 * Prints "ok" / "not ok" lines and exits non-zero on any failure.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ULP 2

typedef double (*fn1)(double);
typedef double (*fn2)(double, double);

/* glibc's, taken before the names below are renamed. */
#define HOST1(f) static const fn1 host_##f = f;
#define HOST2(f) static const fn2 host_##f = f;
#define FUNCS1(X)                                                                                  \
	X(sqrt) X(cbrt) X(exp) X(exp2) X(expm1) X(log) X(log2) X(log10) X(log1p) X(sin) X(cos)     \
	X(tan) X(asin) X(acos) X(atan) X(sinh) X(cosh) X(tanh) X(asinh) X(acosh) X(atanh)          \
	X(floor) X(ceil) X(trunc) X(round) X(rint) X(fabs) X(logb)
#define FUNCS2(X) X(pow) X(atan2) X(hypot) X(fmod) X(remainder) X(fmin) X(fmax) X(copysign) X(fdim)
FUNCS1(HOST1)
FUNCS2(HOST2)
static double host_strtod(const char *s, char **e)
{
	return strtod(s, e);
}
static double host_ldexp(double x, int n)
{
	return ldexp(x, n);
}
static double host_frexp(double x, int *e)
{
	return frexp(x, e);
}
static double host_modf(double x, double *i)
{
	return modf(x, i);
}

#define sqrt sg_sqrt
#define cbrt sg_cbrt
#define exp sg_exp
#define exp2 sg_exp2
#define expm1 sg_expm1
#define log sg_log
#define log2 sg_log2
#define log10 sg_log10
#define log1p sg_log1p
#define sin sg_sin
#define cos sg_cos
#define tan sg_tan
#define asin sg_asin
#define acos sg_acos
#define atan sg_atan
#define sinh sg_sinh
#define cosh sg_cosh
#define tanh sg_tanh
#define asinh sg_asinh
#define acosh sg_acosh
#define atanh sg_atanh
#define floor sg_floor
#define ceil sg_ceil
#define trunc sg_trunc
#define round sg_round
#define rint sg_rint
#define nearbyint sg_nearbyint
#define lround sg_lround
#define llround sg_llround
#define lrint sg_lrint
#define fabs sg_fabs
#define logb sg_logb
#define ilogb sg_ilogb
#define pow sg_pow
#define atan2 sg_atan2
#define hypot sg_hypot
#define fmod sg_fmod
#define remainder sg_remainder
#define fmin sg_fmin
#define fmax sg_fmax
#define fdim sg_fdim
#define fma sg_fma
#define nextafter sg_nextafter
#define copysign sg_copysign
#define ldexp sg_ldexp
#define scalbn sg_scalbn
#define frexp sg_frexp
#define modf sg_modf
#define strtod sg_strtod
#define strtof sg_strtof
#define atof sg_atof
/* float variants: compiled (so they build), not compared. */
#define sqrtf sg_sqrtf
#define cbrtf sg_cbrtf
#define hypotf sg_hypotf
#define expf sg_expf
#define exp2f sg_exp2f
#define logf sg_logf
#define log2f sg_log2f
#define log10f sg_log10f
#define powf sg_powf
#define sinf sg_sinf
#define cosf sg_cosf
#define tanf sg_tanf
#define asinf sg_asinf
#define acosf sg_acosf
#define atanf sg_atanf
#define atan2f sg_atan2f
#define sinhf sg_sinhf
#define coshf sg_coshf
#define tanhf sg_tanhf
#define fabsf sg_fabsf
#define copysignf sg_copysignf
#define floorf sg_floorf
#define ceilf sg_ceilf
#define truncf sg_truncf
#define roundf sg_roundf
#define lroundf sg_lroundf
#define fmodf sg_fmodf
#define modff sg_modff
#define frexpf sg_frexpf
#define ldexpf sg_ldexpf
#define fminf sg_fminf
#define fmaxf sg_fmaxf

/* libsg's prototypes, now under the sg_ names; glibc's macros make way. */
#undef HUGE_VAL
#undef HUGE_VALF
#undef INFINITY
#undef NAN
#undef MATH_ERRNO
#undef MATH_ERREXCEPT
#undef math_errhandling
#undef FP_NAN
#undef FP_INFINITE
#undef FP_ZERO
#undef FP_SUBNORMAL
#undef FP_NORMAL
#undef fpclassify
#undef isnan
#undef isinf
#undef isfinite
#undef isnormal
#undef signbit
#undef isgreater
#undef isless
#undef isunordered
#undef M_E
#undef M_LOG2E
#undef M_LOG10E
#undef M_LN2
#undef M_LN10
#undef M_PI
#undef M_PI_2
#undef M_PI_4
#undef M_1_PI
#undef M_2_PI
#undef M_2_SQRTPI
#undef M_SQRT2
#undef M_SQRT1_2
#include "../include/math.h"

#include "../src/fp/atrig.c"
#include "../src/fp/explog.c"
#include "../src/fp/mathf.c"
#include "../src/fp/reduce.c"
#include "../src/fp/roots.c"
#include "../src/fp/round.c"
#include "../src/fp/trig.c"
#include "../src/fp/big.c"
#include "../src/fp/strtod.c"

static int failures, checks;

static void check(int cond, const char *what)
{
	checks++;
	if (!cond) {
		failures++;
		if (failures < 60)
			printf("not ok - %s\n", what);
	}
}

/* Distance in representable doubles (0 when equal, any NaN equals NaN). */
static uint64_t ulps(double a, double b)
{
	if (a != a || b != b)
		return (a != a) == (b != b) ? 0 : UINT64_MAX;
	int64_t ia, ib;
	memcpy(&ia, &a, 8);
	memcpy(&ib, &b, 8);
	/* Map the sign-magnitude bits onto a line of integers. */
	if (ia < 0)
		ia = INT64_MIN - ia;
	if (ib < 0)
		ib = INT64_MIN - ib;
	return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random double in one of several shapes: [-4, 4], [-1000, 1000], any
 * magnitude 2^-60..2^60, any finite double. */
static double random_arg(int shape)
{
	uint64_t r = next_rand();
	double u = (double)(r >> 11) * 0x1p-53; /* [0, 1) */
	double s = (r & 1) ? -1.0 : 1.0;

	switch (shape) {
	case 0: return s * 4 * u;
	case 1: return s * 1000 * u;
	case 2: return s * host_exp2(120 * u - 60);
	default: {
		uint64_t b = next_rand();
		double d;
		memcpy(&d, &b, 8);
		return d != d || d - d != 0 ? 1.5 : d;
	}
	}
}

static const double SPECIAL[] = { 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 0.25,
				  1.5, -1.5, 10, 100, 1e300, -1e300, 1e-300, 0x1p-1074,
				  -0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp1023, 710, -746,
				  M_PI, M_PI_2, -M_PI_2, 1e22, 0.1, INFINITY, -INFINITY, NAN };
#define NSPECIAL (sizeof(SPECIAL) / sizeof(SPECIAL[0]))

struct f1 {
	const char *name;
	fn1 ours, theirs;
	unsigned tol; /* ulp from glibc allowed; 0: bit for bit (exact functions) */
};
struct f2 {
	const char *name;
	fn2 ours, theirs;
	unsigned tol;
};

#define ENTRY1(f, tol) { #f, sg_##f, host_##f, tol }
static const struct f1 F1[] = {
	ENTRY1(sqrt, 0), ENTRY1(cbrt, 4), ENTRY1(exp, MAX_ULP), ENTRY1(exp2, MAX_ULP), ENTRY1(expm1, MAX_ULP),
	ENTRY1(log, MAX_ULP), ENTRY1(log2, MAX_ULP), ENTRY1(log10, MAX_ULP), ENTRY1(log1p, MAX_ULP), ENTRY1(sin, MAX_ULP),
	ENTRY1(cos, MAX_ULP), ENTRY1(tan, MAX_ULP), ENTRY1(asin, MAX_ULP), ENTRY1(acos, MAX_ULP), ENTRY1(atan, MAX_ULP),
	ENTRY1(sinh, MAX_ULP), ENTRY1(cosh, MAX_ULP), ENTRY1(tanh, 3), ENTRY1(asinh, MAX_ULP), ENTRY1(acosh, MAX_ULP),
	ENTRY1(atanh, 3), ENTRY1(floor, 0), ENTRY1(ceil, 0), ENTRY1(trunc, 0), ENTRY1(round, 0),
	ENTRY1(rint, 0), ENTRY1(fabs, 0), ENTRY1(logb, 0),
};
#define ENTRY2(f, tol) { #f, sg_##f, host_##f, tol }
static const struct f2 F2[] = {
	ENTRY2(pow, MAX_ULP),	      ENTRY2(atan2, MAX_ULP), ENTRY2(hypot, MAX_ULP),    ENTRY2(fmod, 0),
	ENTRY2(remainder, 0), ENTRY2(fmin, 0),	ENTRY2(fmax, 0),     ENTRY2(copysign, 0),
	ENTRY2(fdim, 0),
};

/* Specials must match exactly (within the tolerance for inexact ones), with
 * the sign of zero; random arguments within MAX_ULP, counted per function. */
static void test_one_arg(void)
{
	char what[200];

	for (size_t f = 0; f < sizeof(F1) / sizeof(F1[0]); f++) {
		const struct f1 *fn = &F1[f];
		uint64_t worst = 0;
		double worst_x = 0;

		for (size_t i = 0; i < NSPECIAL; i++) {
			double x = SPECIAL[i], a = fn->ours(x), b = fn->theirs(x);
			int same_zero = !(a == 0 && b == 0) || signbit(a) == signbit(b);
			snprintf(what, sizeof(what), "%s(%a) = %a, glibc %a", fn->name, x, a, b);
			check(ulps(a, b) <= (fn->tol) && same_zero, what);
		}
		for (int shape = 0; shape < 4; shape++) {
			for (int i = 0; i < 20000; i++) {
				double x = random_arg(shape);
				if (fn->ours == sg_asin || fn->ours == sg_acos || fn->ours == sg_atanh)
					x = host_fmod(x, 1.0);
				uint64_t d = ulps(fn->ours(x), fn->theirs(x));
				if (d > worst) {
					worst = d;
					worst_x = x;
				}
			}
		}
		snprintf(what, sizeof(what), "%s: worst %llu ulp at %a (%a, glibc %a)", fn->name,
			 (unsigned long long)worst, worst_x, fn->ours(worst_x), fn->theirs(worst_x));
		check(worst <= (fn->tol), what);
		if (getenv("FP_TEST_VERBOSE"))
			printf("# %s\n", what);
	}
}

static void test_two_args(void)
{
	char what[240];

	for (size_t f = 0; f < sizeof(F2) / sizeof(F2[0]); f++) {
		const struct f2 *fn = &F2[f];
		uint64_t worst = 0;
		double wx = 0, wy = 0;

		for (size_t i = 0; i < NSPECIAL; i++) {
			for (size_t j = 0; j < NSPECIAL; j++) {
				double x = SPECIAL[i], y = SPECIAL[j];
				double a = fn->ours(x, y), b = fn->theirs(x, y);
				int same_zero = !(a == 0 && b == 0) || signbit(a) == signbit(b);
				snprintf(what, sizeof(what), "%s(%a, %a) = %a, glibc %a", fn->name,
					 x, y, a, b);
				check(ulps(a, b) <= (fn->tol) && same_zero, what);
			}
		}
		for (int shape = 0; shape < 16; shape++) {
			for (int i = 0; i < 10000; i++) {
				double x = random_arg(shape % 4), y = random_arg(shape / 4);
				if (fn->ours == sg_pow) {
					/* Results in range: |y log x| <= 700 mostly. */
					x = host_fabs(x);
					if (shape & 1)
						y = host_fmod(y, 700 / (host_fabs(host_log(x)) + 1e-300));
				}
				uint64_t d = ulps(fn->ours(x, y), fn->theirs(x, y));
				if (d > worst) {
					worst = d;
					wx = x;
					wy = y;
				}
			}
		}
		snprintf(what, sizeof(what), "%s: worst %llu ulp at (%a, %a): %a, glibc %a", fn->name,
			 (unsigned long long)worst, wx, wy, fn->ours(wx, wy), fn->theirs(wx, wy));
		check(worst <= (fn->tol), what);
		if (getenv("FP_TEST_VERBOSE"))
			printf("# %s\n", what);
	}
}

/* Values a person checks by eye: these must be exact. */
static void test_exact_values(void)
{
	check(sg_pow(2, 10) == 1024 && sg_pow(10, 15) == 1e15 && sg_pow(-2, 3) == -8 &&
		      sg_pow(9, 0.5) == 3 && sg_pow(-8, 1.0 / 3) != sg_pow(-8, 1.0 / 3),
	      "pow: exact powers, and NaN for a negative base with a fraction");
	check(sg_log10(1000) == 3 && sg_log2(1024) == 10 && sg_log(1) == 0 && sg_exp(0) == 1 &&
		      sg_exp2(-3) == 0.125 && sg_sqrt(2) * sg_sqrt(2) == host_sqrt(2) * host_sqrt(2),
	      "logs of exact powers, exp(0), exp2");
	check(sg_sin(0) == 0 && sg_cos(0) == 1 && sg_atan2(1, 1) == M_PI_4 && sg_atan(1) == M_PI_4 &&
		      sg_acos(-1) == M_PI && sg_asin(1) == M_PI_2,
	      "trigonometry at its exact points");
	check(sg_lround(2.5) == 3 && sg_lround(-2.5) == -3 && sg_lrint(2.5) == 2 &&
		      sg_llround(1e15 + 0.5) == 1000000000000001ll,
	      "lround away from zero, lrint to even");
	double ip, fr = sg_modf(-3.75, &ip);
	int e1, e2;
	check(fr == -0.75 && ip == -3 && sg_frexp(0x1p-1070, &e1) == host_frexp(0x1p-1070, &e2) &&
		      e1 == e2 && sg_ldexp(1, -1074) == host_ldexp(1, -1074) &&
		      sg_ldexp(0x1.8p-1022, -1) == host_ldexp(0x1.8p-1022, -1) &&
		      sg_ldexp(1, 1024) == INFINITY,
	      "modf, frexp and ldexp on subnormals and at the edges");
	errno = 0;
	double n = sg_sqrt(-1);
	check(n != n && errno == EDOM, "sqrt(-1) is NaN with EDOM");
	errno = 0;
	check(sg_log(0) == -HUGE_VAL && errno == ERANGE, "log(0) is -inf with ERANGE");
	errno = 0;
	check(sg_exp(1000) == HUGE_VAL && errno == ERANGE, "exp(1000) overflows with ERANGE");
	(void)host_modf;
	/* Huge arguments of sin need the exact reduction. */
	check(ulps(sg_sin(1e22), host_sin(1e22)) <= 1 && ulps(sg_cos(0x1p1000), host_cos(0x1p1000)) <= 1,
	      "sin(1e22) and cos(2^1000)");
	check(sg_sqrtf(2.0f) == 1.41421356f && sg_powf(2.0f, 0.5f) == 1.41421356f &&
		      sg_floorf(-1.5f) == -2.0f,
	      "float variants");
}

static void test_strtod(void);

int main(void)
{
	test_exact_values();
	test_one_arg();
	test_two_args();
	test_strtod();
	if (failures == 0)
		printf("ok - libsg floating point: %d checks\n", checks);
	else
		printf("# %d of %d checks failed\n", failures, checks);
	return failures != 0;
}

/* ---- strtod --------------------------------------------------------------- */

static void same_strtod(const char *s)
{
	char *e1, *e2, what[300];

	errno = 0;
	double a = sg_strtod(s, &e1);
	int err1 = errno;
	errno = 0;
	double b = host_strtod(s, &e2);
	int err2 = errno;
	snprintf(what, sizeof(what), "strtod(\"%.80s\") = %a end %td errno %d, glibc %a end %td errno %d",
		 s, a, e1 - s, err1, b, e2 - s, err2);
	check(ulps(a, b) == 0 && signbit(a) == signbit(b) && e1 == e2 && err1 == err2, what);
}

static void test_strtod(void)
{
	static const char *const cases[] = {
		"0", "-0", "1", "-1", "0.1", ".5", "5.", ".", "-.", "+.e1", "1e", "1e+", "1e-5x",
		"  \t42", "3.14159265358979323846264338327950288", "1.7976931348623157e308",
		"1.7976931348623158e308", "1.7976931348623159e308", "1e309", "-1e309",
		"2.2250738585072014e-308", "2.2250738585072011e-308", "4.9406564584124654e-324",
		"2.4703282292062327e-324", "2.4703282292062328e-324", "1e-400", "-1e-400",
		"9007199254740993", "9007199254740992.5", "9007199254740993.0000000000000001",
		"123456789012345678901234567890", "0.000000000000000000000000000001234",
		"1e22", "1e23", "8.98846567431158e307", "inf", "-Infinity", "INFINITYx", "nan",
		"-nan", "nan(123)", "nan(", "infinit", "0x1p3", "0x1.8p1", "-0x.8", "0x", "0xg",
		"0x1p-1074", "0x1p-1075", "0x1.0000000000001p0", "0x1.00000000000008p0",
		"0x1.000000000000081p0", "0x1P+1024", "1e-5", "1E5", "00000000000000000000001.5",
		"0.000000000000000000000000000000000000000000000000000000000000000000000000001e75",
		"7.2057594037927933e16", "2.2250738585072012e-308", "6.631236846766476e-316",
		"179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same_strtod(cases[i]);
	/* A halfway case that needs all of its 770 digits: 2^-1074 * 1.5 is
	 * exactly representable as decimal; one more digit decides. */
	char big[1200];
	int n = snprintf(big, sizeof(big), "%.1100e", 0x1.8p-1074);
	same_strtod(big);
	big[n - 6] = big[n - 6] == '0' ? '1' : big[n - 6];
	same_strtod(big);

	/* Round trips: every double printed with 17 digits parses back. */
	char buf[64], what[160];
	int bad = 0;
	for (int i = 0; i < 100000; i++) {
		double x = random_arg(3);
		snprintf(buf, sizeof(buf), "%.17g", x);
		if (sg_strtod(buf, NULL) != x && bad++ < 5) {
			snprintf(what, sizeof(what), "strtod round trip of %s", buf);
			check(0, what);
		}
	}
	check(bad == 0, "strtod reads back every %.17g");
	/* Random decimal strings of up to 25 digits, any exponent: as glibc. */
	for (int i = 0; i < 50000; i++) {
		int digits = 1 + (int)(next_rand() % 25), exp10 = (int)(next_rand() % 700) - 350;
		char *p = buf;
		for (int k = 0; k < digits; k++)
			*p++ = (char)('0' + next_rand() % 10);
		snprintf(p, sizeof(buf) - (size_t)(p - buf), "e%d", exp10);
		same_strtod(buf);
	}
	check(sg_atof("2.5") == 2.5 && sg_strtof("0.1", NULL) == 0.1f, "atof, strtof");
}
