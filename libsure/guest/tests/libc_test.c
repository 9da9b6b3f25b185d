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

#include "../src/abs.c"
#include "../src/ctype.c"
#include "../src/format.c"
#include "../src/malloc.c"
#include "../src/mem.c"
#include "../src/printf.c"
#include "../src/qsort.c"
#include "../src/string.c"
#include "../src/strtol.c"

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
	check(sg_strrchr(t, '/') == strrchr(t, '/') && sg_strrchr(t, 'z') == NULL &&
		      sg_strrchr(t, 0) == t + 9,
	      "strrchr");
	const char *hay[] = { "", "a", "abc", "ababc", "aaab", "xyz" };
	const char *needle[] = { "", "a", "abc", "bc", "aab", "zz", "abcd" };
	int strstr_ok = 1, span_ok = 1;
	for (size_t i = 0; i < sizeof(hay) / sizeof(hay[0]); i++)
		for (size_t j = 0; j < sizeof(needle) / sizeof(needle[0]); j++) {
			strstr_ok &= sg_strstr(hay[i], needle[j]) == strstr(hay[i], needle[j]);
			span_ok &= sg_strspn(hay[i], needle[j]) == strspn(hay[i], needle[j]);
			span_ok &= sg_strcspn(hay[i], needle[j]) == strcspn(hay[i], needle[j]);
			span_ok &= sg_strpbrk(hay[i], needle[j]) == strpbrk(hay[i], needle[j]);
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
	if (failures == 0)
		printf("ok - libsg libc subset: %d checks\n", checks);
	else
		printf("# %d of %d checks failed\n", failures, checks);
	return failures != 0;
}
