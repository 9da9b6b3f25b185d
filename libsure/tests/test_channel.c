/*
 * test_channel.c - the host side of the request/response handshake, with a
 * plain thread playing the guest over a calloc'ed struct sure_ctrl: normal
 * answers (fast and after the host went to sleep), a sleeping guest woken by
 * a request, timeout, bogus resp_len, busy, too big, dead; and ABI 7's
 * request queue: several posted at once, answered in order from their slots,
 * and no answer the guest writes ahead of the requests or after the host
 * took it counts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "check.h"
#include "util.h"

#define IO_CAP 4096u
#define MS 1000000ull

enum mode { ANSWER, ANSWER_LATE, SILENT, BOGUS_LEN };

struct fake {
	struct sure_channel ch;
	struct sure_ctrl *ctrl;
	enum mode mode;
	int sleepy; /* use the SLEEP path (sure_channel_sleep) instead of spinning */
	int queue; /* ABI 7: answer every request posted, from io_req into io_resp */
	pthread_t thread;
	uint32_t handled;
};

/* The guest: waits for each new req_seq, answers with resp_len = req_len + 1. */
static void *fake_guest(void *p)
{
	struct fake *f = p;
	struct sure_ctrl *c = f->ctrl;
	uint32_t seen = 0;

	sure_store(&c->ready, 1);
	sure_fence();
	if (sure_load(&c->host_waiting))
		sure_channel_notify(&f->ch);
	while (!sure_channel_dead(&f->ch)) {
		uint32_t seq = sure_load(&c->req_seq);
		if (seq == seen) {
			if (f->sleepy) {
				sure_store(&c->guest_state, SURE_GUEST_SLEEPING);
				/* what the vCPU thread does on the SLEEP doorbell */
				sure_channel_notify(&f->ch);
				sure_channel_sleep(&f->ch, seen);
				sure_store(&c->guest_state, SURE_GUEST_IDLE);
			} else {
				__builtin_ia32_pause();
			}
			continue;
		}
		if (f->mode == SILENT) {
			seen = seq;
			continue;
		}
		if (f->mode == ANSWER_LATE)
			usleep(5000); /* long enough for the host to stop spinning */
		/* Every request since the last answered, in order (one when not queued). */
		for (uint32_t n = f->queue ? seen + 1 : seq; n != seq + 1; n++) {
			const struct sure_io_req *in = &c->io_req[n % SURE_IO_QUEUE_MAX];
			struct sure_io_resp *out = &c->io_resp[n % SURE_IO_QUEUE_MAX];
			uint32_t len = f->mode == BOGUS_LEN ? IO_CAP + 1
					: f->queue	       ? in->len + 1 + 100 * in->slot
							       : c->req_len + 1;
			if (f->queue) {
				out->len = len;
				out->status = 201;
			} else {
				c->resp_len = len;
				c->resp_status = 201;
			}
			/* Counted before it is answered: the host may read the count as
			 * soon as it sees the answer (it read 999 of 1000 once). */
			__atomic_add_fetch(&f->handled, 1, __ATOMIC_RELAXED);
			sure_store(&c->resp_seq, n);
		}
		seen = seq;
		sure_fence();
		if (sure_load(&c->host_waiting))
			sure_channel_notify(&f->ch);
	}
	return NULL;
}

static struct fake *start_queue(enum mode mode, int sleepy, uint32_t slots)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->ctrl = calloc(1, sizeof(*f->ctrl));
	f->mode = mode;
	f->sleepy = sleepy;
	f->queue = slots > 0;
	sure_channel_init(&f->ch, f->ctrl, IO_CAP);
	if (slots)
		sure_channel_set_queue(&f->ch, slots, 0);
	pthread_create(&f->thread, NULL, fake_guest, f);
	return f;
}

static struct fake *start(enum mode mode, int sleepy)
{
	return start_queue(mode, sleepy, 0);
}

/* Posts len bytes in slot `slot`. */
/* A channel over a fresh control page (free() it), with ABI 7's queue of
 * `slots` (0: the single-request protocol) and ABI 8's withdrawals. */
static struct sure_ctrl *queue_channel(struct sure_channel *ch, uint32_t slots, uint32_t withdraw)
{
	struct sure_ctrl *c = calloc(1, sizeof(*c));

	sure_channel_init(ch, c, IO_CAP);
	if (slots)
		sure_channel_set_queue(ch, slots, withdraw);
	return c;
}

