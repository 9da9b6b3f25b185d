/*
 * libc_test.c - runs the libc subset of libsg (formatting, strtol, ctype,
 * strings, sorting, the heap) on the host, next to glibc as the reference.
 * The guest sources are included under renamed symbols so they do not
 * replace the host's own malloc/memcpy; their #include <stdio.h> etc. reach
 * glibc's headers (libsg's dirs are on the quote path only), so errno here
 * is glibc's and libsg's strtol sets it. Built and run by tests/build_test.ts:
 *
 *   cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -fno-builtin \
 *      -fsanitize=address,undefined -iquote libsure/abi \
 *      -iquote libsure/guest/include -iquote libsure/guest/src \
 *      libsure/guest/tests/libc_test.c -o libc_test
 *
 * Prints "ok" / "not ok" lines and exits non-zero on any failure.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* glibc, reached under other names once the macros below are in force. */
static int host_vsnprintf(char *b, size_t n, const char *f, va_list ap)
{
	return vsnprintf(b, n, f, ap);
}
static long host_strtol(const char *s, char **e, int b)
{
	return strtol(s, e, b);
}
static unsigned long host_strtoul(const char *s, char **e, int b)
{
	return strtoul(s, e, b);
}
static int host_vsprintf(char *b, const char *f, va_list ap)
{
	return vsprintf(b, f, ap);
}
static void host_qsort(void *b, size_t n, size_t sz, int (*c)(const void *, const void *))
{
	qsort(b, n, sz, c);
}
static void *host_bsearch(const void *k, const void *b, size_t n, size_t sz,
			  int (*c)(const void *, const void *))
{
	return bsearch(k, b, n, sz, c);
}
static size_t host_strftime(char *b, size_t n, const char *f, const struct tm *tm)
{
	return strftime(b, n, f, tm);
}
static struct tm *host_gmtime_r(const time_t *t, struct tm *tm)
{
	return gmtime_r(t, tm);
}
static time_t host_timegm(struct tm *tm)
{
	return timegm(tm);
}
static char *host_strtok_r(char *s, const char *d, char **save)
{
	return strtok_r(s, d, save);
}
static char *host_strerror(int e)
{
	return strerror(e);
}
static int host_strcasecmp(const char *a, const char *b)
{
	return strcasecmp(a, b);
}
/* The string functions below are renamed too: without these, "glibc's"
 * side of a comparison would be libsg's again. */
static char *host_strstr(const char *h, const char *n)
{
	return strstr(h, n);
}
static size_t host_strspn(const char *s, const char *a)
{
	return strspn(s, a);
}
static size_t host_strcspn(const char *s, const char *r)
{
	return strcspn(s, r);
}
static char *host_strpbrk(const char *s, const char *a)
{
	return strpbrk(s, a);
}
static char *host_strrchr(const char *s, int c)
{
	return strrchr(s, c);
}
/* The C locale's classes (glibc's tables), one function for all. */
static int host_ctype(int which, int c)
{
	switch (which) {
	case 0: return !!isalpha(c);
	case 1: return !!isdigit(c);
	case 2: return !!isalnum(c);
	case 3: return !!isspace(c);
	case 4: return !!isupper(c);
	case 5: return !!islower(c);
	case 6: return toupper(c);
	case 7: return tolower(c);
	case 8: return !!isxdigit(c);
	case 9: return !!isblank(c);
	case 10: return !!iscntrl(c);
	case 11: return !!isprint(c);
	case 12: return !!isgraph(c);
	default: return !!ispunct(c);
	}
}
#define CTYPE_FUNCS 14

/* glibc defines the classes as macros too. */
#undef isalpha
#undef isdigit
#undef isalnum
#undef isspace
#undef isupper
#undef islower
#undef toupper
#undef tolower
#undef isxdigit
#undef isblank
#undef iscntrl
#undef isprint
#undef isgraph
#undef ispunct

