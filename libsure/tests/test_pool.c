/* test_pool.c - the host-private buffer allocator of chain pools. */
#include <errno.h>

#include "check.h"
#include "pool.h"

static void takes_runs_and_reuses_them(void)
{
	struct sure_pool_alloc a;

	CHECK_EQ(sure_pool_alloc_init(&a, 128), 0);
	CHECK_EQ(sure_pool_take(&a, 1), 0);
	CHECK_EQ(sure_pool_take(&a, 4), 1);
	CHECK_EQ(sure_pool_take(&a, 100), 5);
	CHECK_EQ(a.nfree, 128 - 105);
	sure_pool_give(&a, 1, 4);
	CHECK_EQ(a.nfree, 128 - 101);
	/* 23 left at the end, 4 in the hole: a run of 10 must come from the end. */
	CHECK_EQ(sure_pool_take(&a, 10), 105);
	/* Next fit wraps around to reuse the hole. */
	CHECK_EQ(sure_pool_take(&a, 13), 115);
	CHECK_EQ(sure_pool_take(&a, 4), 1);
	CHECK_EQ(a.nfree, 0);
	sure_pool_alloc_fini(&a);
}

static void exhaustion_and_fragmentation_say_enospc(void)
{
	struct sure_pool_alloc a;

	CHECK_EQ(sure_pool_alloc_init(&a, 64), 0);
	CHECK_EQ(sure_pool_take(&a, 65), -ENOSPC);
	CHECK_EQ(sure_pool_take(&a, 0), -ENOSPC);
	for (int i = 0; i < 64; i++)
		CHECK_EQ(sure_pool_take(&a, 1), i);
	CHECK_EQ(sure_pool_take(&a, 1), -ENOSPC);
	/* Free every other buffer: 32 free, but no run of 2. */
	for (int i = 0; i < 64; i += 2)
		sure_pool_give(&a, (uint32_t)i, 1);
	CHECK_EQ(a.nfree, 32);
	CHECK_EQ(sure_pool_take(&a, 2), -ENOSPC);
	CHECK_EQ(sure_pool_take(&a, 1) % 2, 0);
	sure_pool_alloc_fini(&a);
}

static void give_ignores_out_of_range(void)
{
	struct sure_pool_alloc a;

	CHECK_EQ(sure_pool_alloc_init(&a, 70), 0);
	CHECK_EQ(sure_pool_take(&a, 70), 0);
	sure_pool_give(&a, 69, 2); /* past the end: refused, nothing freed */
	sure_pool_give(&a, 1000, 1);
	CHECK_EQ(a.nfree, 0);
	sure_pool_give(&a, 0, 70);
	CHECK_EQ(a.nfree, 70);
	CHECK_EQ(sure_pool_take(&a, 70), 0);
	sure_pool_alloc_fini(&a);
}

int main(void)
{
	RUN(takes_runs_and_reuses_them);
	RUN(exhaustion_and_fragmentation_say_enospc);
	RUN(give_ignores_out_of_range);
	return CHECK_DONE();
}
