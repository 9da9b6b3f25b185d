/* sys/time.h - gettimeofday (the wall clock of time.h in microseconds). */
#ifndef SURE_SYS_TIME_H
#define SURE_SYS_TIME_H

#include <time.h>

struct timeval {
	time_t tv_sec;
	suseconds_t tv_usec;
};

/* tz must be NULL (there are no time zones in a guest); returns 0. */
int gettimeofday(struct timeval *tv, void *tz);

#endif