static int begin(struct sure_channel *ch, uint32_t len, uint32_t slot)
{
	struct sure_io_req req = { .slot = slot, .len = len };

	return sure_channel_begin(ch, &req);
}

static void stop(struct fake *f)
{
	sure_channel_kill(&f->ch);
	pthread_join(f->thread, NULL);
	free(f->ctrl);
	free(f);
}

static uint64_t in_ms(uint64_t ms)
{
	return sure_now_ns() + ms * MS;
}

static int call(struct sure_channel *ch, uint32_t len, uint64_t timeout_ms)
{
	int rc = begin(ch, len, 0);

	if (rc < 0)
		return rc;
	rc = sure_channel_wait(ch, in_ms(timeout_ms));
	sure_channel_end(ch);
	return rc;
}

static void test_ready(void)
{
	struct fake *f = start(ANSWER, 0);

	CHECK_EQ(sure_channel_wait_ready(&f->ch, in_ms(1000)), 0);
	CHECK_EQ(f->ctrl->host_waiting, 0);
	stop(f);
}

static void test_ready_timeout_and_death(void)
{
	struct sure_channel ch;
	struct sure_ctrl *c = queue_channel(&ch, 0, 0);
	uint64_t t0 = sure_now_ns();
	CHECK_EQ(sure_channel_wait_ready(&ch, in_ms(20)), -ETIMEDOUT);
	CHECK(sure_now_ns() - t0 >= 20 * MS);
	sure_channel_kill(&ch);
	CHECK_EQ(sure_channel_wait_ready(&ch, in_ms(1000)), -EPIPE);
	CHECK_EQ(begin(&ch, 1, 0), -EPIPE);
	free(c);
}

static void test_answers(void)
{
	struct fake *f = start(ANSWER, 0);

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	for (uint32_t i = 0; i < 1000; i++)
		CHECK_EQ(call(&f->ch, i % IO_CAP, 1000), (int)(i % IO_CAP) + 1);
	CHECK_EQ(__atomic_load_n(&f->handled, __ATOMIC_RELAXED), 1000);
	CHECK_EQ(f->ctrl->resp_status, 201);
	stop(f);
}

static void test_late_answer_wakes_host(void)
{
	struct fake *f = start(ANSWER_LATE, 0);

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	for (int i = 0; i < 5; i++)
		CHECK_EQ(call(&f->ch, 10, 1000), 11);
	CHECK_EQ(f->ctrl->host_waiting, 0);
	stop(f);
}

static void test_sleeping_guest_is_woken(void)
{
	struct fake *f = start(ANSWER, 1);

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	for (int i = 0; i < 200; i++) {
		if (i % 20 == 0)
			usleep(2000); /* let it fall asleep */
		CHECK_EQ(call(&f->ch, 7, 1000), 8);
	}
	stop(f);
}

static void test_timeout(void)
{
	struct fake *f = start(SILENT, 0);

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	uint64_t t0 = sure_now_ns();
	CHECK_EQ(call(&f->ch, 1, 30), -ETIMEDOUT);
	uint64_t dt = sure_now_ns() - t0;
	CHECK(dt >= 30 * MS && dt < 300 * MS);
	stop(f);
}

static void test_bogus_len(void)
{
	struct fake *f = start(BOGUS_LEN, 0);

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	CHECK_EQ(call(&f->ch, 1, 1000), -EPROTO);
	stop(f);
}

static void test_busy_and_too_big(void)
{
	struct fake *f = start(SILENT, 0);

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	CHECK_EQ(begin(&f->ch, IO_CAP + 1, 0), -E2BIG);
	CHECK_EQ(begin(&f->ch, 1, 1), -EINVAL); /* one slot: there is no slot 1 */
	CHECK_EQ(begin(&f->ch, 1, 0), 0);
	CHECK_EQ(begin(&f->ch, 1, 0), -EBUSY);
	sure_channel_end(&f->ch);
	stop(f);
}


static void *kill_later(void *p)
{
	usleep(10000);
	sure_channel_kill(p);
	return NULL;
}

static void test_death_wakes_waiter(void)
{
	struct fake *f = start(SILENT, 0);
	pthread_t t;

	sure_channel_wait_ready(&f->ch, in_ms(1000));
	pthread_create(&t, NULL, kill_later, &f->ch);
	uint64_t t0 = sure_now_ns();
	CHECK_EQ(call(&f->ch, 1, 5000), -EPIPE);
	CHECK(sure_now_ns() - t0 < 1000 * MS);
	pthread_join(t, NULL);
	stop(f);
}

