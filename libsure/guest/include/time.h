/*
 * time.h - the wall clock and calendar of a function. CLOCK_REALTIME is the
 * host's clock as of this instance's start (boot or clone: a clone never
 * tells its template's time) carried forward by the TSC, read without a VM
 * exit. There are no time zones in a guest: localtime is gmtime (UTC) and
 * mktime is timegm.
 */
#ifndef SURE_TIME_H
#define SURE_TIME_H

#include <stddef.h>

typedef long time_t;
typedef long clock_t;
typedef int clockid_t;
typedef long suseconds_t;

struct timespec {
	time_t tv_sec;
	long tv_nsec;
};

struct tm {
	int tm_sec; /* 0..60 */
	int tm_min;
	int tm_hour;
	int tm_mday; /* 1..31 */
	int tm_mon; /* 0..11 */
	int tm_year; /* years since 1900 */
	int tm_wday; /* 0 = Sunday */
	int tm_yday; /* 0..365 */
	int tm_isdst; /* always 0 */
	long tm_gmtoff; /* always 0 (UTC) */
	const char *tm_zone; /* always "UTC" */
};

#define CLOCKS_PER_SEC 1000000L
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define TIME_UTC 1

/* Seconds since 1970-01-01 UTC. */
time_t time(time_t *out);
/* 0, or -1 with errno EINVAL for an unknown clock. Resolution: 1 ns. */
int clock_gettime(clockid_t clock, struct timespec *ts);
int clock_getres(clockid_t clock, struct timespec *res);
int timespec_get(struct timespec *ts, int base);
/* Time since this instance started (boot or clone), in CLOCKS_PER_SEC. */
clock_t clock(void);
double difftime(time_t end, time_t start);

struct tm *gmtime_r(const time_t *t, struct tm *out);
struct tm *gmtime(const time_t *t); /* one static struct tm */
struct tm *localtime_r(const time_t *t, struct tm *out); /* UTC */
struct tm *localtime(const time_t *t);
/* The inverse of gmtime; fields out of range are normalised (tm too). */
time_t timegm(struct tm *tm);
time_t mktime(struct tm *tm); /* UTC */
/* C locale names; %a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %m %M %n
 * %p %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%. */
size_t strftime(char *buf, size_t cap, const char *fmt, const struct tm *tm);
/* "Thu Jan  1 00:00:00 1970\n" into buf (26 bytes). */
char *asctime_r(const struct tm *tm, char *buf);
char *ctime_r(const time_t *t, char *buf);
char *asctime(const struct tm *tm); /* one static buffer */
char *ctime(const time_t *t);

#endif
