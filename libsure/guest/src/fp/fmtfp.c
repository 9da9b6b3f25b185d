/*
 * fmtfp.c - printf's floating-point conversions. The double's exact
 * decimal expansion is made with big integers (m * 2^e is an integer, or
 * m * 5^-e shifted by -e decimal places: at most 767 significant digits),
 * then rounded in decimal, ties to even, so every digit printed is the
 * true one: "%.17g" reads back with strtod, "%.2f" of 0.125 is 0.12.
 */
#include <math.h>

#include "big.h"
#include "fp.h"
#include "sg.h"

#define MAX_SIG 800

/* value = 0.d[0] d[1] ... d[n-1] * 10^x; n == 0 is zero. No trailing zeros. */
struct decimal {
	char d[MAX_SIG];
	int n, x;
};

static void exact_decimal(double a, struct decimal *out)
{
	uint64_t bits = fp_bits(a), m = bits & ((1ull << 52) - 1);
	int e = (int)(bits >> 52 & 0x7ff), frac = 0;
	struct sg_big b;
	char tmp[MAX_SIG];
	int nt = 0;

	out->n = 0;
	out->x = 1;
	if (a == 0)
		return;
	if (e)
		m |= 1ull << 52;
	e = (e ? e : 1) - 1075;
	while (!(m & 1)) {
		m >>= 1;
		e++;
	}
	sg_big_set(&b, m);
	if (e >= 0) {
		sg_big_shl(&b, e);
	} else {
		sg_big_mul_pow5(&b, -e);
		frac = -e;
	}
	/* Digits, least significant first, nine at a time. */
	while (b.n) {
		uint32_t r = sg_big_divmod(&b, 1000000000u);
		for (int i = 0; i < 9 && (b.n || r); i++) {
			tmp[nt++] = (char)('0' + r % 10);
			r /= 10;
		}
	}
	out->x = nt - frac;
	for (int i = 0; i < nt; i++)
		out->d[i] = tmp[nt - 1 - i];
	out->n = nt;
	while (out->n && out->d[out->n - 1] == '0')
		out->n--;
}

/* Keeps the first k digits, rounding half to even on the exact rest. */
static void round_at(struct decimal *v, int k)
{
	if (k >= v->n)
		return;
	if (k < 0) {
		v->n = 0;
		return;
	}
	char first = v->d[k];
	int odd = k > 0 && (v->d[k - 1] - '0') % 2;
	int up = first > '5' || (first == '5' && (v->n > k + 1 || odd));

	v->n = k;
	if (up) {
		int i = k - 1;
		while (i >= 0 && v->d[i] == '9')
			i--;
		if (i < 0) { /* 999.. -> 1000.. */
			v->d[0] = '1';
			v->n = 1;
			v->x++;
		} else {
			v->d[i]++;
			v->n = i + 1;
		}
	}
	while (v->n && v->d[v->n - 1] == '0')
		v->n--;
}

static char fp_digit(const struct decimal *v, int i)
{
	return i >= 0 && i < v->n ? v->d[i] : '0';
}

