/*
 * test_shm.c - guest memory helpers: a memfd mapped twice shows the same
 * bytes (what makes host views of guest RAM and shared pools work), sizes
 * round up to pages, and sure_stats counts every mapped byte.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "libsure.h"
#include "shm.h"

static void test_same_bytes_twice(void)
{
	struct sure_shm a;
	uint8_t *b = NULL;

	CHECK_EQ(sure_shm_create(&a, "test", 3 * 4096), 0);
	CHECK_EQ(sure_shm_map(a.fd, a.size, &b), 0);
	CHECK(b != NULL && b != a.map);
	strcpy((char *)a.map + 4096, "written through a");
	CHECK(strcmp((char *)b + 4096, "written through a") == 0);
	b[3 * 4096 - 1] = 0x5a;
	CHECK_EQ(a.map[3 * 4096 - 1], 0x5a);
	CHECK_EQ(a.map[0], 0); /* fresh memfds read as zero */
	sure_shm_unmap(b, a.size);
	sure_shm_destroy(&a);
	CHECK_EQ(a.fd, -1);
	CHECK(a.map == NULL);
}

static void test_rounding_and_errors(void)
{
	struct sure_shm a;

	CHECK_EQ(sure_shm_create(&a, "test", 1), 0);
	CHECK_EQ(a.size, 4096);
	sure_shm_destroy(&a);
	CHECK_EQ(sure_shm_create(&a, "test", 0), -EINVAL);
	CHECK_EQ(a.fd, -1);
	sure_shm_destroy(&a); /* harmless on a failed create */
}

static void test_accounting(void)
{
	uint64_t s0[3], s1[3], s2[3];
	struct sure_shm a;

	check_process_stats(s0);
	CHECK_EQ(sure_shm_create(&a, "test", 5 * 4096), 0);
	check_process_stats(s1);
	CHECK_EQ(s1[2] - s0[2], 5 * 4096);
	sure_shm_destroy(&a);
	check_process_stats(s2);
	CHECK_EQ(s2[2], s0[2]);
}

int main(void)
{
	RUN(test_same_bytes_twice);
	RUN(test_rounding_and_errors);
	RUN(test_accounting);
	return CHECK_DONE();
}
