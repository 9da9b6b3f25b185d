/*
 * stats.h - process-wide counters behind sure_stats(): what a leak check
 * compares before and after a batch of instance lifecycles.
 */
#ifndef SURE_STATS_H
#define SURE_STATS_H

#include <stdint.h>

enum sure_stat {
	SURE_STAT_INSTANCES = 0,
	SURE_STAT_VCPU_THREADS = 1,
	SURE_STAT_MAPPED_BYTES = 2,
	SURE_STAT_COUNT = 3,
};

void sure_stat_add(enum sure_stat s, int64_t delta);

#endif
