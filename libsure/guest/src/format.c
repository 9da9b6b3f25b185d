/*
 * format.c - the printf engine behind vsnprintf, sure_printf and sure_log.
 * Conversions: d i u o x X p s c % and, through fp/fmtfp.c, f F e E g G a A;
 * flags - 0 + space #; width and precision (numbers or *); length hh h l ll
 * z j t L. Output goes to a sink that keeps
 * counting past its capacity, so callers learn the full length.
 */
#include "sg.h"

#define NUM_MAX 1000000 /* width/precision beyond this are clamped: no overflow */

enum { F_LEFT = SG_F_LEFT, F_ZERO = SG_F_ZERO, F_PLUS = SG_F_PLUS, F_SPACE = SG_F_SPACE,
       F_ALT = SG_F_ALT };
enum len { L_NONE, L_HH, L_H, L_L, L_LL, L_Z, L_BIG };

struct spec {
	int flags;
	int width; /* 0: none */
	int prec; /* -1: none */
	enum len len;
};

static void put(struct sg_sink *s, char c)
{
	if (s->len < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

/* n copies of c; only what fits is stored, so huge widths cost O(cap). */
static void put_n(struct sg_sink *s, char c, size_t n)
{
	size_t room = s->len < s->cap ? s->cap - s->len : 0;
	size_t store = n < room ? n : room;

	for (size_t i = 0; i < store; i++)
		s->buf[s->len + i] = c;
	s->len += n;
}

static void put_str(struct sg_sink *s, const char *p, size_t n)
{
	size_t room = s->len < s->cap ? s->cap - s->len : 0;

	if (room)
		memcpy(s->buf + s->len, p, n < room ? n : room);
	s->len += n;
}

/* Pads a field of n bytes to the width: before it unless left-justified. */
static void pad_before(struct sg_sink *s, const struct spec *sp, size_t n)
{
	if (!(sp->flags & F_LEFT) && (size_t)sp->width > n)
		put_n(s, ' ', (size_t)sp->width - n);
}

static void pad_after(struct sg_sink *s, const struct spec *sp, size_t n)
{
	if ((sp->flags & F_LEFT) && (size_t)sp->width > n)
		put_n(s, ' ', (size_t)sp->width - n);
}

static void put_number(struct sg_sink *s, const struct spec *sp, uint64_t v, int neg,
		       unsigned base, int upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24]; /* 2^64 has 20 decimal digits, 16 hex */
	size_t nd = 0;

	/* C: an explicit precision of 0 prints nothing for the value 0. */
	if (!(v == 0 && sp->prec == 0)) {
		do {
			tmp[nd++] = digits[v % base];
			v /= base;
		} while (v);
	}
	char sign = neg ? '-' : (sp->flags & F_PLUS) ? '+' : (sp->flags & F_SPACE) ? ' ' : 0;
	size_t plen = prefix ? strlen(prefix) : 0;
	size_t zeros = sp->prec > 0 && (size_t)sp->prec > nd ? (size_t)sp->prec - nd : 0;
	size_t total = (sign ? 1 : 0) + plen + zeros + nd;

	/* The 0 flag pads with zeros after sign and prefix, unless a precision
	 * or left-justification says otherwise. */
	if ((sp->flags & F_ZERO) && !(sp->flags & F_LEFT) && sp->prec < 0 &&
	    (size_t)sp->width > total) {
		zeros += (size_t)sp->width - total;
		total = (size_t)sp->width;
	}
	pad_before(s, sp, total);
	if (sign)
		put(s, sign);
	if (plen)
		put_str(s, prefix, plen);
	put_n(s, '0', zeros);
	while (nd)
		put(s, tmp[--nd]);
	pad_after(s, sp, total);
}

/* Reads a decimal number at *p (clamped), advancing *p. */
static int read_num(const char **p)
{
	int n = 0;

	while (**p >= '0' && **p <= '9') {
		if (n < NUM_MAX)
			n = n * 10 + (**p - '0');
		(*p)++;
	}
	return n < NUM_MAX ? n : NUM_MAX;
}

static const char *parse_spec(const char *p, struct spec *sp, va_list *ap)
{
	sp->flags = 0;
	sp->width = 0;
	sp->prec = -1;
	sp->len = L_NONE;
	for (;; p++) {
		if (*p == '-')
			sp->flags |= F_LEFT;
		else if (*p == '0')
			sp->flags |= F_ZERO;
		else if (*p == '+')
			sp->flags |= F_PLUS;
		else if (*p == ' ')
			sp->flags |= F_SPACE;
		else if (*p == '#')
			sp->flags |= F_ALT;
		else
			break;
	}
	if (*p == '*') {
		int w = va_arg(*ap, int);
		p++;
		/* C: a negative * width means left-justify. */
		if (w < 0) {
			sp->flags |= F_LEFT;
			w = w < -NUM_MAX ? NUM_MAX : -w;
		}
		sp->width = w < NUM_MAX ? w : NUM_MAX;
	} else {
		sp->width = read_num(&p);
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			int pr = va_arg(*ap, int);
			p++;
			/* C: a negative * precision is as if none was given. */
			sp->prec = pr < 0 ? -1 : pr < NUM_MAX ? pr : NUM_MAX;
		} else {
			sp->prec = read_num(&p);
		}
	}
	if (p[0] == 'h')
		sp->len = p[1] == 'h' ? (p++, L_HH) : L_H;
	else if (p[0] == 'l')
		sp->len = p[1] == 'l' ? (p++, L_LL) : L_L;
	else if (p[0] == 'z' || p[0] == 'j' || p[0] == 't')
		sp->len = p[0] == 'j' ? L_LL : L_Z;
	else if (p[0] == 'L')
		sp->len = L_BIG; /* long double */
	if (sp->len != L_NONE)
		p++;
	return p;
}