#define memcpy sg_memcpy
#define memmove sg_memmove
#define memset sg_memset
#define memcmp sg_memcmp
#define memchr sg_memchr
#define strlen sg_strlen
#define strnlen sg_strnlen
#define strcmp sg_strcmp
#define strncmp sg_strncmp
#define strchr sg_strchr
#define strcpy sg_strcpy
#define strncpy sg_strncpy
#define vsnprintf sg_vsnprintf
#define snprintf sg_snprintf
#define strtol sg_strtol
#define strtoul sg_strtoul
#define atoi sg_atoi
#define toupper sg_toupper
#define tolower sg_tolower
#define isalpha sg_isalpha
#define isdigit sg_isdigit
#define isalnum sg_isalnum
#define isspace sg_isspace
#define isupper sg_isupper
#define islower sg_islower
#define isxdigit sg_isxdigit
#define isblank sg_isblank
#define iscntrl sg_iscntrl
#define isprint sg_isprint
#define isgraph sg_isgraph
#define ispunct sg_ispunct
#define strrchr sg_strrchr
#define strstr sg_strstr
#define strspn sg_strspn
#define strcspn sg_strcspn
#define strpbrk sg_strpbrk
#define strcat sg_strcat
#define strncat sg_strncat
#define strdup sg_strdup
#define strndup sg_strndup
#define sprintf sg_sprintf
#define vsprintf sg_vsprintf
#define strtoll sg_strtoll
#define strtoull sg_strtoull
#define atol sg_atol
#define atoll sg_atoll
#define abs sg_abs
#define labs sg_labs
#define llabs sg_llabs
#define qsort sg_qsort
#define bsearch sg_bsearch
#define malloc sg_malloc
#define calloc sg_calloc
#define realloc sg_realloc
#define free sg_free
#define abort sg_abort_
#define sure_abort sg_test_sure_abort
#define strtok sg_strtok
#define strtok_r sg_strtok_r
#define strsep sg_strsep
#define strcasecmp sg_strcasecmp
#define strncasecmp sg_strncasecmp
#define strerror sg_strerror
#define strerror_r sg_strerror_r
#define perror sg_perror
#define rand sg_rand
#define srand sg_srand
#define rand_r sg_rand_r
#define div sg_div
#define ldiv sg_ldiv
#define lldiv sg_lldiv
#define gmtime sg_gmtime
#define gmtime_r sg_gmtime_r
#define localtime sg_localtime
#define localtime_r sg_localtime_r
#define timegm sg_timegm
#define mktime sg_mktime
#define strftime sg_strftime
#define asctime_r sg_asctime_r
#define ctime_r sg_ctime_r
#define sure_instance_seed sg_test_instance_seed
uint64_t sg_test_instance_seed(void);

#include "../src/abs.c"
#include "../src/ctype.c"
#include "../src/format.c"
#include "../src/malloc.c"
#include "../src/mem.c"
#include "../src/printf.c"
#include "../src/qsort.c"
#include "../src/string.c"
#include "../src/strdup.c"
#include "../src/strtol.c"
#include "../src/calendar.c"
#include "../src/div.c"
#include "../src/rand.c"
#include "../src/strerror.c"
#include "../src/strtok.c"
#include "../src/fp/big.c"
#include "../src/fp/fmtfp.c"

static int failures, checks;
static jmp_buf abort_jump;
static int abort_armed;

void sg_test_sure_abort(const char *why)
{
	if (!abort_armed) {
		printf("not ok - unexpected sure_abort: %s\n", why);
		exit(1);
	}
	longjmp(abort_jump, 1);
}

static void check(int cond, const char *what)
{
	checks++;
	if (!cond) {
		failures++;
		printf("not ok - %s\n", what);
	}
}

/* ---- formatting ----------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void same_format(size_t cap, const char *fmt, ...)
{
	char ours[256], theirs[256], what[400];
	va_list a, b;

	memset(ours, 0x55, sizeof(ours));
	memset(theirs, 0x55, sizeof(theirs));
	va_start(a, fmt);
	va_copy(b, a);
	int n1 = sg_vsnprintf(ours, cap, fmt, a);
	int n2 = host_vsnprintf(theirs, cap, fmt, b);
	va_end(b);
	va_end(a);
	snprintf(what, sizeof(what), "format \"%s\" cap %zu: \"%s\" (%d), glibc \"%s\" (%d)", fmt,
		 cap, cap ? ours : "", n1, cap ? theirs : "", n2);
	check(n1 == n2 && sg_memcmp(ours, theirs, sizeof(ours)) == 0, what);
}

__attribute__((format(printf, 1, 2))) static void same_sprintf(const char *fmt, ...)
{
	char ours[256], theirs[256], what[700];
	va_list a, b;

	memset(ours, 0x55, sizeof(ours));
	memset(theirs, 0x55, sizeof(theirs));
	va_start(a, fmt);
	va_copy(b, a);
	int n1 = sg_vsprintf(ours, fmt, a);
	int n2 = host_vsprintf(theirs, fmt, b);
	va_end(b);
	va_end(a);
	snprintf(what, sizeof(what), "sprintf \"%s\": \"%.200s\" (%d), glibc \"%.200s\" (%d)", fmt,
		 ours, n1, theirs, n2);
	check(n1 == n2 && sg_memcmp(ours, theirs, sizeof(ours)) == 0, what);
}

/* Some formats below are odd on purpose (flags that cancel, a lone '%'). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-overflow"
static void test_format(void)
{
	int x = 42;

	same_format(256, "plain text");
	same_format(256, "%d %i %u %x %X %%", -17, 2147483647, 4000000000u, 0xbeefu, 0xbeefu);
	same_format(256, "%d %d", INT_MIN, 0);
	same_format(256, "%ld %lu %lx", LONG_MIN, ULONG_MAX, 0x123456789abcdefUL);
	same_format(256, "%lld %llu %llX", LLONG_MIN, ULLONG_MAX, 0xfedcba9876543210ULL);
	same_format(256, "%zu %zx %zd", (size_t)SIZE_MAX, (size_t)4096, (ssize_t)-5);
	same_format(256, "%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
	same_format(256, "[%5d] [%-5d] [%05d] [%-05d] [%+d] [% d]", 42, 42, 42, 42, 42, 42);
	same_format(256, "[%05d] [%5.3d] [%.0d] [%.0u] [%08.3x]", -42, 7, 0, 0, 0xab);
	same_format(256, "[%#x] [%#X] [%#x] [%#010x]", 255, 255, 0, 1);
	same_format(256, "[%*d] [%-*d] [%*d] [%.*d]", 6, 1, 6, 2, -6, 3, 4, 5);
	same_format(256, "[%s] [%10s] [%-10s] [%.3s] [%.*s] [%.*s]", "abc", "abc", "abc", "abcdef",
		    2, "xyz", -1, "neg");
	same_format(256, "[%c%c] [%3c] [%-3c]", 'o', 'k', 'x', 'y');
	same_format(256, "%p %p", (void *)&x, (void *)0x1000);
	same_format(256, "[%20p]", (void *)0x1234);
	/* Truncation: the return value is the full length, the buffer ends in NUL. */
	same_format(8, "0123456789%d", 42);
	same_format(1, "abc");
	same_format(0, "abc %d", 7);
	same_format(5, "%s", "hello");

	same_sprintf("%d|%-6s|%05x|%c", -7, "ab", 0xbeefu, 'q');
	same_sprintf("%s", "");
	char sp[8];
	check(sg_sprintf(sp, "%d", 1234567) == 7 && !sg_strcmp(sp, "1234567"),
	      "sprintf fills exactly");

	/* Where glibc differs on purpose: NULL pointers. */
	char buf[64];
	sg_snprintf(buf, sizeof(buf), "%s|%p", (char *)NULL, (void *)0);
	check(!sg_strcmp(buf, "(null)|0x0"), "NULL %s and %p");
	/* Unknown conversions are shown, not guessed at. */
	sg_snprintf(buf, sizeof(buf), "%q%");
	check(!sg_strcmp(buf, "%q"), "unknown conversion and a lone %");
	/* Huge widths cost only the buffer, and still count. */
	int n = sg_snprintf(buf, sizeof(buf), "%1000000d", 1);
	check(n == 1000000 && sg_strlen(buf) == sizeof(buf) - 1, "huge width");
}
#pragma GCC diagnostic pop

