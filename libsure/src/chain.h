/*
 * chain.h - struct sure_chain: a chain's pool, its read-only table for the
 * guests, the host's private view of every request slot, and the hooks the
 * vCPU threads of the chain's instances call.
 */
#ifndef SURE_CHAIN_H
#define SURE_CHAIN_H

#include <pthread.h>
#include <stdint.h>

#include "libsure.h"
#include "pool.h"
#include "shm.h"
#include "sure_chain_abi.h"

struct sure_instance;

enum sure_slot_state {
	SLOT_FREE = 0,
	SLOT_INFLIGHT = 1,
	SLOT_DONE = 2, /* completion reported; waiting for sure_chain_free */
	SLOT_FAILED = 3, /* failure reported; waiting for sure_chain_free */
};

struct sure_chain {
	uint32_t nsteps, nslots, nbuf, buf_size;
	struct sure_shm pool; /* RW in every VM of the chain */
	struct sure_shm meta; /* read-only in the guests */
	struct sure_pool_hdr *hdr;
	struct sure_chain_meta *m;
	struct sure_ring *rings;
	uint8_t *bufs;

	pthread_mutex_t lock; /* slots, allocator, failure queue, instances */
	struct sure_pool_alloc alloc;
	uint8_t *state; /* enum sure_slot_state per slot: host-private truth */
	uint32_t *free_slots; /* stack of free slot numbers */
	uint32_t nfree_slots;
	struct sure_completion *fq; /* failures not yet reported, at most nslots */
	uint32_t fq_n;
	struct sure_instance *inst[SURE_CHAIN_MAX_STEPS];

	/* Doorbells: eventfd per node (steps, and the gateway at SURE_NODE_GW). A
	 * guest's WAKE write lands on them inside KVM (KVM_IOEVENTFD) without an
	 * exit to this process; sleepers poll them. -1 for unused nodes. */
	int wake_fd[SURE_NODES];
	uint32_t sleeping[SURE_NODES]; /* host truth: the node's thread sleeps or is about to */
	uint64_t copied_in, copied_out, completed;
};

static inline struct sure_ring *sure_chain_ring(struct sure_chain *c, uint32_t from, uint32_t to)
{
	return &c->rings[SURE_RING_INDEX(from, to)];
}

/* ---- called by the vCPU threads of the chain's instances ---- */

/* SLEEP in chain mode: wait until an incoming ring has work or the instance dies. */
void sure_chain_sleep(struct sure_instance *inst);
/* WAKE doorbell: data names the node to wake. */
void sure_chain_wake_node(struct sure_chain *c, uint64_t node);
/* BOGUS doorbell from `reporter`: data = blamed node | (slot << 32). */
void sure_chain_bogus(struct sure_chain *c, uint32_t reporter, uint64_t data);
/* The step's instance stopped: fail every request it held. */
void sure_chain_step_died(struct sure_chain *c, uint32_t step);
/* Wakes the step's sleeping vCPU thread (kill, submit). */
void sure_chain_kick(struct sure_chain *c, uint32_t node);
/* Lets the guests of vm_fd ring WAKE inside KVM (best effort: else it is an MMIO exit). */
void sure_chain_register_doorbells(struct sure_chain *c, int vm_fd);
/* Forgets inst as its step's instance (destroy). */
void sure_chain_detach(struct sure_chain *c, uint32_t step, struct sure_instance *inst);

#endif
