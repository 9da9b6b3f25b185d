/*
 * chain.h - struct sure_chain, shared by the three files of a chain:
 *   chain_pool.c     the pool and its table: set-up, request slots, buffers,
 *                    the nodes' eventfds
 *   chain_gateway.c  the node's side: submit, completions, copies in and out
 *   chain_step.c     the steps' side: the hooks a chain attaches to its
 *                    instances (struct sure_attach_ops), step templates
 *
 * Two locks, never held together: `lock` guards the request slots (state,
 * allocator, failure queue); `seat_lock` guards which instance holds each
 * step. Nothing calls into an instance's lifecycle or back into the chain
 * while either is held; a step to stop is noted under `lock` and stopped
 * after it is released (sure_chain_stop_steps).
 */
#ifndef SURE_CHAIN_H
#define SURE_CHAIN_H

#include <pthread.h>
#include <stdint.h>

#include "instance.h"
#include "libsure.h"
#include "pool.h"
#include "shm.h"
#include "sure_abi.h"
#include "sure_cap.h"

struct sure_instance;

/* Pool pages one step's VM maps (its page tables), at most. */
#define SURE_CHAIN_MAX_VIEWS (4 + 3 * SURE_NODES + 2 * SURE_CHAIN_COLOURS)

enum sure_slot_state {
	SLOT_FREE = 0,
	SLOT_INFLIGHT = 1,
	SLOT_DONE = 2, /* answered (an expiry: its completion queued in fq); waiting for take or free */
	SLOT_FAILED = 3, /* failure reported; waiting for free */
};

/* One step's seat: the instance that runs the step now, and the counters of
 * the instances that ran it before (so totals never go backwards). */
struct sure_chain_seat {
	struct sure_chain *chain;
	uint32_t step;
	struct sure_instance *inst; /* under seat_lock */
	/* The live instance's guest-reported counters as last folded in, and the
	 * running totals (see chain_step.c: kept monotonic and bounded). */
	uint64_t seen_handled, seen_handoffs, seen_copied;
	uint64_t handled, handoffs, copied;
	/* The step's limits as its last instance had them, and the host's own
	 * GCRA state for it (chain_admit.c): they outlive a restart. */
	uint32_t rate_per_sec, rate_burst, max_inflight, deadline_ms;
	uint64_t tsc_hz, rate_tat;
	/* Runaways (chain_runaway.c): the instance slept once since it started;
	 * since when it was seen awake with nothing to do (0: it was not). */
	int slept;
	uint64_t idle_since_ns;
	/* What its instance was told in sure_ctrl.defer_wake (the host's copy). */
	uint32_t defer_wake;
	/* The pool as this step's page tables show it (sure_chain_abi.h). */
	struct sure_view views[SURE_CHAIN_MAX_VIEWS];
	uint32_t nviews;
};

struct sure_chain {
	uint32_t nsteps, nslots, nbuf, buf_size;
	uint32_t colours, colour_bufs; /* request-level isolation (sure_chain_isolate), 0: off */
	struct sure_shm pool; /* per page, as each step's views say */
	struct sure_shm meta; /* read-only in the guests */
	struct sure_pool_hdr *hdr;
	struct sure_chain_meta *m;
	struct sure_node_state *nodes; /* node n's page */
	uint8_t *rings; /* ring i at rings + i * SURE_RING_STRIDE */
	uint8_t *bufs;
	uint8_t *heads; /* per slot: request head, response head (sure_http_abi.h) */

	pthread_mutex_t lock; /* request slots: state, allocator, failure queue */
	struct sure_pool_alloc alloc;
	uint8_t *state; /* enum sure_slot_state per slot: host-private truth */
	struct sure_completion *done; /* per slot: its completion, while SLOT_DONE */
	uint32_t *free_slots; /* stack of free slot numbers */
	uint32_t nfree_slots;
	struct sure_completion *fq; /* failures not yet reported, at most nslots */
	uint32_t fq_n;
	/* Per slot, host-private: the request's capability (only the rings that
	 * carry it hold it too) and its trace context as the last hop left it. */
	uint64_t (*cap)[2];
	struct sure_trace *trace;
	uint64_t rnd[512]; /* random bits for capabilities: one getrandom per 256 requests */
	uint32_t rnd_n;
	/* Holder scans (chain_holder.c): per slot, hops + 1 of the latest
	 * hand-off found (0: none), the node it went to, and whether that node
	 * has not taken it yet (still past its tail). */
	uint8_t *scan_hops;
	uint16_t *scan_node;
	uint8_t *scan_queued;
	/* Descriptors found forged or bogus by the host (a report it confirmed,
	 * or a completion), and reports of bogus descriptors it could not. */
	uint64_t bogus, unconfirmed;