static void test_guest_cannot_fake_seq(void)
{
	/* A guest that scribbles req_seq cannot make the host accept a stale answer. */
	struct sure_channel ch;
	struct sure_ctrl *c = queue_channel(&ch, 0, 0);
	CHECK_EQ(begin(&ch, 1, 0), 0);
	c->req_seq = 41; /* guest lies */
	c->resp_seq = 41;
	CHECK_EQ(sure_channel_wait(&ch, in_ms(5)), -ETIMEDOUT);
	sure_channel_end(&ch);
	free(c);
}

/* Four requests in flight, each in its own slot, answered in order. */
static void test_queue_answers_in_order(void)
{
	struct fake *f = start_queue(ANSWER, 1, 4);
	struct sure_channel *ch = &f->ch;

	sure_channel_wait_ready(ch, in_ms(1000));
	for (int round = 0; round < 200; round++) {
		for (uint32_t k = 0; k < 4; k++) {
			int slot = sure_channel_free_slot(ch);
			CHECK_EQ(slot, (int)k); /* the lowest free */
			CHECK_EQ(begin(ch, 10 + k, (uint32_t)slot), 0);
		}
		CHECK_EQ(sure_channel_free_slot(ch), -EBUSY);
		CHECK_EQ(begin(ch, 1, 0), -EBUSY);
		for (uint32_t k = 0; k < 4; k++) {
			CHECK_EQ(sure_channel_oldest_slot(ch), k);
			CHECK_EQ(sure_channel_wait(ch, in_ms(1000)), (int)(10 + k + 1 + 100 * k));
			CHECK_EQ(ch->ans.status, 201);
			sure_channel_end(ch);
		}
		CHECK_EQ(sure_channel_inflight(ch), 0);
		if (round % 20 == 0)
			usleep(2000); /* let it fall asleep */
	}
	CHECK_EQ(__atomic_load_n(&f->handled, __ATOMIC_RELAXED), 800);
	stop(f);
}

/* A slot frees when its request's answer is taken, not before; a slot in use
 * or past the queue is refused. */
static void test_queue_slots(void)
{
	struct sure_channel ch;
	struct sure_ctrl *c = queue_channel(&ch, 3, 0);

	CHECK_EQ(begin(&ch, 1, 1), 0);
	CHECK_EQ(begin(&ch, 1, 1), -EBUSY); /* slot 1 is in use */
	CHECK_EQ(begin(&ch, 1, 3), -EINVAL);
	CHECK_EQ(sure_channel_free_slot(&ch), 0);
	CHECK_EQ(begin(&ch, 2, 0), 0);
	CHECK_EQ(sure_channel_free_slot(&ch), 2);
	CHECK_EQ(c->io_req[1].slot, 1u);
	CHECK_EQ(c->io_req[2].slot, 0u);
	CHECK_EQ(c->io_req[2].len, 2u);
	/* The guest answers the first: slot 1 frees only once it is taken. */
	c->io_resp[1].len = 5;
	sure_store(&c->resp_seq, 1);
	CHECK_EQ(sure_channel_poll(&ch, 0), 5);
	CHECK_EQ(sure_channel_free_slot(&ch), 2);
	sure_channel_end(&ch);
	CHECK_EQ(sure_channel_free_slot(&ch), 1);
	CHECK_EQ(sure_channel_oldest_slot(&ch), 0u);
	CHECK_EQ(sure_channel_poll(&ch, 0), -EAGAIN);
	sure_channel_end(&ch); /* nothing answered: the host's own bug, still one request */
	sure_channel_end(&ch);
	CHECK_EQ(sure_channel_inflight(&ch), 0);
	sure_channel_end(&ch); /* nothing in flight: no effect */
	CHECK_EQ(sure_channel_inflight(&ch), 0);
	free(c);
}

/* Whatever the guest writes: no answer to a request not posted, and an
 * answer is read once (what the guest writes after does not change it). */
