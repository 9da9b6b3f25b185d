/*
 * libc_test.c - runs the libc subset of libsg (formatting, strtol, ctype,
 * strings, the heap) on the host, next to glibc as the reference. The guest
 * sources are included under renamed symbols so they do not replace the
 * host's own malloc/memcpy. Built and run by tests/build_test.ts:
 *
 *   cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -fno-builtin \
 *      -fsanitize=address,undefined -Ilibsure/include -Ilibsure/guest/include \
 *      -Ilibsure/guest/src libsure/guest/tests/libc_test.c -o libc_test
 *
 * Prints "ok" / "not ok" lines and exits non-zero on any failure.
 */
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
#define malloc sg_malloc
#define calloc sg_calloc
#define realloc sg_realloc
#define free sg_free
#define abort sg_abort_
#define sure_abort sg_test_sure_abort

#include "../src/ctype.c"
#include "../src/format.c"
#include "../src/malloc.c"
#include "../src/mem.c"
#include "../src/printf.c"
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
	char *e1, *e2, what[200];
	long a = sg_strtol(s, &e1, base), b = host_strtol(s, &e2, base);
	unsigned long c = sg_strtoul(s, &e1, base), d = host_strtoul(s, &e2, base);

	snprintf(what, sizeof(what), "strtol(\"%s\", %d): %ld/%lu end %td, glibc %ld/%lu end %td",
		 s, base, a, c, e1 - s, b, d, e2 - s);
	check(a == b && c == d && e1 == e2, what);
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
}

/* ---- ctype and strings ---------------------------------------------------- */

static void test_ctype(void)
{
	int bad = 0;

	/* The host runs in the C locale: its classes are ASCII too. */
	for (int c = -1; c < 256; c++) {
		bad += !sg_isalpha(c) != !isalpha(c);
		bad += !sg_isdigit(c) != !isdigit(c);
		bad += !sg_isalnum(c) != !isalnum(c);
		bad += !sg_isspace(c) != !isspace(c);
		bad += !sg_isupper(c) != !isupper(c);
		bad += !sg_islower(c) != !islower(c);
		bad += sg_toupper(c) != toupper(c);
		bad += sg_tolower(c) != tolower(c);
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

int main(void)
{
	test_format();
	test_strtol();
	test_ctype();
	test_strings();
	test_heap();
	if (failures == 0)
		printf("ok - libsg libc subset: %d checks\n", checks);
	else
		printf("# %d of %d checks failed\n", failures, checks);
	return failures != 0;
}