static int64_t signed_arg(enum len len, va_list *ap)
{
	switch (len) {
	case L_HH:
		return (signed char)va_arg(*ap, int);
	case L_H:
		return (short)va_arg(*ap, int);
	case L_L:
		return va_arg(*ap, long);
	case L_LL:
		return va_arg(*ap, long long);
	case L_Z:
		return (int64_t)va_arg(*ap, size_t); /* ssize_t / ptrdiff_t: same size */
	default:
		return va_arg(*ap, int);
	}
}

static uint64_t unsigned_arg(enum len len, va_list *ap)
{
	switch (len) {
	case L_HH:
		return (unsigned char)va_arg(*ap, unsigned);
	case L_H:
		return (unsigned short)va_arg(*ap, unsigned);
	case L_L:
		return va_arg(*ap, unsigned long);
	case L_LL:
		return va_arg(*ap, unsigned long long);
	case L_Z:
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned);
	}
}

static void put_string(struct sg_sink *s, const struct spec *sp, const char *str)
{
	if (!str)
		str = "(null)";
	size_t n = sp->prec >= 0 ? strnlen(str, (size_t)sp->prec) : strlen(str);

	pad_before(s, sp, n);
	put_str(s, str, n);
	pad_after(s, sp, n);
}

/* One conversion; returns 0 when the format ended (a lone '%'). */
static int convert(struct sg_sink *s, const struct spec *sp, char conv, va_list *ap)
{
	switch (conv) {
	case 'd':
	case 'i': {
		int64_t v = signed_arg(sp->len, ap);
		/* Negate in unsigned arithmetic: INT64_MIN has no positive twin. */
		uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
		put_number(s, sp, mag, v < 0, 10, 0, NULL);
		return 1;
	}
	case 'u':
		put_number(s, sp, unsigned_arg(sp->len, ap), 0, 10, 0, NULL);
		return 1;
	case 'x':
	case 'X': {
		uint64_t v = unsigned_arg(sp->len, ap);
		const char *pre = (sp->flags & F_ALT) && v ? (conv == 'x' ? "0x" : "0X") : NULL;
		put_number(s, sp, v, 0, 16, conv == 'X', pre);
		return 1;
	}
	case 'o': {
		uint64_t v = unsigned_arg(sp->len, ap);
		/* '#' makes the first digit a 0, unless the precision already does. */
		int nd = v ? (64 - __builtin_clzll(v) + 2) / 3 : 1;
		const char *pre = (sp->flags & F_ALT) && v && sp->prec <= nd ? "0" : NULL;
		put_number(s, sp, v, 0, 8, 0, pre);
		return 1;
	}
	case 'p':
		put_number(s, sp, (uintptr_t)va_arg(*ap, void *), 0, 16, 0, "0x");
		return 1;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A': {
		struct sg_fpspec fs = { sp->flags, sp->width, sp->prec, sp->len == L_BIG };
		sg_format_fp(s, &fs, conv, ap);
		return 1;
	}
	case 's':
		put_string(s, sp, va_arg(*ap, const char *));
		return 1;
	case 'c': {
		char c = (char)va_arg(*ap, int);
		pad_before(s, sp, 1);
		put(s, c);
		pad_after(s, sp, 1);
		return 1;
	}
	case '%':
		put(s, '%');
		return 1;
	case '\0':
		return 0;
	default:
		/* Unknown conversion: show it rather than guess at its argument. */
		put(s, '%');
		put(s, conv);
		return 1;
	}
}

void sg_vformat(struct sg_sink *s, const char *fmt, va_list ap)
{
	va_list args;
	const char *p = fmt;

	/* A copy, so the helpers can take it by pointer (va_list may be an array). */
	va_copy(args, ap);
	while (*p) {
		if (*p != '%') {
			const char *run = p;
			while (*p && *p != '%')
				p++;
			put_str(s, run, (size_t)(p - run));
			continue;
		}
		struct spec sp;
		p = parse_spec(p + 1, &sp, &args);
		if (!convert(s, &sp, *p, &args))
			break;
		p++;
	}
	va_end(args);
}
