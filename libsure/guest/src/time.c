/* time.c - the clocks of time.h and sys/time.h: the host's wall clock as of
 * this instance's start (struct sure_ctrl wall_ns at TSC wall_tsc, written
 * for every boot and every clone) carried forward by rdtsc, no VM exit. */
#include <errno.h>
#include <sys/time.h>
#include <time.h>

#include "sg.h"

static uint64_t tsc_hz(void)
{
	uint64_t hz = sg_ctrl()->tsc_hz;

	return hz ? hz : 3000000000ull; /* the host did not know: a guess beats nothing */
}

/* TSC ticks to ns; 128-bit product, since ticks * 1e9 overflows 64 bits. */
static uint64_t ticks_ns(uint64_t ticks)
{
	return (uint64_t)((unsigned __int128)ticks * 1000000000u / tsc_hz());
}

/* Nanoseconds since this instance started (its wall_tsc). */
static uint64_t since_start_ns(void)
{
	uint64_t base = sg_load(&sg_ctrl()->wall_tsc), now = sg_rdtsc();

	return now > base ? ticks_ns(now - base) : 0;
}

static uint64_t realtime_ns(void)
{
	return sg_load(&sg_ctrl()->wall_ns) + since_start_ns();
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
	uint64_t ns;

	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
		ns = realtime_ns();
		break;
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
		ns = sure_now_ns();
		break;
	case CLOCK_PROCESS_CPUTIME_ID:
	case CLOCK_THREAD_CPUTIME_ID:
		ns = since_start_ns(); /* the VM runs nothing else */
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (!ts) {
		errno = EFAULT;
		return -1;
	}
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
	return 0;
}

int clock_getres(clockid_t clock, struct timespec *res)
{
	if (clock < CLOCK_REALTIME || clock > CLOCK_BOOTTIME) {
		errno = EINVAL;
		return -1;
	}
	if (res) {
		res->tv_sec = 0;
		res->tv_nsec = 1;
	}
	return 0;
}

int timespec_get(struct timespec *ts, int base)
{
	if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) < 0)
		return 0;
	return base;
}

time_t time(time_t *out)
{
	time_t t = (time_t)(realtime_ns() / 1000000000u);

	if (out)
		*out = t;
	return t;
}

int gettimeofday(struct timeval *tv, void *tz)
{
	uint64_t ns = realtime_ns();

	(void)tz;
	if (tv) {
		tv->tv_sec = (time_t)(ns / 1000000000u);
		tv->tv_usec = (suseconds_t)(ns % 1000000000u / 1000u);
	}
	return 0;
}

clock_t clock(void)
{
	return (clock_t)(since_start_ns() / (1000000000u / CLOCKS_PER_SEC));
}