static void fp_put(struct sg_sink *s, char c)
{
	if (s->len < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void fp_put_n(struct sg_sink *s, char c, size_t n)
{
	size_t room = s->len < s->cap ? s->cap - s->len : 0;
	size_t store = n < room ? n : room;

	for (size_t i = 0; i < store; i++)
		s->buf[s->len + i] = c;
	s->len += n;
}

static void fp_put_str(struct sg_sink *s, const char *p)
{
	while (*p)
		fp_put(s, *p++);
}

/* digits i .. i + n - 1 of v, zeros outside the significant ones, cheaply
 * for huge n. */
static void fp_put_digits(struct sg_sink *s, const struct decimal *v, int i, size_t n)
{
	while (n && (i < 0 || i < v->n)) {
		fp_put(s, fp_digit(v, i++));
		n--;
	}
	fp_put_n(s, '0', n);
}

/* Writes the field: padding, sign, prefix, zeros (the 0 flag), body. The
 * body is produced by emit() twice at most: once to count, once to write. */
struct field {
	char sign; /* 0, '-', '+' or ' ' */
	const char *prefix; /* "0x" for %a */
	int zero_ok; /* 0 for inf and nan */
};

typedef void emit_fn(struct sg_sink *s, const void *arg);

static void fp_field(struct sg_sink *s, const struct sg_fpspec *sp, const struct field *f,
		  emit_fn *emit, const void *arg)
{
	struct sg_sink count = { 0, 0, 0 };

	emit(&count, arg);
	size_t body = count.len + (f->sign != 0) + (f->prefix ? 2 : 0);
	size_t pad = (size_t)sp->width > body ? (size_t)sp->width - body : 0;
	int zeros = (sp->flags & SG_F_ZERO) && !(sp->flags & SG_F_LEFT) && f->zero_ok;

	if (!(sp->flags & SG_F_LEFT) && !zeros)
		fp_put_n(s, ' ', pad);
	if (f->sign)
		fp_put(s, f->sign);
	if (f->prefix)
		fp_put_str(s, f->prefix);
	if (zeros)
		fp_put_n(s, '0', pad);
	emit(s, arg);
	if (sp->flags & SG_F_LEFT)
		fp_put_n(s, ' ', pad);
}

struct fixed {
	const struct decimal *v;
	int prec, point;
};

/* %f: integer digits (at least "0"), then '.' and prec digits. */
static void emit_fixed(struct sg_sink *s, const void *arg)
{
	const struct fixed *f = arg;

	if (f->v->x > 0)
		fp_put_digits(s, f->v, 0, (size_t)f->v->x);
	else
		fp_put(s, '0');
	if (f->point)
		fp_put(s, '.');
	fp_put_digits(s, f->v, f->v->x, (size_t)f->prec);
}

struct expo {
	const struct decimal *v;
	int prec, point, upper;
};

/* %e: d.ddde+XX, the exponent with at least two digits. */
static void emit_expo(struct sg_sink *s, const void *arg)
{
	const struct expo *e = arg;
	int x = e->v->n ? e->v->x - 1 : 0;
	char tmp[8];
	int nt = 0;

	fp_put(s, fp_digit(e->v, 0));
	if (e->point)
		fp_put(s, '.');
	fp_put_digits(s, e->v, 1, (size_t)e->prec);
	fp_put(s, e->upper ? 'E' : 'e');
	fp_put(s, x < 0 ? '-' : '+');
	x = x < 0 ? -x : x;
	do {
		tmp[nt++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	if (nt < 2)
		tmp[nt++] = '0';
	while (nt)
		fp_put(s, tmp[--nt]);
}

static void emit_text(struct sg_sink *s, const void *arg)
{
	fp_put_str(s, arg);
}

struct hex {
	uint64_t lead, frac; /* frac holds digits hex digits, left-aligned in 52 bits */
	int digits, exp, point, upper;
};

/* %a: 0xh.hhhp+d (the "0x" is the field's prefix). */
static void emit_hex(struct sg_sink *s, const void *arg)
{
	const struct hex *h = arg;
	const char *xd = h->upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[8];
	int nt = 0, x = h->exp < 0 ? -h->exp : h->exp;

	fp_put(s, xd[h->lead]);
	if (h->point)
		fp_put(s, '.');
	for (int i = 0; i < h->digits; i++)
		fp_put(s, i < 13 ? xd[h->frac >> (48 - 4 * i) & 15] : '0');
	fp_put(s, h->upper ? 'P' : 'p');
	fp_put(s, h->exp < 0 ? '-' : '+');
	do {
		tmp[nt++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	while (nt)
		fp_put(s, tmp[--nt]);
}

static void format_hex(struct sg_sink *s, const struct sg_fpspec *sp, struct field *f, double a,
		       int upper)
{
	uint64_t bits = fp_bits(a);
	int e = (int)(bits >> 52 & 0x7ff);
	struct hex h = { .lead = e != 0, .frac = bits & ((1ull << 52) - 1), .upper = upper };

	h.exp = a == 0 ? 0 : e ? e - 1023 : -1022;
	if (sp->prec >= 0 && sp->prec < 13) {
		int shift = 4 * (13 - sp->prec);
		uint64_t kept = h.frac >> shift, rest = h.frac & ((1ull << shift) - 1);
		uint64_t half = 1ull << (shift - 1);
		/* Ties to even on the last digit kept: the lead one for %.0a. */
		uint64_t last = sp->prec == 0 ? h.lead : kept;
		if (rest > half || (rest == half && (last & 1)))
			kept++;
		if (sp->prec == 0 ? kept > 0 : kept >> (4 * sp->prec)) { /* carried into the lead */
			h.lead++;
			kept = 0;
		}
		h.frac = kept << shift;
		h.digits = sp->prec;
	} else if (sp->prec >= 13) {
		h.digits = sp->prec;
	} else {
		h.digits = 13;
		while (h.digits && !(h.frac >> (52 - 4 * h.digits) & 15))
			h.digits--;
	}
	h.point = h.digits > 0 || (sp->flags & SG_F_ALT);
	f->prefix = upper ? "0X" : "0x";
	fp_field(s, sp, f, emit_hex, &h);
}

void sg_format_fp(struct sg_sink *s, const struct sg_fpspec *sp, char conv, va_list *ap)
{
	double a = sp->long_double ? (double)va_arg(*ap, long double) : va_arg(*ap, double);
	int upper = conv >= 'A' && conv <= 'Z', alt = (sp->flags & SG_F_ALT) != 0;
	char lower = (char)(upper ? conv - 'A' + 'a' : conv);
	struct field f = { 0, 0, 1 };
	struct decimal v;

	if (signbit(a))
		f.sign = '-';
	else if (sp->flags & SG_F_PLUS)
		f.sign = '+';
	else if (sp->flags & SG_F_SPACE)
		f.sign = ' ';
	a = fp_abs(a);
	if (!isfinite(a)) {
		f.zero_ok = 0;
		fp_field(s, sp, &f, emit_text,
		      isnan(a) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"));
		return;
	}
	if (lower == 'a') {
		format_hex(s, sp, &f, a, upper);
		return;
	}
	int prec = sp->prec < 0 ? 6 : sp->prec;
	exact_decimal(a, &v);
	if (lower == 'f') {
		round_at(&v, v.x + prec);
		struct fixed fx = { &v, prec, prec > 0 || alt };
		fp_field(s, sp, &f, emit_fixed, &fx);
		return;
	}
	if (lower == 'e') {
		round_at(&v, prec + 1);
		struct expo ex = { &v, prec, prec > 0 || alt, upper };
		fp_field(s, sp, &f, emit_expo, &ex);
		return;
	}
	/* %g: prec significant digits; %e style if the exponent is below -4
	 * or not below prec; trailing zeros dropped unless '#'. */
	if (prec == 0)
		prec = 1;
	round_at(&v, prec);
	int x = v.n ? v.x - 1 : 0;
	if (x >= -4 && x < prec) {
		int p = prec - 1 - x;
		if (!alt) {
			int sig = v.n - v.x; /* fraction digits that are not zero */
			p = sig < p ? (sig > 0 ? sig : 0) : p;
		}
		struct fixed fx = { &v, p, p > 0 || alt };
		fp_field(s, sp, &f, emit_fixed, &fx);
	} else {
		int p = prec - 1;
		if (!alt)
			p = v.n - 1 < p ? (v.n > 1 ? v.n - 1 : 0) : p;
		struct expo ex = { &v, p, p > 0 || alt, upper };
		fp_field(s, sp, &f, emit_expo, &ex);
	}
}
