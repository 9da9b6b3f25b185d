/* util.c - see util.h. */
#include "util.h"

#include <sys/random.h>
#include <sys/types.h>

#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int sure_errf(char *err, size_t errcap, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err || errcap == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
	return rc;
}

int sure_futex_wait(uint32_t *word, uint32_t expect, uint64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ns != UINT64_MAX) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
		ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
		tsp = &ts;
	}
	/* A relative timeout: FUTEX_WAIT measures it on CLOCK_MONOTONIC. */
	if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expect, tsp, NULL, 0) < 0)
		return -errno;
	return 0;
}

void sure_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

uint64_t sure_random_u64(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* Not secret then, but still different per instance (splitmix64 step). */
	v = sure_now_ns() + 0x9e3779b97f4a7c15ull;
	v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
	v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
	return v ^ (v >> 31);
}