/* ---- strtol --------------------------------------------------------------- */

static void same_strtol(const char *s, int base)
{
	char *e1, *e2, what[240];
	int err[4];

	errno = 0;
	long a = sg_strtol(s, &e1, base);
	err[0] = errno;
	errno = 0;
	long b = host_strtol(s, &e2, base);
	err[1] = errno;
	errno = 0;
	unsigned long c = sg_strtoul(s, &e1, base);
	err[2] = errno;
	errno = 0;
	unsigned long d = host_strtoul(s, &e2, base);
	err[3] = errno;

	snprintf(what, sizeof(what),
		 "strtol(\"%s\", %d): %ld/%lu end %td errno %d/%d, glibc %ld/%lu end %td errno %d/%d",
		 s, base, a, c, e1 - s, err[0], err[2], b, d, e2 - s, err[1], err[3]);
	check(a == b && c == d && e1 == e2 && err[0] == err[1] && err[2] == err[3], what);
}

static void test_strtol(void)
{
	const char *cases[] = { "0", "42", "  -42xyz", "+7", "0x1f", "0X1F", "0x", "0xg", "077",
				"09", "", "   ", "-", "9223372036854775807",
				"9223372036854775808", "-9223372036854775808",
				"-9223372036854775809", "18446744073709551615",
				"18446744073709551616", "-1", "zz", "\t\n 12 ", "1e5" };
	int bases[] = { 0, 2, 8, 10, 16, 36 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t j = 0; j < sizeof(bases) / sizeof(bases[0]); j++)
			same_strtol(cases[i], bases[j]);
	char *e;
	check(sg_strtol("12", &e, 1) == 0 && *e == '1', "base 1 is refused");
	check(sg_atoi("-123") == -123 && sg_atoi("99999999999") == INT_MAX, "atoi");
	check(sg_atol("-99999999999") == -99999999999L && sg_atoll(" 42") == 42, "atol, atoll");
	check(sg_strtoll("-0x10", &e, 0) == -16 && *e == 0 &&
		      sg_strtoull("18446744073709551615", &e, 10) == ULLONG_MAX,
	      "strtoll, strtoull");
	check(sg_abs(-5) == 5 && sg_abs(INT_MIN) == INT_MIN && sg_labs(-5L) == 5 &&
		      sg_llabs(LLONG_MIN + 1) == LLONG_MAX && sg_abs(3) == 3,
	      "abs, labs, llabs");
}

/* ---- ctype and strings ---------------------------------------------------- */

static void test_ctype(void)
{
	int bad = 0;

	/* The host runs in the C locale: its classes are ASCII too. */
	int (*const ours[CTYPE_FUNCS])(int) = { sg_isalpha,  sg_isdigit,  sg_isalnum, sg_isspace,
						 sg_isupper,  sg_islower,  sg_toupper, sg_tolower,
						 sg_isxdigit, sg_isblank,  sg_iscntrl, sg_isprint,
						 sg_isgraph,  sg_ispunct };

	/* The host runs in the C locale: its classes are ASCII too. */
	for (int f = 0; f < CTYPE_FUNCS; f++) {
		int differ = 0;
		for (int c = -1; c < 256; c++) {
			int v = ours[f](c);
			differ += (f == 6 || f == 7 ? v : !!v) != host_ctype(f, c);
		}
		if (differ) {
			char what[80];
			snprintf(what, sizeof(what), "ctype function %d differs from the C locale", f);
			check(0, what);
		}
		bad += differ;
	}
	check(bad == 0, "ctype matches the C locale");
}

