/*
 * util.h - small helpers shared by the host files: error lines for the
 * caller's err buffer, the monotonic clock, futex calls and fences.
 */
#ifndef SURE_UTIL_H
#define SURE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Writes one line into err (if any); always returns rc so callers can chain. */
int sure_errf(char *err, size_t errcap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline uint64_t sure_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Time from then to now, 0 when then is later. A tick's `now` is read once per
 * loop round, so a stamp taken during that round (sure_now_ns()) is newer:
 * a plain now - then wraps to centuries, and whatever was stamped is judged
 * expired at once. */
static inline uint64_t sure_elapsed_ns(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* A moving average over ~8 samples (0: none yet, so the first is taken whole). */
static inline void sure_average8(uint64_t *avg, uint64_t sample)
{
	*avg = *avg ? *avg - *avg / 8 + sample / 8 : sample;
}

/*
 * Folds one guest-written counter into the host's total: an increase counts,
 * a counter that went back (zeroed, rewritten) adds nothing, and the total
 * never passes bound (what the host knows the guest can have done), so a
 * guest can neither make it go backwards nor inflate it. Every sum here is
 * checked against overflow: raw is anything the guest wrote. The one way a
 * guest counter becomes a host number.
 */
static inline uint64_t sure_fold_counter(uint64_t raw, uint64_t *seen, uint64_t *total,
					 uint64_t bound)
{
	uint64_t grew = raw >= *seen ? raw - *seen : 0;

	*seen = raw;
	if (*total < bound)
		*total += grew < bound - *total ? grew : bound - *total;
	return *total;
}

/* a * b, or UINT64_MAX where that does not fit. */
static inline uint64_t sure_mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/*
 * Futexes. Private futexes are enough: every waiter and waker is a thread of
 * this process using the same virtual address. timeout_ns == UINT64_MAX
 * waits forever. Returns 0, or -errno (EAGAIN, ETIMEDOUT, EINTR).
 */
int sure_futex_wait(uint32_t *word, uint32_t expect, uint64_t timeout_ns);
void sure_futex_wake(uint32_t *word);

/* 64 random bits from the kernel (a clock-based mix if it has none yet). */
uint64_t sure_random_u64(void);

#define sure_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define sure_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define sure_fence() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#endif