	pthread_mutex_t seat_lock; /* seat[].inst and the seats' counters */
	struct sure_chain_seat seat[SURE_CHAIN_MAX_STEPS];

	/* Doorbells: eventfd per node (steps, and the gateway at SURE_NODE_GW). A
	 * guest's WAKE write lands on them inside KVM (KVM_IOEVENTFD) without an
	 * exit to this process; sleepers poll them. -1 for unused nodes. */
	int wake_fd[SURE_NODES];
	uint32_t sleeping[SURE_NODES]; /* host truth: the node's thread sleeps or is about to */
	/* Host truth: the steps whose rings this process consumes itself (those
	 * other nodes run), bit per step; it takes what is handed to them. */
	uint32_t host_takes;
	/* The host's count of each node's sleeps (sure_chain_sleeps, step_sleep),
	 * and 1 + the sleep the host's producers last rang for: a sleeper is
	 * rung once per sleep however many pushes reach it before it wakes. */
	uint64_t host_sleeps[SURE_NODES], rung[SURE_NODES];
	/* Bytes this process copied into the pool and out of it; requests answered. */
	uint64_t copied_in, copied_out, completed;
	uint64_t submitted; /* requests pushed into the chain (fresh ones), atomic */
	/* Some step has a deadline (chain_admit.c): the gateway's collect looks
	 * for requests queued too long, at most every SURE_DEADLINE_SCAN_NS. */
	uint32_t deadlines; /* atomic */
	uint64_t next_deadline_scan, next_runaway_scan; /* ns (sure_chain_due) */
	uint64_t runaways; /* steps stopped for running with nothing to do (seat_lock) */
};
#define SURE_DEADLINE_SCAN_NS 2000000ull

/* 1 (once, whichever thread asks first) when `now` reached *next, which
 * moves on by period: a look that runs at most every period, without a lock. */