static void test_strings(void)
{
	char buf[32];

	check(sg_strlen("") == 0 && sg_strlen("abc") == 3, "strlen");
	check(sg_strnlen("abcdef", 3) == 3 && sg_strnlen("ab", 9) == 2, "strnlen");
	check(sg_strcmp("a", "b") < 0 && sg_strcmp("b", "a") > 0 && !sg_strcmp("x", "x") &&
		      sg_strcmp("ab", "a") > 0 && sg_strcmp("\xff", "a") > 0,
	      "strcmp");
	check(sg_strncmp("abcX", "abcY", 3) == 0 && sg_strncmp("abc", "abd", 3) < 0 &&
		      sg_strncmp("a", "a", 10) == 0,
	      "strncmp");
	const char *s = "hello";
	check(sg_strchr(s, 'l') == s + 2 && sg_strchr(s, 0) == s + 5 && !sg_strchr(s, 'z'),
	      "strchr");
	check(sg_memchr(s, 'o', 5) == s + 4 && !sg_memchr(s, 'o', 4), "memchr");
	check(sg_memcmp("abc", "abd", 3) < 0 && sg_memcmp("abd", "abc", 3) > 0 &&
		      !sg_memcmp("abc", "abd", 2),
	      "memcmp");
	sg_memset(buf, 'z', sizeof(buf));
	sg_strncpy(buf, "ab", 5);
	check(!sg_memcmp(buf, "ab\0\0\0zz", 7), "strncpy pads with NULs");
	sg_strcpy(buf, "copy");
	check(!sg_strcmp(buf, "copy"), "strcpy");
	sg_strcpy(buf, "0123456789");
	sg_memmove(buf + 2, buf, 8);
	check(!sg_memcmp(buf, "0101234567", 10), "memmove forward overlap");
	sg_strcpy(buf, "0123456789");
	sg_memmove(buf, buf + 2, 8);
	check(!sg_memcmp(buf, "2345678989", 10), "memmove backward overlap");
	sg_memset(buf, 0, sizeof(buf));
	check(sg_memcpy(buf, "xy", 2) == buf && !sg_strcmp(buf, "xy"), "memcpy");
	const char *t = "a/b/c.txt";
	check(sg_strrchr(t, '/') == host_strrchr(t, '/') && sg_strrchr(t, 'z') == NULL &&
		      sg_strrchr(t, 0) == t + 9,
	      "strrchr");
	const char *hay[] = { "", "a", "abc", "ababc", "aaab", "xyz" };
	const char *needle[] = { "", "a", "abc", "bc", "aab", "zz", "abcd" };
	int strstr_ok = 1, span_ok = 1;
	for (size_t i = 0; i < sizeof(hay) / sizeof(hay[0]); i++)
		for (size_t j = 0; j < sizeof(needle) / sizeof(needle[0]); j++) {
			strstr_ok &= sg_strstr(hay[i], needle[j]) == host_strstr(hay[i], needle[j]);
			span_ok &= sg_strspn(hay[i], needle[j]) == host_strspn(hay[i], needle[j]);
			span_ok &= sg_strcspn(hay[i], needle[j]) == host_strcspn(hay[i], needle[j]);
			span_ok &= sg_strpbrk(hay[i], needle[j]) == host_strpbrk(hay[i], needle[j]);
		}
	check(strstr_ok, "strstr matches glibc");
	check(span_ok, "strspn, strcspn, strpbrk match glibc");
	sg_strcpy(buf, "ab");
	check(sg_strcat(buf, "cd") == buf && !sg_strcmp(buf, "abcd"), "strcat");
	check(sg_strncat(buf, "efgh", 2) == buf && !sg_strcmp(buf, "abcdef") &&
		      !sg_strcmp(sg_strncat(buf, "", 5), "abcdef"),
	      "strncat");
	/* DF must be clear again after the backward copy (the ABI requires it). */
	unsigned long flags;
	__asm__ volatile("pushfq; popq %0" : "=r"(flags));
	check(!(flags & 0x400), "direction flag clear after memmove");
}

/* ---- heap ----------------------------------------------------------------- */

#define ARENA (1u << 20)
static _Alignas(4096) uint8_t arena[ARENA];

/* Walks every block: sizes add up, back links agree, no two free blocks are
 * neighbours, the free list holds exactly the free blocks. */
static int heap_consistent(void)
{
	size_t prev = 0, nfree = 0, nlist = 0;
	int prev_free = 0;

	for (uintptr_t a = heap_lo; a < heap_top;) {
		struct blk *b = (struct blk *)a;
		size_t sz = bsize(b);
		if (sz < MIN_BLOCK || sz % ALIGN || sz > heap_top - a || b->prev_size != prev)
			return 0;
		int is_free = !(b->size & USED);
		if (is_free && prev_free)
			return 0;
		nfree += is_free;
		prev_free = is_free;
		prev = sz;
		a += sz;
	}
	if (prev_free || top_prev != prev)
		return 0; /* a free block must never touch top */
	for (struct free_blk *f = free_list; f; f = f->next) {
		if (f->h.size & USED || (f->next && f->next->prev != f))
			return 0;
		nlist++;
	}
	return nfree == nlist;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n, uint8_t tag)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(tag + i);
}

