/*
 * test_logring.c - draining the guest log ring: whole lines only, partial
 * lines wait, wrap-around, a line that can never complete, and a guest that
 * lies about its head.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "logring.h"

#define SIZE 64u

struct fixture {
	struct sure_ctrl ctrl;
	uint8_t ring[SIZE];
	struct sure_logring lr;
};

static void init(struct fixture *f, uint32_t start)
{
	memset(f, 0, sizeof(*f));
	sure_logring_init(&f->lr, &f->ctrl, f->ring, SIZE);
	/* Start both counters at `start`, as if that much had been logged already. */
	f->lr.tail = start;
	f->ctrl.log_head = start;
}

/* What the guest does: append bytes at head % SIZE, then publish head. */
static void put(struct fixture *f, const char *s)
{
	for (size_t i = 0; s[i]; i++) {
		f->ring[f->ctrl.log_head % SIZE] = (uint8_t)s[i];
		f->ctrl.log_head++;
	}
}

static void test_whole_lines(void)
{
	struct fixture f;
	uint8_t buf[128];

	init(&f, 0);
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 0);
	put(&f, "one\ntwo\nthr");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 8);
	CHECK(memcmp(buf, "one\ntwo\n", 8) == 0);
	CHECK_EQ(f.ctrl.log_tail, 8);
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 0); /* "thr" waits */
	put(&f, "ee\n");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 6);
	CHECK(memcmp(buf, "three\n", 6) == 0);
}

static void test_small_buffer(void)
{
	struct fixture f;
	uint8_t buf[6];

	init(&f, 0);
	put(&f, "ab\ncd\nef\n");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 6);
	CHECK(memcmp(buf, "ab\ncd\n", 6) == 0);
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "ef\n", 3) == 0);
	/* A line longer than the caller's buffer comes out cut rather than stall. */
	put(&f, "0123456789\n");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 6);
	CHECK(memcmp(buf, "012345", 6) == 0);
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "6789\n", 5) == 0);
}

static void test_wrap_around(void)
{
	struct fixture f;
	uint8_t buf[128];

	init(&f, SIZE - 3); /* the next line straddles the end of the ring */
	put(&f, "wrapped line\n");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 13);
	CHECK(memcmp(buf, "wrapped line\n", 13) == 0);
	/* And across the uint32 wrap of the counters (SIZE divides 2^32). */
	init(&f, UINT32_MAX - 4);
	put(&f, "counter wraps\n");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 14);
	CHECK(memcmp(buf, "counter wraps\n", 14) == 0);
	CHECK_EQ(f.lr.tail, 9u);
}

static void test_full_ring_without_newline(void)
{
	struct fixture f;
	uint8_t buf[128];
	char line[SIZE + 1];

	init(&f, 0);
	memset(line, 'x', SIZE);
	line[SIZE] = 0;
	put(&f, line);
	/* The ring is full and holds no line end: the guest could never finish it. */
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), SIZE);
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 0);
}

static void test_corrupt_head(void)
{
	struct fixture f;
	uint8_t buf[128];

	init(&f, 100);
	f.ctrl.log_head = 100 + SIZE + 1; /* claims more than the ring holds */
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 0);
	CHECK_EQ(f.lr.resets, 1);
	CHECK_EQ(f.lr.tail, 100 + SIZE + 1);
	put(&f, "fine again\n");
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 11);
	CHECK(memcmp(buf, "fine again\n", 11) == 0);
	/* Head moved backwards: unsigned distance is huge, same treatment. */
	f.ctrl.log_head -= 5;
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 0);
	CHECK_EQ(f.lr.resets, 2);
	/* The guest scribbling log_tail does not move the host's tail. */
	put(&f, "ok\n");
	f.ctrl.log_tail = 12345;
	CHECK_EQ(sure_logring_drain(&f.lr, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "ok\n", 3) == 0);
	CHECK_EQ(f.ctrl.log_tail, f.lr.tail);
}

static void test_null_buffer(void)
{
	struct fixture f;

	init(&f, 0);
	put(&f, "x\n");
	CHECK_EQ(sure_logring_drain(&f.lr, NULL, 0), 0);
	CHECK_EQ(f.lr.tail, 0);
}

int main(void)
{
	RUN(test_whole_lines);
	RUN(test_small_buffer);
	RUN(test_wrap_around);
	RUN(test_full_ring_without_newline);
	RUN(test_corrupt_head);
	RUN(test_null_buffer);
	return CHECK_DONE();
}