static void test_queue_guest_cannot_answer_ahead(void)
{
	struct sure_channel ch;
	struct sure_ctrl *c = queue_channel(&ch, 2, 0);

	CHECK_EQ(begin(&ch, 1, 0), 0);
	for (uint32_t lie = 2; lie < 40; lie++) { /* ahead of the one request */
		c->resp_seq = lie;
		CHECK_EQ(sure_channel_poll(&ch, 0), -EAGAIN);
	}
	c->resp_seq = 0xffffffffu; /* behind it */
	CHECK_EQ(sure_channel_poll(&ch, 0), -EAGAIN);
	c->io_resp[1].len = IO_CAP + 1;
	c->resp_seq = 1;
	CHECK_EQ(sure_channel_poll(&ch, 0), -EPROTO);
	c->io_resp[1].len = 7;
	c->io_resp[1].status = 204;
	CHECK_EQ(sure_channel_poll(&ch, 0), 7);
	c->io_resp[1].len = IO_CAP + 9; /* too late: the host has its copy */
	c->io_resp[1].status = 999;
	CHECK_EQ(ch.ans.len, 7u);
	CHECK_EQ(ch.ans.status, 204);
	free(c);
}

/* The guest's answer to request n, as its loop writes it. */
static void guest_answers(struct sure_ctrl *c, uint32_t n, uint32_t len, uint32_t reason)
{
	c->io_resp[n % SURE_IO_QUEUE_MAX].len = len;
	c->io_resp[n % SURE_IO_QUEUE_MAX].reason = reason;
	sure_store(&c->resp_seq, n);
}

/* Posts n (slot 0) and n + 1 (slot 1); the guest begins n, the host
 * withdraws n + 1, then takes n's answer: n + 1 is left gone, unanswered. */
static void leave_one_gone(struct sure_channel *ch, struct sure_ctrl *c, uint32_t n)
{
	CHECK_EQ(begin(ch, 1, 0), 0);
	CHECK_EQ(begin(ch, 1, 1), 0);
	c->started_seq = n;
	CHECK_EQ(sure_channel_withdraw(ch, 1), 1);
	guest_answers(c, n, 2, SURE_REASON_HANDLER);
	CHECK_EQ(sure_channel_poll(ch, 0), 2);
	sure_channel_end(ch);
}

/* ABI 8: the requests behind the oldest that the guest did not begin are
 * surely withdrawn, and their answers never reach the caller; one it may
 * have begun stays, and its answer says; only a withdrawn one may say
 * WITHDRAWN; a guest that cannot is never asked. */
