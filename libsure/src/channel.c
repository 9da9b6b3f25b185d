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
	ch->seq = sure_load(&ctrl->req_seq);
	ch->notify_fd = -1;
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

int sure_channel_begin(struct sure_channel *ch, uint32_t req_len)
{
	uint32_t idle = 0;

	if (req_len > ch->io_cap)
		return -E2BIG;
	if (!__atomic_compare_exchange_n(&ch->busy, &idle, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return -EBUSY;
	if (sure_channel_dead(ch)) {
		sure_store(&ch->busy, 0);
		return -EPIPE;
	}
	uint32_t seq = ch->seq + 1;
	ch->ctrl->req_len = req_len;
	/* Release: the guest that sees the new seq also sees req_len and the body. */
	sure_store(&ch->ctrl->req_seq, seq);
	sure_store(&ch->seq, seq);
	sure_fence();
	ch->woke_guest = sure_load(&ch->vcpu_sleeping);
	if (ch->woke_guest) {
		__atomic_add_fetch(&ch->guest_wake, 1, __ATOMIC_RELEASE);
		sure_futex_wake(&ch->guest_wake);
	}
	return 0;
}

static int answered(struct sure_channel *ch)
{
	return sure_load(&ch->ctrl->resp_seq) == ch->seq;
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
	/* resp_seq was read with acquire: resp_len is the guest's final word. */
	uint32_t len = __atomic_load_n(&ch->ctrl->resp_len, __ATOMIC_RELAXED);
	if (len > ch->io_cap)
		return -EPROTO;
	return (int)len;
}

int sure_channel_poll(struct sure_channel *ch, int arm)
{
	/* Raised before looking, so an answer after the look rings NOTIFY. */
	sure_store(&ch->ctrl->host_waiting, arm ? 1 : 0);
	if (arm)
		sure_fence();
	if (!answered(ch))
		return sure_channel_dead(ch) ? -EPIPE : -EAGAIN;
	uint32_t len = __atomic_load_n(&ch->ctrl->resp_len, __ATOMIC_RELAXED);
	if (len > ch->io_cap)
		return -EPROTO;
	return (int)len;
}

void sure_channel_end(struct sure_channel *ch)
{
	sure_store(&ch->busy, 0);
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
