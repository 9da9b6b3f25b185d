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
	/* 1: the guest takes its requests from io_req (ABI 7) and may hold
	 * `slots` of them at once; 0: the single-request fields (one at a time). */
	uint32_t queue;
	uint32_t slots;
	uint32_t withdraw; /* 1: the guest honours io_withdrawn (ABI 8) */
	uint32_t seq; /* last req_seq issued by the host */
	uint32_t done; /* last request whose answer the host took (sure_channel_end) */
	uint32_t posting; /* 1 while a sure_channel_begin runs (one poster at a time) */
	uint32_t dead; /* 1 once the guest side can no longer answer */
	uint32_t event; /* futex: bumped on news from the guest side */
	uint32_t guest_wake; /* futex: the sleeping vCPU waits on this */
	uint32_t vcpu_sleeping; /* 1 while the vCPU thread sleeps (or is about to) */
	uint32_t woke_guest; /* the last request posted had to wake the vCPU thread */
	uint64_t resumed_ns; /* when the vCPU thread last came back from a sleep (CLOCK_MONOTONIC) */
	/* eventfd written on every notify (news, death), or -1: lets a poller
	 * such as the data plane's thread wait for many instances at once. */
	int notify_fd;
	/* The host's own record of the requests in flight: request n's slot at
	 * n % SURE_IO_QUEUE_MAX (the guest's copy in io_req is the guest's to
	 * rewrite), and a copy of the oldest one's answer, taken once (wait or
	 * poll) so that nothing the guest writes later changes what was read. */
	uint8_t slot_of[SURE_IO_QUEUE_MAX];
	/* Request n's withdrawal at n % SURE_IO_QUEUE_MAX: 0, SURE_WD_ASKED or
	 * SURE_WD_GONE (sure_channel_withdraw). */
	uint8_t withdrawn[SURE_IO_QUEUE_MAX];
	struct sure_io_resp ans;
};

/* Asked not to run, and it may have begun before it saw that: its answer
 * says (SURE_REASON_WITHDRAWN if it did not run). */
#define SURE_WD_ASKED 1
/* Surely not run: it is the caller's again, and its answer is dropped when
 * it comes. */
#define SURE_WD_GONE 2

/* A channel with the single-request protocol (images before ABI 7). */
void sure_channel_init(struct sure_channel *ch, struct sure_ctrl *ctrl, uint32_t io_cap);
/* Switches it to ABI 7's request queue of `slots` (1..SURE_IO_QUEUE_MAX)
 * before the first request; withdraw: the guest honours io_withdrawn (ABI 8). */
void sure_channel_set_queue(struct sure_channel *ch, uint32_t slots, uint32_t withdraw);

/* ---- invoker side ---- */

/*
 * Waits until the guest set ready = 1, the channel died (-EPIPE) or the
 * deadline (CLOCK_MONOTONIC ns, UINT64_MAX = none) passed (-ETIMEDOUT).
 */
int sure_channel_wait_ready(struct sure_channel *ch, uint64_t deadline_ns);
/* Requests posted and not yet answered (taken by sure_channel_end), the
 * withdrawn ones among them until their answer comes. */
static inline uint32_t sure_channel_inflight(const struct sure_channel *ch)
{
	return ch->seq - ch->done;
}
/* A slot no request in flight uses (the lowest), or -EBUSY if all are. */
int sure_channel_free_slot(struct sure_channel *ch);
/* The slot of the oldest request in flight (the one wait and poll look at). */
static inline uint32_t sure_channel_oldest_slot(const struct sure_channel *ch)
{
	return ch->slot_of[(ch->done + 1) % SURE_IO_QUEUE_MAX];
}
/*
 * Posts a request (its body already in slot req->slot): 0, -EBUSY (as many
 * in flight as slots, or that slot in use), -EPIPE, -E2BIG, -EINVAL (no
 * such slot).
 */
int sure_channel_begin(struct sure_channel *ch, const struct sure_io_req *req);
/*
 * Waits for the answer to the oldest request in flight: the response
 * length, or -ETIMEDOUT, -EPIPE (died meanwhile), -EPROTO (length > io_cap).
 * The answer's other fields are in ch->ans.
 */
int sure_channel_wait(struct sure_channel *ch, uint64_t deadline_ns);
/* Takes the oldest request's answer after sure_channel_wait (or
 * sure_channel_poll): its slot is free again. */
void sure_channel_end(struct sure_channel *ch);
/*
 * Asks the guest not to run the requests in flight after the oldest `keep`
 * (at least 1) that it was not asked about yet: returns how many of the
 * newest requests in flight surely will not run (SURE_WD_GONE), which the
 * caller takes back, newest last; wait and poll skip their answers. Those
 * it could not be sure of stay in flight: an answer with reason
 * SURE_REASON_WITHDRAWN says one did not run. -ENOTSUP: this guest cannot.
 */
int sure_channel_withdraw(struct sure_channel *ch, uint32_t keep);
/*
 * For a poller that never blocks here: with a request in flight, returns what
 * sure_channel_wait would, or -EAGAIN while no answer came yet. arm: the
 * poller is about to sleep, so an answer after this look must ring NOTIFY
 * (notify_fd fires); 0: it is awake and looks again before it sleeps, so the
 * guest answers without that exit.
 */
int sure_channel_poll(struct sure_channel *ch, int arm);

/* ---- guest side (the vCPU thread) ---- */

/* The guest has news (NOTIFY, SLEEP, ready): wake whoever waits for it. */
void sure_channel_notify(struct sure_channel *ch);
/* Sleeps while the last request issued is still `seen` (the last one the
 * guest answered) and the channel lives. */
void sure_channel_sleep(struct sure_channel *ch, uint32_t seen);
/* Marks the channel dead and wakes every waiter on both sides. Idempotent. */
void sure_channel_kill(struct sure_channel *ch);
static inline int sure_channel_dead(struct sure_channel *ch)
{
	return __atomic_load_n(&ch->dead, __ATOMIC_ACQUIRE);
}

#endif