static void test_queue_withdraw(void)
{
	struct sure_channel ch;
	struct sure_ctrl *c = queue_channel(&ch, 4, 0);

	CHECK_EQ(begin(&ch, 1, 0), 0);
	CHECK_EQ(begin(&ch, 1, 1), 0);
	CHECK_EQ(sure_channel_withdraw(&ch, 1), -ENOTSUP);
	CHECK_EQ(c->io_withdrawn[2], 0u);
	free(c);

	c = queue_channel(&ch, 4, 1);
	/* Requests 1..3; the guest began 1: 2 and 3 are surely withdrawn. */
	for (uint32_t k = 0; k < 3; k++)
		CHECK_EQ(begin(&ch, 1, k), 0);
	c->started_seq = 1;
	CHECK_EQ(sure_channel_withdraw(&ch, 1), 2);
	CHECK_EQ(c->io_withdrawn[1], 0u);
	CHECK_EQ(c->io_withdrawn[2], 1u);
	CHECK_EQ(c->io_withdrawn[3], 1u);
	CHECK_EQ(sure_channel_withdraw(&ch, 1), 0); /* asked once */
	CHECK_EQ(sure_channel_free_slot(&ch), 3); /* their slots wait for their answers */
	guest_answers(c, 2, 0, SURE_REASON_WITHDRAWN);
	guest_answers(c, 3, 0, SURE_REASON_WITHDRAWN);
	guest_answers(c, 1, 5, SURE_REASON_HANDLER); /* resp_seq stays at 3 below */
	sure_store(&c->resp_seq, 3);
	CHECK_EQ(sure_channel_poll(&ch, 0), 5);
	sure_channel_end(&ch);
	CHECK_EQ(sure_channel_inflight(&ch), 0);
	CHECK_EQ(c->io_withdrawn[2], 0u);
	CHECK_EQ(c->io_withdrawn[3], 0u);
	CHECK_EQ(sure_channel_free_slot(&ch), 0);

	/* 4 and 5; the guest answered 4 and began 5: maybe run, its answer says. */
	CHECK_EQ(begin(&ch, 1, 0), 0);
	CHECK_EQ(begin(&ch, 1, 1), 0);
	c->started_seq = 5;
	CHECK_EQ(sure_channel_withdraw(&ch, 1), 0);
	CHECK_EQ(c->io_withdrawn[5], 1u);
	guest_answers(c, 4, 1, SURE_REASON_HANDLER);
	guest_answers(c, 5, 0, SURE_REASON_WITHDRAWN);
	CHECK_EQ(sure_channel_poll(&ch, 0), 1);
	sure_channel_end(&ch);
	CHECK_EQ(sure_channel_poll(&ch, 0), 0);
	CHECK_EQ(ch.ans.reason, (uint32_t)SURE_REASON_WITHDRAWN);
	sure_channel_end(&ch);
	CHECK_EQ(c->io_withdrawn[5], 0u);

	/* 6, never withdrawn, says it was: a protocol fault. */
	CHECK_EQ(begin(&ch, 1, 0), 0);
	guest_answers(c, 6, 0, SURE_REASON_WITHDRAWN);
	CHECK_EQ(sure_channel_poll(&ch, 0), -EPROTO);
	sure_channel_end(&ch);

	/* 7 and 8, 8 withdrawn and not answered yet; then 9 in the free slot:
	 * its answer, not 8's, is the next the caller sees. */
	leave_one_gone(&ch, c, 7);
	CHECK_EQ(sure_channel_inflight(&ch), 1); /* 8 holds slot 1 */
	CHECK_EQ(sure_channel_free_slot(&ch), 0);
	CHECK_EQ(begin(&ch, 1, 2), 0);
	CHECK_EQ(sure_channel_poll(&ch, 0), -EAGAIN);
	guest_answers(c, 8, IO_CAP + 1, SURE_REASON_HANDLER); /* whatever it says */
	CHECK_EQ(sure_channel_poll(&ch, 0), -EAGAIN);
	guest_answers(c, 9, 3, SURE_REASON_HANDLER);
	CHECK_EQ(sure_channel_poll(&ch, 0), 3);
	CHECK_EQ(sure_channel_oldest_slot(&ch), 2u);
	sure_channel_end(&ch);
	CHECK_EQ(sure_channel_inflight(&ch), 0);

	/* 10 and 11, 11 withdrawn and not answered when 10's answer is taken;
	 * then 12 and 13: the oldest the caller waits for is 12, which stays
	 * even when the guest has not begun it yet. */
	leave_one_gone(&ch, c, 10);
	CHECK_EQ(begin(&ch, 1, 0), 0);
	CHECK_EQ(begin(&ch, 1, 2), 0);
	CHECK_EQ(sure_channel_inflight(&ch), 3);
	CHECK_EQ(sure_channel_withdraw(&ch, 1), 1); /* 13; started_seq still says 10 */
	CHECK_EQ(c->io_withdrawn[12 % SURE_IO_QUEUE_MAX], 0u);
	CHECK_EQ(c->io_withdrawn[13 % SURE_IO_QUEUE_MAX], 1u);
	guest_answers(c, 11, 0, SURE_REASON_WITHDRAWN);
	guest_answers(c, 13, 0, SURE_REASON_WITHDRAWN);
	guest_answers(c, 12, 5, SURE_REASON_HANDLER);
	sure_store(&c->resp_seq, 13);
	CHECK_EQ(sure_channel_poll(&ch, 0), 5);
	CHECK_EQ(sure_channel_oldest_slot(&ch), 0u);
	sure_channel_end(&ch);
	CHECK_EQ(sure_channel_inflight(&ch), 0);

	/* A started_seq that names no request in flight: it began none. */
	for (uint32_t k = 0; k < 4; k++)
		CHECK_EQ(begin(&ch, 1, k), 0);
	c->started_seq = 12345;
	CHECK_EQ(sure_channel_withdraw(&ch, 1), 3);
	c->started_seq = 0;
	CHECK_EQ(sure_channel_withdraw(&ch, 2), 0); /* all behind were asked */
	free(c);
}

int main(void)
{
	RUN(test_ready);
	RUN(test_ready_timeout_and_death);
	RUN(test_answers);
	RUN(test_late_answer_wakes_host);
	RUN(test_sleeping_guest_is_woken);
	RUN(test_timeout);
	RUN(test_bogus_len);
	RUN(test_busy_and_too_big);
	RUN(test_death_wakes_waiter);
	RUN(test_guest_cannot_fake_seq);
	RUN(test_queue_answers_in_order);
	RUN(test_queue_slots);
	RUN(test_queue_guest_cannot_answer_ahead);
	RUN(test_queue_withdraw);
	return CHECK_DONE();
}