static inline int sure_chain_due(uint64_t *next, uint64_t now, uint64_t period)
{
	uint64_t at = __atomic_load_n(next, __ATOMIC_RELAXED);

	return now >= at && __atomic_compare_exchange_n(next, &at, now + period, 0,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static inline struct sure_ring *sure_chain_ring(struct sure_chain *c, uint32_t from, uint32_t to)
{
	return (struct sure_ring *)(c->rings + (uint64_t)SURE_RING_INDEX(from, to) * SURE_RING_STRIDE);
}

/* The consumer's tail of ring(from -> to), in to's node page. */
static inline volatile uint32_t *sure_chain_tail(struct sure_chain *c, uint32_t from, uint32_t to)
{
	return &c->nodes[to].tail[from].v;
}

/* Bytes in each extent of a slot (both extents are the same size). */
static inline uint64_t sure_chain_extent_bytes(const struct sure_chain *c, uint32_t slot)
{
	return (uint64_t)c->m->slot[slot].nbuf * c->buf_size;
}

/* ---- chain_pool.c ---- */

/* Wakes a node's sleeper (its eventfd), whether or not it said it sleeps. */
void sure_chain_kick(struct sure_chain *c, uint32_t node);
/* Wakes a node that sleeps, once per sleep of its (the caller published what
 * it is woken for, then fenced: Dekker with the sleeper, which counts its
 * sleep, raises sleeping, fences, then looks). */
void sure_chain_wake_sleeper(struct sure_chain *c, uint32_t node);
/* Reads an eventfd empty. */
void sure_chain_drain_fd(int fd);
/* Marks an in-flight slot failed and queues its report. `lock` held. */
void sure_chain_fail_slot(struct sure_chain *c, uint32_t slot, uint16_t error, uint16_t node,
			  uint16_t status);

/* ---- chain_gateway.c ---- */

/* Failures, then completions from every ring into the gateway (up to max),
 * without waiting; steps that sent bogus descriptors are stopped. */
uint32_t sure_chain_collect(struct sure_chain *c, struct sure_completion *out, uint32_t max);
/* The same for the rings into node `to`: the gateway, or a step another node
 * runs (hand-offs: checked like completions, the slot stays in flight; node
 * is the sender, status the descriptor's as it is, 0 = not set). */
uint32_t sure_chain_collect_for(struct sure_chain *c, uint32_t to, struct sure_completion *out,
				uint32_t max);

/* Where sure_chain_push puts a descriptor, and what it carries. */
struct sure_chain_hop {
	uint32_t from, to; /* the ring; from may be SURE_NODE_GW */
	uint16_t status, hops;
	int fresh; /* a new request: its response head starts empty */
};
/* sure_chain_submit (hop NULL: gateway -> step 0, fresh) or a descriptor
 * pushed as if `from` had sent it (a request back from another node, or one
 * another node hands to a step here). */
int sure_chain_push(struct sure_chain *c, uint32_t slot, const uint8_t *body, uint32_t len,
		    const uint8_t *trace, const struct sure_chain_hop *hop);

/* ---- chain_admit.c ---- */

/* Fails, with its step's 504 deadline_exceeded, every request still queued
 * for a step this node runs (in a ring into it, past the step's tail) longer
 * than the step's deadline since the node took it. Takes seat_lock, then
 * `lock`: call with neither held. */
void sure_chain_expire_waiting(struct sure_chain *c);

/* ---- chain_step.c (also) ---- */

/* 1 if a ring into step has a descriptor the step has not taken. */
int sure_chain_step_has_work(struct sure_chain *c, uint32_t step);

/* ---- chain_holder.c ---- */
/* 1 if the chain's meta (read-only in the guests) lets `from` push to `to`
 * (the gateway feeds step 0): the routes its manifest gave. */
int sure_chain_edge(struct sure_chain *c, uint32_t from, uint32_t to);

enum sure_desc_verdict {
	SURE_DESC_OK = 0,
	SURE_DESC_STALE = 1, /* the slot moved on (freed, failed): nobody's fault */
	SURE_DESC_FORGED = 2, /* a live request's descriptor without its capability */
	SURE_DESC_BOGUS = 3, /* a request its sender held, with a broken descriptor */
};
/* Judges a descriptor found on ring(from -> to) against the host's own
 * state: what a consumer checks, with the capability itself. `lock` held. */
enum sure_desc_verdict sure_chain_judge(struct sure_chain *c, uint32_t from, uint32_t to,
					const struct sure_desc *d);
/* The node that holds a slot in flight, found from the rings (the latest
 * hand-off that carries its capability): SURE_NODE_GW when none is found.
 * *queued (if not NULL): 1 while that node has not taken the hand-off off
 * its ring yet. `lock` held. */
uint32_t sure_chain_holder(struct sure_chain *c, uint32_t slot, int *queued);
/* The host's own count of a new sleep of node (sure_chain_wake_sleeper rings
 * once per sleep): a step's vCPU thread's in step_sleep, a node the host
 * consumes in sure_chain_sleeps. */
static inline void sure_chain_host_sleep(struct sure_chain *c, uint32_t node)
{
	__atomic_store_n(&c->host_sleeps[node], c->host_sleeps[node] + 1, __ATOMIC_RELEASE);
}
/* A new sleep of node (before its sleeping flag is raised, or, for a node
 * that always says it sleeps, each time its doorbell woke the host and
 * before the host looks at its rings): producers ring WAKE once per sleep. */
static inline void sure_chain_sleeps(struct sure_chain *c, uint32_t node)
{
	__atomic_store_n(&c->nodes[node].sleeps, c->nodes[node].sleeps + 1, __ATOMIC_RELEASE);
	sure_chain_host_sleep(c, node);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
/* sure_chain_locate, and whether the step there has not taken it yet
 * (*queued may be NULL). Takes `lock`. */
int sure_chain_where(struct sure_chain *c, uint32_t slot, int *queued);
/* The same for every slot at once, into c->scan_node and c->scan_queued
 * (SURE_NODE_GW: none). */
void sure_chain_holders(struct sure_chain *c);

/* ---- chain_stats.c ---- */

/* Folds the seat's live instance's counters into its totals. seat_lock held. */
void sure_chain_seat_fold(struct sure_chain_seat *seat);

/* ---- chain_step.c ---- */

/* Wakes every step that sleeps while work waits in its rings (hand-offs
 * whose WAKE was deferred, sure_ctrl.defer_wake). No lock needed. */
void sure_chain_wake_deferred(struct sure_chain *c);

/* Stops the instances of the steps in mask (bit i: step i) as protocol
 * breakers. Takes seat_lock; call with `lock` released. */
void sure_chain_stop_steps(struct sure_chain *c, uint32_t mask);
/* A hand-off the chain's own checks passed but the node refuses (the
 * request is out at another node): counted as bogus, its sender stopped as
 * for any bogus descriptor. */
void sure_chain_refuse_sender(struct sure_chain *c, uint32_t step);
/* Stops step's instance for running past timeout_ms (its requests fail):
 * 0, or -ENOENT when no instance runs the step. */
int sure_chain_expire_step(struct sure_chain *c, uint32_t step, uint32_t timeout_ms);

#endif
