/* stats.c - see stats.h. Relaxed atomics: these are counters, not locks. */
#include "stats.h"

#include <errno.h>

#include "libsure.h"

static uint64_t counters[SURE_STAT_COUNT];

void sure_stat_add(enum sure_stat s, int64_t delta)
{
	__atomic_add_fetch(&counters[s], (uint64_t)delta, __ATOMIC_RELAXED);
}

SURE_API int sure_stats(struct sure_process_stats *out, size_t size)
{
	if (!out || size != sizeof(*out))
		return -EINVAL;
	out->instances = __atomic_load_n(&counters[SURE_STAT_INSTANCES], __ATOMIC_RELAXED);
	out->vcpu_threads = __atomic_load_n(&counters[SURE_STAT_VCPU_THREADS], __ATOMIC_RELAXED);
	out->mapped_bytes = __atomic_load_n(&counters[SURE_STAT_MAPPED_BYTES], __ATOMIC_RELAXED);
	return 0;
}