static int filled(const uint8_t *p, size_t n, uint8_t tag)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(tag + i))
			return 0;
	return 1;
}

static void test_heap(void)
{
	enum { SLOTS = 64, ROUNDS = 20000 };
	uint8_t *ptr[SLOTS] = { 0 };
	size_t len[SLOTS] = { 0 };
	int ok = 1, consistent = 1;

	sg_heap_init((uintptr_t)arena, (uintptr_t)arena + ARENA);
	void *a = sg_malloc(100);
	check(a && (uintptr_t)a % 16 == 0, "malloc aligns to 16");
	sg_free(a);
	check(heap_top == heap_lo, "freeing the last block gives it back to top");
	void *b = sg_malloc(100), *c = sg_malloc(100);
	sg_free(b);
	check(sg_malloc(80) == b, "a freed block is reused");
	check(sg_realloc(c, 5000) == c, "the last block grows in place");
	check(!sg_malloc(ARENA), "an allocation larger than the heap fails");
	check(!sg_calloc(SIZE_MAX / 2, 4), "calloc overflow fails");
	uint8_t *z = sg_calloc(10, 10);
	int zero = 1;
	for (int i = 0; z && i < 100; i++)
		zero &= z[i] == 0;
	check(z && zero, "calloc clears");

	sg_heap_init((uintptr_t)arena, (uintptr_t)arena + ARENA);
	for (int r = 0; r < ROUNDS && ok; r++) {
		int i = (int)(next_rand() % SLOTS);
		size_t n = (size_t)(next_rand() % 4 ? next_rand() % 200 : next_rand() % 40000);
		uint8_t tag = (uint8_t)i;
		if (ptr[i] && !filled(ptr[i], len[i], tag))
			ok = 0;
		switch (next_rand() % 3) {
		case 0:
			sg_free(ptr[i]);
			ptr[i] = NULL;
			len[i] = 0;
			break;
		case 1: {
			uint8_t *q = sg_realloc(ptr[i], n);
			if (q || n == 0) {
				size_t keep = len[i] < n ? len[i] : n;
				if (q && !filled(q, keep, tag))
					ok = 0;
				ptr[i] = q;
				len[i] = q ? n : 0;
			}
			break;
		}
		default:
			sg_free(ptr[i]);
			ptr[i] = sg_malloc(n);
			len[i] = ptr[i] ? n : 0;
			break;
		}
		if (ptr[i])
			fill(ptr[i], len[i], tag);
		if (r % 64 == 0)
			consistent &= heap_consistent();
	}
	check(ok, "heap keeps every block's bytes through malloc/realloc/free");
	check(consistent && heap_consistent(), "heap structure stays consistent");
	for (int i = 0; i < SLOTS; i++)
		sg_free(ptr[i]);
	check(heap_top == heap_lo && free_list == NULL, "freeing everything empties the heap");

	/* Bad frees stop the function instead of corrupting the heap. */
	void *p = sg_malloc(32);
	int caught = 0;
	abort_armed = 1;
	if (setjmp(abort_jump) == 0)
		sg_free((uint8_t *)p + 8);
	else
		caught++;
	void *keep = sg_malloc(32); /* so p's block is not given back to top */
	sg_free(p);
	if (setjmp(abort_jump) == 0) {
		sg_free(p);
	} else {
		caught++;
	}
	abort_armed = 0;
	sg_free(keep);
	check(caught == 2, "free of a bad pointer and a double free abort");
}

/* ---- sorting -------------------------------------------------------------- */

struct rec {
	int key;
	char tag[8]; /* an odd size (12 bytes): swaps are byte-wise */
};

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int cmp_rec(const void *a, const void *b)
{
	return cmp_int(&((const struct rec *)a)->key, &((const struct rec *)b)->key);
}

static void test_sort(void)
{
	enum { MAX = 300 };
	static int ours[MAX], theirs[MAX];
	static struct rec r1[MAX], r2[MAX];
	int ok = 1, found_ok = 1, recs_ok = 1;

	for (int n = 0; n <= MAX; n += n < 40 ? 1 : 37) {
		for (int shape = 0; shape < 4; shape++) {
			for (int i = 0; i < n; i++) {
				int v = shape == 0 ? (int)(next_rand() % 1000) - 500 /* duplicates */
					: shape == 1 ? i
					: shape == 2 ? n - i
						     : (int)(next_rand() % 7);
				ours[i] = theirs[i] = v;
			}
			sg_qsort(ours, (size_t)n, sizeof(int), cmp_int);
			host_qsort(theirs, (size_t)n, sizeof(int), cmp_int);
			ok &= !sg_memcmp(ours, theirs, (size_t)n * sizeof(int));
		}
		/* Distinct keys: records come out the same, and bsearch finds the
		 * same element as glibc's (or none). */
		for (int i = 0; i < n; i++) {
			r1[i].key = (int)((unsigned)i * 7919u % 1009u) * 2;
			snprintf(r1[i].tag, sizeof(r1[i].tag), "t%d", i);
			r2[i] = r1[i];
		}
		sg_qsort(r1, (size_t)n, sizeof(struct rec), cmp_rec);
		host_qsort(r2, (size_t)n, sizeof(struct rec), cmp_rec);
		recs_ok &= !sg_memcmp(r1, r2, (size_t)n * sizeof(struct rec));
		for (int k = -1; k < 2020; k++) {
			struct rec key = { .key = k };
			struct rec *a = sg_bsearch(&key, r1, (size_t)n, sizeof(struct rec), cmp_rec);
			struct rec *b = host_bsearch(&key, r1, (size_t)n, sizeof(struct rec), cmp_rec);
			found_ok &= a == b;
		}
	}
	check(ok, "qsort of ints matches glibc (random, sorted, reversed, duplicates)");
	check(recs_ok, "qsort of 12-byte records matches glibc");
	check(found_ok, "bsearch finds what glibc's finds");
}

