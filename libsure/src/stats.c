/* stats.c - see stats.h. Relaxed atomics: these are counters, not locks. */
#include "stats.h"

#include "libsure.h"

static uint64_t counters[SURE_STAT_COUNT];

void sure_stat_add(enum sure_stat s, int64_t delta)
{
	__atomic_add_fetch(&counters[s], (uint64_t)delta, __ATOMIC_RELAXED);
}

SURE_API void sure_stats(uint64_t *out)
{
	if (!out)
		return;
	for (int i = 0; i < SURE_STAT_COUNT; i++)
		out[i] = __atomic_load_n(&counters[i], __ATOMIC_RELAXED);
}
