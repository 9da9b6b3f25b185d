/*
 * channel.c - see channel.h. Both sleeps use the Dekker pattern: each side
 * stores its own flag, issues a full fence, then reads the other side's, so
 * at least one of them sees the other and nobody sleeps through a wake-up.
 */
#include "channel.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_SPIN_NS 30000u /* ~2 guest exits' worth; keeps warm calls off futexes */

void sure_channel_init(struct sure_channel *ch, struct sure_ctrl *ctrl, uint32_t io_cap)
{
	memset(ch, 0, sizeof(*ch));
	ch->ctrl = ctrl;
	ch->io_cap = io_cap;
	ch->spin_ns = DEFAULT_SPIN_NS;
	ch->slots = 1;
	ch->seq = sure_load(&ctrl->req_seq);
	ch->done = ch->seq;
	ch->notify_fd = -1;
}

void sure_channel_set_queue(struct sure_channel *ch, uint32_t slots, uint32_t withdraw)
{
	ch->queue = 1;
	ch->withdraw = withdraw ? 1 : 0;
	ch->slots = slots < 1 ? 1 : slots > SURE_IO_QUEUE_MAX ? SURE_IO_QUEUE_MAX : slots;
}

static uint64_t remaining(uint64_t deadline_ns, uint64_t now)
{
	if (deadline_ns == UINT64_MAX)
		return UINT64_MAX;
	return deadline_ns > now ? deadline_ns - now : 0;
}

/*
 * Sleeps on the event word until cond(ch) holds, the channel dies or the
 * deadline passes. host_waiting is raised first so the guest rings NOTIFY.
 */