/* ---- setjmp.S (built with SG_SETJMP=sg_setjmp, SG_LONGJMP=sg_longjmp) --- */

typedef long sg_jmp_buf[8];
__attribute__((returns_twice)) int sg_setjmp(sg_jmp_buf env);
__attribute__((noreturn)) void sg_longjmp(sg_jmp_buf env, int val);

static sg_jmp_buf jb;

static void jump_from_deep(int depth, int val);
/* Called through a pointer: gcc takes a recursion that ends in longjmp for
 * an endless one. */
static void (*volatile deeper)(int, int) = jump_from_deep;

__attribute__((noinline)) static void jump_from_deep(int depth, int val)
{
	volatile char pad[64];

	pad[0] = (char)depth;
	if (depth > 0)
		deeper(depth - 1, val + pad[0] * 0);
	sg_longjmp(jb, val);
}

static void test_setjmp(void)
{
	volatile int steps = 0;
	/* Many live values: they sit in callee-saved registers across the jump. */
	long a = (long)next_rand(), b = (long)next_rand(), c = (long)next_rand(),
	     d = (long)next_rand(), e = (long)next_rand(), f = (long)next_rand();
	long sum = a ^ b ^ c ^ d ^ e ^ f;
	int r = sg_setjmp(jb);

	steps++;
	if (r == 0)
		jump_from_deep(5, 7);
	if (r == 7)
		jump_from_deep(0, 0);
	check(r == 1 && steps == 3, "longjmp returns its value to setjmp, 0 as 1");
	check((a ^ b ^ c ^ d ^ e ^ f) == sum, "callee-saved registers survive a longjmp");
}

/* strdup and strndup take heap memory. */
static void test_strdup(void)
{
	sg_heap_init((uintptr_t)arena, (uintptr_t)arena + ARENA);
	char *a = sg_strdup("hello"), *b = sg_strndup("hello", 3), *c = sg_strndup("hi", 10);
	check(a && b && c && !sg_strcmp(a, "hello") && !sg_strcmp(b, "hel") && !sg_strcmp(c, "hi"),
	      "strdup, strndup");
	sg_free(a);
	sg_free(b);
	sg_free(c);
	check(heap_top == heap_lo, "strdup'ed strings free back to an empty heap");
}


/* ---- printf's floating-point conversions ---------------------------------- */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
static void test_format_fp(void)
{
	static const double values[] = { 0.0, -0.0, 1.0, -1.0, 0.5, 0.125, 0.375, 2.5, 3.5, 1e-5,
					 123456.789, 1e15, 1e16, 1e21, 1e22, 1e23, 0.1, 1.0 / 3,
					 9.9999, 99.995, 0.000123456, 5e-324, 2.2250738585072014e-308,
					 1.7976931348623157e308, 1e300, 6.02214076e23, 1234567.0 };
	static const char *const formats[] = {
		"%f", "%.0f", "%.1f", "%.2f", "%.10f", "%#.0f", "%e", "%.0e", "%.3e", "%#.0e",
		"%E", "%g", "%.0g", "%.1g", "%.3g", "%.17g", "%#g", "%#.3g", "%G", "%a", "%.0a",
		"%.1a", "%.3a", "%A", "%#a", "%12.3f", "%-12.3f|", "%012.3f", "%+f", "% f",
		"%+012.4e", "%-+12g|", "%020a", "%.20f", "%.40e", "%.25g", "%F",
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		for (size_t j = 0; j < sizeof(formats) / sizeof(formats[0]); j++)
			same_format(256, formats[j], values[i]);
	static const double odd[] = { 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0, -(0.0 / 0.0) };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		same_format(256, "[%f] [%e] [%g] [%a] [%F] [%E] [%G] [%A]", odd[i], odd[i], odd[i],
			    odd[i], odd[i], odd[i], odd[i], odd[i]);
		same_format(256, "[%08f] [%-8f] [%+f] [% f]", odd[i], odd[i], odd[i], odd[i]);
	}
	same_format(256, "%Lf %Lg", (long double)2.5, (long double)1e-10);
	same_format(256, "%o %#o %#o %.5o %#.5o %lo", 8u, 8u, 0u, 8u, 8u, 01234567012345670ul);
	same_format(256, "%.*f|%*.*e", 3, 3.14159, 12, 2, -2.5e-7);
	same_format(6, "%f", 3.14159); /* truncated: the full length is still counted */
	/* Random doubles of every magnitude in each style: the digits are exact. */
	uint64_t rng = 0x1234567;
	int bad = 0;
	for (int i = 0; i < 20000 && bad < 5; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		double d;
		sg_memcpy(&d, &rng, 8);
		if (d != d)
			continue;
		char a[1200], b[1200];
		const char *f = i % 4 == 0 ? "%.17g" : i % 4 == 1 ? "%.3e" : i % 4 == 2 ? "%.5f" : "%a";
		sg_snprintf(a, sizeof(a), f, d);
		snprintf(b, sizeof(b), f, d);
		if (strcmp(a, b)) {
			char what[2500];
			snprintf(what, sizeof(what), "%s of %a: \"%.100s\", glibc \"%.100s\"", f, d, a, b);
			check(0, what);
			bad++;
		}
	}
	check(bad == 0, "random doubles print as glibc prints them");
}
#pragma GCC diagnostic pop

