/* inttypes.h - printf/strtol helpers for stdint.h's types (x86-64: int64_t
 * is long, so the 64-bit conversions are "l"). */
#ifndef SURE_INTTYPES_H
#define SURE_INTTYPES_H

#include <stdint.h>
#include <stdlib.h>

#define PRId8 "d"
#define PRId16 "d"
#define PRId32 "d"
#define PRId64 "ld"
#define PRIi8 "i"
#define PRIi16 "i"
#define PRIi32 "i"
#define PRIi64 "li"
#define PRIu8 "u"
#define PRIu16 "u"
#define PRIu32 "u"
#define PRIu64 "lu"
#define PRIx8 "x"
#define PRIx16 "x"
#define PRIx32 "x"
#define PRIx64 "lx"
#define PRIX8 "X"
#define PRIX16 "X"
#define PRIX32 "X"
#define PRIX64 "lX"
#define PRIo32 "o"
#define PRIo64 "lo"
#define PRIdMAX "ld"
#define PRIuMAX "lu"
#define PRIxMAX "lx"
#define PRIdPTR "ld"
#define PRIuPTR "lu"
#define PRIxPTR "lx"
#define SCNd32 "d"
#define SCNd64 "ld"
#define SCNu32 "u"
#define SCNu64 "lu"

typedef struct {
	intmax_t quot, rem;
} imaxdiv_t;

static inline intmax_t imaxabs(intmax_t x)
{
	return llabs(x);
}

static inline imaxdiv_t imaxdiv(intmax_t a, intmax_t b)
{
	return (imaxdiv_t){ a / b, a % b };
}

static inline intmax_t strtoimax(const char *s, char **end, int base)
{
	return strtoll(s, end, base);
}

static inline uintmax_t strtoumax(const char *s, char **end, int base)
{
	return strtoull(s, end, base);
}

#endif
