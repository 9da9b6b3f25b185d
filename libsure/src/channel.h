/*
 * channel.h - the host side of the request/response handshake on struct
 * sure_ctrl (see sure_abi.h), kept apart from KVM so that a test can play
 * the guest with a plain thread.
 *
 * The host keeps its own copies of everything it relies on (the sequence
 * number it issued, busy/dead state, the futex words it sleeps on): the
 * control page is guest memory and the guest may scribble anything there.
 *
 *  invoker                          vCPU thread (or a fake guest thread)
 *  sure_channel_begin()  --------> guest sees req_seq change (spinning), or
 *                                  sure_channel_sleep() returns (sleeping)
 *  sure_channel_wait()   <-------- resp_seq = req_seq; NOTIFY if host_waiting
 *                                  -> sure_channel_notify()
 *  sure_channel_end()
 */
#ifndef SURE_CHANNEL_H
#define SURE_CHANNEL_H

#include <stdint.h>

#include "sure_abi.h"

struct sure_channel {
	struct sure_ctrl *ctrl; /* host view of the guest's control page */
	uint32_t io_cap;
	uint32_t spin_ns; /* how long the invoker spins before sleeping */
	uint32_t seq; /* last req_seq issued by the host */
	uint32_t busy; /* 1 while a request is in flight */
	uint32_t dead; /* 1 once the guest side can no longer answer */
	uint32_t event; /* futex: bumped on news from the guest side */
	uint32_t guest_wake; /* futex: the sleeping vCPU waits on this */
	uint32_t vcpu_sleeping; /* 1 while the vCPU thread sleeps (or is about to) */
	uint32_t woke_guest; /* the current request had to wake the vCPU thread */
	/* eventfd written on every notify (news, death), or -1: lets a poller
	 * such as the data plane's thread wait for many instances at once. */
	int notify_fd;
};

void sure_channel_init(struct sure_channel *ch, struct sure_ctrl *ctrl, uint32_t io_cap);

/* ---- invoker side ---- */

/*
 * Waits until the guest set ready = 1, the channel died (-EPIPE) or the
 * deadline (CLOCK_MONOTONIC ns, UINT64_MAX = none) passed (-ETIMEDOUT).
 */
int sure_channel_wait_ready(struct sure_channel *ch, uint64_t deadline_ns);
/* Claims the channel and posts a request of req_len bytes: 0, -EBUSY, -EPIPE, -E2BIG. */
int sure_channel_begin(struct sure_channel *ch, uint32_t req_len);
/*
 * Waits for the answer to the posted request: the response length, or
 * -ETIMEDOUT, -EPIPE (died meanwhile), -EPROTO (resp_len > io_cap).
 */
int sure_channel_wait(struct sure_channel *ch, uint64_t deadline_ns);
/* Releases the channel after sure_channel_wait (or sure_channel_poll). */
void sure_channel_end(struct sure_channel *ch);
/*
 * For a poller that never blocks here: after sure_channel_begin, returns what
 * sure_channel_wait would, or -EAGAIN while no answer came yet. arm: the
 * poller is about to sleep, so an answer after this look must ring NOTIFY
 * (notify_fd fires); 0: it is awake and looks again before it sleeps, so the
 * guest answers without that exit.
 */
int sure_channel_poll(struct sure_channel *ch, int arm);

/* ---- guest side (the vCPU thread) ---- */

/* The guest has news (NOTIFY, SLEEP, ready): wake whoever waits for it. */
void sure_channel_notify(struct sure_channel *ch);
/* Sleeps while the last request issued is still `seen` and the channel lives. */
void sure_channel_sleep(struct sure_channel *ch, uint32_t seen);
/* Marks the channel dead and wakes every waiter on both sides. Idempotent. */
void sure_channel_kill(struct sure_channel *ch);
static inline int sure_channel_dead(struct sure_channel *ch)
{
	return __atomic_load_n(&ch->dead, __ATOMIC_ACQUIRE);
}

#endif