/* ---- time.h (calendar and strftime; the clocks need a guest) -------------- */

static void test_time(void)
{
	static const time_t times[] = { 0, 1, -1, 86399, 86400, 951782400 /* 2000-02-29 */,
					 1700000000, 2147483647, 2147483648L, -2208988800L,
					 253402300799L /* 9999-12-31 23:59:59 */, -62135596800L,
					 1104537600 /* 2005-01-01: ISO week 53 of 2004 */,
					 1230681600 /* 2008-12-31: ISO week 1 of 2009 */ };
	static const char *const formats[] = {
		"%Y-%m-%d %H:%M:%S", "%a %A %b %B %h", "%c|%x|%X|%D|%F|%T|%R|%r", "%C %y %e %j %p %I",
		"%u %w %U %W %V %G %g", "%s %z %Z %% %n%t", "%Ey %Od %-d %q",
	};
	char a[200], b[200], what[600];

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct tm ours, theirs;
		sg_gmtime_r(&times[i], &ours);
		host_gmtime_r(&times[i], &theirs);
		snprintf(what, sizeof(what), "gmtime_r(%ld)", (long)times[i]);
		check(ours.tm_year == theirs.tm_year && ours.tm_mon == theirs.tm_mon &&
			      ours.tm_mday == theirs.tm_mday && ours.tm_hour == theirs.tm_hour &&
			      ours.tm_min == theirs.tm_min && ours.tm_sec == theirs.tm_sec &&
			      ours.tm_wday == theirs.tm_wday && ours.tm_yday == theirs.tm_yday,
		      what);
		struct tm copy = ours;
		check(sg_timegm(&copy) == times[i], "timegm inverts gmtime_r");
		for (size_t j = 0; j < sizeof(formats) / sizeof(formats[0]); j++) {
			size_t n1 = sg_strftime(a, sizeof(a), formats[j], &ours);
			size_t n2 = host_strftime(b, sizeof(b), formats[j], &theirs);
			snprintf(what, sizeof(what), "strftime(\"%s\") at %ld: \"%s\", glibc \"%s\"",
				 formats[j], (long)times[i], a, b);
			check(n1 == n2 && !strcmp(a, b), what);
		}
	}
	/* Every day over 1600..2400 years: gmtime_r agrees and timegm inverts. */
	int bad = 0;
	for (time_t t = -11676096000L; t < 13569465600L; t += 86400 * 7 + 3661) {
		struct tm ours, theirs;
		sg_gmtime_r(&t, &ours);
		host_gmtime_r(&t, &theirs);
		struct tm copy = ours;
		bad += ours.tm_mday != theirs.tm_mday || ours.tm_mon != theirs.tm_mon ||
		       ours.tm_year != theirs.tm_year || ours.tm_yday != theirs.tm_yday ||
		       ours.tm_wday != theirs.tm_wday || sg_timegm(&copy) != t;
	}
	check(bad == 0, "gmtime_r and timegm over eight centuries");
	/* timegm normalises out-of-range fields like glibc's. */
	struct tm o = { .tm_year = 124, .tm_mon = 13, .tm_mday = 35, .tm_hour = 25, .tm_min = -5 };
	struct tm t = o;
	check(sg_timegm(&o) == host_timegm(&t) && o.tm_mon == t.tm_mon && o.tm_mday == t.tm_mday &&
		      o.tm_wday == t.tm_wday,
	      "timegm normalises");
	check(sg_strftime(a, 5, "%Y-%m-%d", &o) == 0, "strftime that does not fit returns 0");
	time_t t0 = 0;
	check(!strcmp(sg_ctime_r(&t0, a), "Thu Jan  1 00:00:00 1970\n"), "ctime_r");
}

/* ---- strtok, strerror, case, rand, div ------------------------------------ */

static uint64_t fake_seed = 1;
uint64_t sg_test_instance_seed(void)
{
	return fake_seed;
}