static int wait_event(struct sure_channel *ch, uint64_t deadline_ns,
		      int (*cond)(struct sure_channel *))
{
	int rc = 0;

	for (;;) {
		uint32_t ev = sure_load(&ch->event);

		sure_store(&ch->ctrl->host_waiting, 1);
		sure_fence();
		if (cond(ch))
			break;
		if (sure_channel_dead(ch)) {
			rc = -EPIPE;
			break;
		}
		uint64_t left = remaining(deadline_ns, sure_now_ns());
		if (left == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		sure_futex_wait(&ch->event, ev, left);
	}
	sure_store(&ch->ctrl->host_waiting, 0);
	return rc;
}

static int is_ready(struct sure_channel *ch)
{
	return sure_load(&ch->ctrl->ready) == 1;
}

int sure_channel_wait_ready(struct sure_channel *ch, uint64_t deadline_ns)
{
	return wait_event(ch, deadline_ns, is_ready);
}

static void reap(struct sure_channel *ch);

/* Bit s: a request in flight uses slot s. */
static uint32_t slots_used(const struct sure_channel *ch)
{
	uint32_t used = 0, n = sure_channel_inflight(ch);

	for (uint32_t k = 1; k <= n && k <= SURE_IO_QUEUE_MAX; k++)
		used |= 1u << ch->slot_of[(ch->done + k) % SURE_IO_QUEUE_MAX];
	return used;
}

int sure_channel_free_slot(struct sure_channel *ch)
{
	reap(ch);
	uint32_t used = slots_used(ch);

	for (uint32_t s = 0; s < ch->slots; s++)
		if (!(used & (1u << s)))
			return (int)s;
	return -EBUSY;
}

/* The request's fields where this guest reads them. */
static void write_request(struct sure_channel *ch, uint32_t seq, const struct sure_io_req *req)
{
	struct sure_ctrl *c = ch->ctrl;

	if (ch->queue) {
		c->io_req[seq % SURE_IO_QUEUE_MAX] = *req;
		return;
	}
	c->req_len = req->len;
	c->req_tsc = req->tsc;
	c->req_trace = req->trace;
}

static int post(struct sure_channel *ch, const struct sure_io_req *req)
{
	if (sure_channel_dead(ch))
		return -EPIPE;
	if (req->slot >= ch->slots)
		return -EINVAL;
	reap(ch);
	if (sure_channel_inflight(ch) >= ch->slots || (slots_used(ch) & (1u << req->slot)))
		return -EBUSY;
	return 0;
}

int sure_channel_begin(struct sure_channel *ch, const struct sure_io_req *req)
{
	uint32_t idle = 0;

	if (req->len > ch->io_cap)
		return -E2BIG;
	if (!__atomic_compare_exchange_n(&ch->posting, &idle, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return -EBUSY;
	int rc = post(ch, req);
	if (rc < 0) {
		sure_store(&ch->posting, 0);
		return rc;
	}
	uint32_t seq = ch->seq + 1;
	ch->slot_of[seq % SURE_IO_QUEUE_MAX] = (uint8_t)req->slot;
	write_request(ch, seq, req);
	/* Release: the guest that sees the new seq also sees the request above
	 * and its body. */
	sure_store(&ch->ctrl->req_seq, seq);
	sure_store(&ch->seq, seq);
	sure_fence();
	ch->woke_guest = sure_load(&ch->vcpu_sleeping);
	if (ch->woke_guest) {
		__atomic_add_fetch(&ch->guest_wake, 1, __ATOMIC_RELEASE);
		sure_futex_wake(&ch->guest_wake);
	}
	sure_store(&ch->posting, 0);
	return 0;
}

/* The guest answered the oldest request in flight: resp_seq is at or past it
 * and no further than the last one posted (a guest that writes any other
 * value has answered nothing). */
static int oldest_answered(const struct sure_channel *ch)
{
	uint32_t n = sure_load(&ch->ctrl->resp_seq) - ch->done;

	return n >= 1 && n <= sure_channel_inflight(ch);
}

/* The oldest request in flight leaves it, with its withdrawal (cleared on the
 * page before its entry can be used again). */
static void retire_oldest(struct sure_channel *ch)
{
	uint32_t e = (ch->done + 1) % SURE_IO_QUEUE_MAX;

	if (ch->withdrawn[e]) {
		ch->withdrawn[e] = 0;
		sure_store(&ch->ctrl->io_withdrawn[e], 0);
	}
	sure_store(&ch->done, ch->done + 1);
}

/* Answers to requests surely withdrawn are dropped as they come: nobody
 * waits for them, and their slots are free again. */
static void reap(struct sure_channel *ch)
{
	while (sure_channel_inflight(ch) > 0 &&
	       ch->withdrawn[(ch->done + 1) % SURE_IO_QUEUE_MAX] == SURE_WD_GONE && oldest_answered(ch))
		retire_oldest(ch);
}

/* The oldest request in flight that somebody waits for was answered. */
static int answered(struct sure_channel *ch)
{
	reap(ch);
	return oldest_answered(ch);
}

/* After answered(): the answer's fields copied once into ch->ans, and its
 * length (or -EPROTO past io_cap). */
static int take_answer(struct sure_channel *ch)
{
	struct sure_ctrl *c = ch->ctrl;

	/* resp_seq was read with acquire: these are the guest's final word. */
	if (ch->queue) {
		const struct sure_io_resp *r = &c->io_resp[(ch->done + 1) % SURE_IO_QUEUE_MAX];
		ch->ans.len = __atomic_load_n(&r->len, __ATOMIC_RELAXED);
		ch->ans.status = __atomic_load_n(&r->status, __ATOMIC_RELAXED);
		ch->ans.reason = __atomic_load_n(&r->reason, __ATOMIC_RELAXED);
		ch->ans.rc = __atomic_load_n(&r->rc, __ATOMIC_RELAXED);
	} else {
		ch->ans.len = __atomic_load_n(&c->resp_len, __ATOMIC_RELAXED);
		ch->ans.status = __atomic_load_n(&c->resp_status, __ATOMIC_RELAXED);
		ch->ans.reason = __atomic_load_n(&c->resp_reason, __ATOMIC_RELAXED);
		ch->ans.rc = __atomic_load_n(&c->resp_rc, __ATOMIC_RELAXED);
	}
	/* Only a request the host asked about may say it did not run. */
	if (ch->ans.reason == SURE_REASON_WITHDRAWN &&
	    ch->withdrawn[(ch->done + 1) % SURE_IO_QUEUE_MAX] != SURE_WD_ASKED)
		return -EPROTO;
	return ch->ans.len > ch->io_cap ? -EPROTO : (int)ch->ans.len;
}

int sure_channel_wait(struct sure_channel *ch, uint64_t deadline_ns)
{
	/*
	 * A spinning guest usually answers within microseconds: spin before a
	 * futex. Not after waking a sleeping vCPU thread, though: the scheduler
	 * tends to put it on this very CPU (wake-affine), where our spinning
	 * would keep it from running for a whole time slice (measured: ~40 us
	 * without spinning, ~0.6 ms with 100 us of spinning).
	 */
	uint64_t spin_end = sure_now_ns() + (ch->woke_guest ? 0 : ch->spin_ns);
	int rc = 0;

	while (!answered(ch)) {
		/* Re-check after seeing dead: an answer that came just before a crash counts. */
		if (sure_channel_dead(ch)) {
			if (!answered(ch))
				return -EPIPE;
			break;
		}
		uint64_t now = sure_now_ns();
		if (now >= spin_end || now >= deadline_ns) {
			rc = wait_event(ch, deadline_ns, answered);
			break;
		}
		__builtin_ia32_pause();
	}
	if (rc < 0)
		return rc;
	return take_answer(ch);
}

int sure_channel_poll(struct sure_channel *ch, int arm)
{
	/* Raised before looking, so an answer after the look rings NOTIFY. */
	sure_store(&ch->ctrl->host_waiting, arm ? 1 : 0);
	if (arm)
		sure_fence();
	if (!answered(ch))
		return sure_channel_dead(ch) ? -EPIPE : -EAGAIN;
	return take_answer(ch);
}

void sure_channel_end(struct sure_channel *ch)
{
	if (sure_channel_inflight(ch) > 0)
		retire_oldest(ch);
	reap(ch);
}

int sure_channel_withdraw(struct sure_channel *ch, uint32_t keep)
{
	uint32_t n = sure_channel_inflight(ch), kept = 0, asked = 0, gone = 0;

	if (!ch->withdraw)
		return -ENOTSUP;
	if (keep < 1)
		keep = 1;
	/* Dekker with the guest's loop (sure_abi.h): ask first, then look. The
	 * oldest `keep` the caller waits for stay (requests gone from an earlier
	 * call are not the caller's), and so do those asked before: what is
	 * asked now is the newest of the caller's. Bit k-1: request done + k. */
	for (uint32_t k = 1; k <= n; k++) {
		uint32_t e = (ch->done + k) % SURE_IO_QUEUE_MAX;
		if (ch->withdrawn[e] == SURE_WD_GONE)
			continue;
		if (kept < keep) {
			kept++;
			continue;
		}
		if (ch->withdrawn[e])
			continue;
		ch->withdrawn[e] = SURE_WD_ASKED;
		sure_store(&ch->ctrl->io_withdrawn[e], 1);
		asked |= 1u << (k - 1);
	}
	if (!asked)
		return 0;
	sure_fence();
	/* Requests in flight the guest began, as it says (its word can only
	 * keep its own requests waiting, or let it run ones it gave back). */
	uint32_t began = sure_load(&ch->ctrl->started_seq) - ch->done;
	if (began > n)
		began = 0; /* none in flight: it began none of them */
	for (uint32_t k = began + 1; k <= n; k++) {
		if (!(asked & (1u << (k - 1))))
			continue;
		ch->withdrawn[(ch->done + k) % SURE_IO_QUEUE_MAX] = SURE_WD_GONE;
		gone++;
	}
	return (int)gone;
}

void sure_channel_notify(struct sure_channel *ch)
{
	uint64_t one = 1;

	__atomic_add_fetch(&ch->event, 1, __ATOMIC_RELEASE);
	sure_futex_wake(&ch->event);
	int fd = __atomic_load_n(&ch->notify_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so the poller wakes anyway. */
	}
}

void sure_channel_sleep(struct sure_channel *ch, uint32_t seen)
{
	for (;;) {
		uint32_t w = sure_load(&ch->guest_wake);

		sure_store(&ch->vcpu_sleeping, 1);
		sure_fence();
		if (sure_load(&ch->seq) != seen || sure_channel_dead(ch))
			break;
		sure_futex_wait(&ch->guest_wake, w, UINT64_MAX);
	}
	__atomic_store_n(&ch->resumed_ns, sure_now_ns(), __ATOMIC_RELEASE);
	sure_store(&ch->vcpu_sleeping, 0);
}

void sure_channel_kill(struct sure_channel *ch)
{
	sure_store(&ch->dead, 1);
	sure_fence();
	__atomic_add_fetch(&ch->guest_wake, 1, __ATOMIC_RELEASE);
	sure_futex_wake(&ch->guest_wake);
	sure_channel_notify(ch);
}
