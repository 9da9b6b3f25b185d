/*
 * strtol.c - strtol, strtoul, their long long twins, atoi, atol, atoll.
 * Out-of-range values clamp to the type's limits and set errno to ERANGE,
 * as in C.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "sg.h"

static int digit_value(int c)
{
	if (isdigit(c))
		return c - '0';
	if (isalpha(c))
		return tolower(c) - 'a' + 10;
	return 99;
}

/*
 * Parses the magnitude of an integer in s: leading space, sign, "0x" for
 * base 16 or 0. Stores the sign in *neg, whether it exceeded limit in
 * *over, and the end in *end (s itself when there are no digits).
 */
static unsigned long parse(const char *s, char **end, int base, unsigned long limit, int *neg,
			   int *over)
{
	const char *p = s;
	unsigned long v = 0;
	int any = 0;

	*neg = 0;
	*over = 0;
	if (base < 0 || base == 1 || base > 36) {
		if (end)
			*end = (char *)s;
		return 0;
	}
	while (isspace(*p))
		p++;
	if (*p == '+' || *p == '-')
		*neg = *p++ == '-';
	/* "0x" only counts as a prefix if a hex digit follows it. */
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    digit_value(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}
	for (;; p++) {
		int d = digit_value(*p);
		if (d >= base)
			break;
		any = 1;
		if (v > (limit - (unsigned long)d) / (unsigned long)base)
			*over = 1;
		else
			v = v * (unsigned long)base + (unsigned long)d;
	}
	if (end)
		*end = (char *)(any ? p : s);
	return *over ? limit : v;
}

unsigned long strtoul(const char *s, char **end, int base)
{
	int neg, over;
	unsigned long v = parse(s, end, base, ULONG_MAX, &neg, &over);

	if (over) {
		errno = ERANGE;
		return ULONG_MAX;
	}
	/* C: a minus sign negates the value in the unsigned type. */
	return neg ? -v : v;
}

long strtol(const char *s, char **end, int base)
{
	int neg, over;
	/* Parse up to |LONG_MIN| so that LONG_MIN itself is representable. */
	unsigned long v = parse(s, end, base, (unsigned long)LONG_MAX + 1, &neg, &over);

	if (neg) {
		if (over) {
			errno = ERANGE;
			return LONG_MIN;
		}
		return v == (unsigned long)LONG_MAX + 1 ? LONG_MIN : -(long)v;
	}
	if (over || v > (unsigned long)LONG_MAX) {
		errno = ERANGE;
		return LONG_MAX;
	}
	return (long)v;
}

/* long long is long on x86-64. */
long long strtoll(const char *s, char **end, int base)
{
	return strtol(s, end, base);
}

unsigned long long strtoull(const char *s, char **end, int base)
{
	return strtoul(s, end, base);
}

long atol(const char *s)
{
	return strtol(s, NULL, 10);
}

long long atoll(const char *s)
{
	return strtol(s, NULL, 10);
}

int atoi(const char *s)
{
	long v = strtol(s, NULL, 10);

	if (v > INT_MAX)
		return INT_MAX;
	if (v < INT_MIN)
		return INT_MIN;
	return (int)v;
}