static void test_more_strings(void)
{
	static const char *const inputs[] = { "a,b,,c", ",,", "", "one", " lead and trail ",
					      "a;b c;;d" };
	static const char *const delims[] = { ",", ", ", "; ", "" };
	int ok = 1;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		for (size_t j = 0; j < sizeof(delims) / sizeof(delims[0]); j++) {
			char x[64], y[64], *sx, *sy;
			strcpy(x, inputs[i]);
			strcpy(y, inputs[i]);
			char *tx = sg_strtok_r(x, delims[j], &sx), *ty = host_strtok_r(y, delims[j], &sy);
			for (;;) {
				ok &= (tx == NULL) == (ty == NULL) && (!tx || tx - x == ty - y);
				if (!tx || !ty)
					break;
				tx = sg_strtok_r(NULL, delims[j], &sx);
				ty = host_strtok_r(NULL, delims[j], &sy);
			}
		}
	}
	check(ok, "strtok_r splits as glibc's");
	char line[] = "x=1&y=2";
	check(!strcmp(sg_strtok(line, "&"), "x=1") && !strcmp(sg_strtok(NULL, "&"), "y=2") &&
		      sg_strtok(NULL, "&") == NULL,
	      "strtok keeps its place");
	char csv[] = "a,,b", *rest = csv;
	check(!strcmp(sg_strsep(&rest, ","), "a") && !strcmp(sg_strsep(&rest, ","), "") &&
		      !strcmp(sg_strsep(&rest, ","), "b") && sg_strsep(&rest, ",") == NULL,
	      "strsep keeps empty fields");
	for (int e = 0; e < 80; e++) {
		const char *m = sg_strerror(e);
		if (e == 0 || e == EPERM || e == ENOENT || e == EIO || e == EBADF || e == EAGAIN ||
		    e == ENOMEM || e == EACCES || e == EFAULT || e == EBUSY || e == EEXIST ||
		    e == EINVAL || e == ENOSPC || e == EDOM || e == ERANGE || e == ENOSYS ||
		    e == EOVERFLOW) {
			char what[200];
			snprintf(what, sizeof(what), "strerror(%d) = \"%s\", glibc \"%s\"", e, m,
				 host_strerror(e));
			check(!strcmp(m, host_strerror(e)), what);
		}
	}
	check(!strcmp(sg_strerror(12345), "Unknown error 12345"), "strerror of an unknown value");
	char small[8];
	check(sg_strerror_r(ERANGE, small, sizeof(small)) == ERANGE && !strcmp(small, "Numeric"),
	      "strerror_r truncates");
	const char *words[] = { "abc", "ABC", "abd", "AB", "", "a[", "A{" };
	int cs = 1;
	for (size_t i = 0; i < 7; i++)
		for (size_t j = 0; j < 7; j++) {
			int x = sg_strcasecmp(words[i], words[j]), y = host_strcasecmp(words[i], words[j]);
			cs &= (x > 0) == (y > 0) && (x < 0) == (y < 0);
		}
	check(cs && sg_strncasecmp("HELLO world", "hello WORLD!", 11) == 0 &&
		      sg_strncasecmp("ab", "AC", 2) < 0,
	      "strcasecmp, strncasecmp");
	div_t d = sg_div(-7, 2);
	ldiv_t ld = sg_ldiv(7L, -2L);
	lldiv_t lld = sg_lldiv(-9LL, -4LL);
	check(d.quot == -3 && d.rem == -1 && ld.quot == -3 && ld.rem == 1 && lld.quot == 2 &&
		      lld.rem == -1,
	      "div, ldiv, lldiv truncate");
}

static void test_rand(void)
{
	int a[8], b[8], c[8], in_range = 1;

	/* Unseeded: the instance seed decides, and a new seed (a clone, which
	 * shares the state it was copied with) changes the sequence. */
	fake_seed = 11;
	for (int i = 0; i < 8; i++)
		a[i] = sg_rand();
	fake_seed = 12;
	for (int i = 0; i < 8; i++)
		b[i] = sg_rand();
	check(sg_memcmp(a, b, sizeof(a)) != 0, "a new instance seed gives new numbers");
	for (int i = 0; i < 100000; i++) {
		int r = sg_rand();
		in_range &= r >= 0 && r <= RAND_MAX;
	}
	check(in_range, "rand stays in 0..RAND_MAX");
	/* srand repeats a sequence, whatever the instance seed. */
	sg_srand(42);
	for (int i = 0; i < 8; i++)
		a[i] = sg_rand();
	fake_seed = 99;
	sg_srand(42);
	for (int i = 0; i < 8; i++)
		c[i] = sg_rand();
	check(!sg_memcmp(a, c, sizeof(a)), "srand(42) repeats");
	unsigned s1 = 5, s2 = 5;
	check(sg_rand_r(&s1) == sg_rand_r(&s2) && s1 == s2, "rand_r is a function of its seed");
}

int main(void)
{
	test_format();
	test_strtol();
	test_ctype();
	test_strings();
	test_sort();
	test_setjmp();
	test_strdup();
	test_heap();
	test_format_fp();
	test_time();
	test_more_strings();
	test_rand();
	if (failures == 0)
		printf("ok - libsg libc subset: %d checks\n", checks);
	else
		printf("# %d of %d checks failed\n", failures, checks);
	return failures != 0;
}
