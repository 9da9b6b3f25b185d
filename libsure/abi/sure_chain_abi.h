/*
 * sure_chain_abi.h - the chain data plane shared by the host and the guests
 * of one function chain: a per-chain pool of buffers, descriptor rings
 * between the chain's VMs and the gateway, and a read-only table the host
 * keeps for the guests.
 *
 * Two memfds per chain, mapped in the host and in every VM of the chain:
 *   SURE_META_GPA  struct sure_chain_meta + slot table   guest READ-ONLY
 *   SURE_POOL_GPA  header, node pages, rings, buffers    see below
 *
 * Who may touch what in the pool is decided per VM by the page tables the
 * host builds (the guest runs at CPL3 and never sees its page tables):
 *   - ring(from -> to) (struct sure_ring: head and descriptors) is writable
 *     only in `from`'s VM, read-only in `to`'s, absent from every other VM;
 *   - node n's page (struct sure_node_state: its sleeping flag and the tails
 *     of the rings into n) is writable only in n's VM, read-only in the VMs
 *     that produce into n, absent elsewhere;
 *   - the buffers and head blocks are read-write in every step; under
 *     request-level isolation (meta->colours) each slot's share and head
 *     block carry a key of their own, which the gate opens only in the step
 *     that holds that request.
 * So a descriptor on ring(from -> to) was written by `from`, whatever it says.
 * All but the buffers and head blocks, and the table, carry the chain's
 * protection key (sure_gate_abi.h): only the gate's code touches them, where
 * guests have keys not even the step's own function.
 *
 * A request in flight owns one "slot": two extents of contiguous buffers
 * (ext 0 holds the request body, ext 1 is the fresh buffer a function may
 * write its output to; later functions ping-pong between them or work in
 * place). The host allocates and frees extents; guests never allocate, so a
 * guest can never corrupt the allocator. Hand-off moves a 64-byte descriptor
 * through an SPSC ring; bytes are never copied between functions.
 *
 * Holding a request is proven by its capability: 128 random bits the host
 * draws for each allocation and puts only in the descriptors that carry the
 * request. The table publishes a one-way check of it (sure_cap.h), so a
 * consumer can tell a real descriptor from a forged one, and the host checks
 * the capability itself on every completion. A step the request never passed
 * through cannot read the rings that carried it, so it cannot name it.
 */
#ifndef SURE_CHAIN_ABI_H
#define SURE_CHAIN_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif


#define SURE_META_GPA 0x60000000ull
#define SURE_META_MAX (16u << 20)
#define SURE_POOL_GPA 0x80000000ull
#define SURE_POOL_MAX (1ull << 30)

#define SURE_CHAIN_MAX_STEPS 16
/* Requests in flight per chain at most (the slot table below). */
#define SURE_CHAIN_MAX_SLOTS 4096u
/* Largest pool of buffers: every VM of the chain maps it and its page tables cover it. */
#define SURE_CHAIN_POOL_MAX_BYTES (256ull << 20)
/* Largest buffer; buffers are whole pages. */
#define SURE_CHAIN_BUF_MAX (1u << 20)
/* A chain step's request/response areas: it moves data through the pool, not these. */
#define SURE_CHAIN_IO_CAP 4096u
/* sure_node_state.holding for request slot at generation gen (never 0). */
#define SURE_HOLDING(slot, gen) (1ull + (uint64_t)(uint32_t)(slot) + ((uint64_t)(uint16_t)(gen) << 32))

/* Ring node numbers: steps are 0..nsteps-1, the gateway is SURE_NODE_GW. */
#define SURE_NODE_GW SURE_CHAIN_MAX_STEPS
#define SURE_NODES (SURE_CHAIN_MAX_STEPS + 1)
/* Ring r(from, to) = from * SURE_NODES + to, for the edges the meta allows. */
#define SURE_RING_INDEX(from, to) ((from) * SURE_NODES + (to))
#define SURE_RING_SLOTS 1024u /* power of two; >= nslots so a push never waits */
#define SURE_MAX_HOPS 64u /* a request handed on more often is answered 508 */
#define SURE_STEP_NAME 32

/* Doorbells (offsets in the SURE_DOORBELL_GPA page, see sure_abi.h). */
#define SURE_DOORBELL_WAKE 0x18 /* data: node to wake (a step, or SURE_NODE_GW) */
/* BOGUS data: the node that sent a bogus descriptor (bits 0..15) and the
 * descriptor's position in ring(that node -> reporter) (bits 32..63), which
 * the host reads itself before it believes the report. */
#define SURE_DOORBELL_BOGUS 0x20

#ifndef __ASSEMBLER__

/* W3C trace context (also used by plain instances, in sure_ctrl) of one request: trace-id, parent-id, trace-flags. */
struct sure_trace {
	uint8_t trace_id[16]; /* all zero: no trace */
	uint8_t parent_id[8]; /* the span that called this hop */
	uint8_t flags;
	uint8_t pad[7];
};

/* One hand-off. */
struct sure_desc {
	uint32_t slot; /* request slot */
	uint32_t len; /* bytes of data at the start of the extent */
	uint16_t gen; /* must equal meta slot gen, else the request is stale: drop it */
	uint8_t ext; /* 0 or 1: which extent of the slot holds the data */
	uint8_t hops; /* hand-offs so far */
	uint16_t status; /* HTTP status, on the way to the gateway (0 = 200) */
	uint16_t from; /* node that pushed it */
	uint64_t tsc; /* producer's TSC at push, for per-hop latency */
	uint32_t reason; /* enum sure_reason (sure_abi.h): who answered, on the way to the gateway */
	int32_t rc; /* handle()'s return value when reason is SURE_REASON_FAILED */
	uint64_t cap[2]; /* the request's capability, passed on unchanged */
	uint8_t parent_id[8]; /* trace context: the span of the hop that pushed it */
	uint64_t pad;
};

/* Single producer, single consumer; head and tail are free-running counters.
 * The producer's part: head and the descriptors, on pages of their own. The
 * consumer's tail is in its node page (sure_node_state.tail[from]). */
struct sure_ring {
	_Alignas(64) volatile uint32_t head; /* producer: next write */
	_Alignas(64) struct sure_desc d[SURE_RING_SLOTS];
};
/* Rings are laid out one every SURE_RING_STRIDE bytes (whole pages). */
#define SURE_RING_STRIDE ((sizeof(struct sure_ring) + 4095) & ~(uint64_t)4095)

/* What node n writes: one page, writable only in n's VM (the gateway's and
 * other nodes' steps': only by the host). */
struct sure_node_state {
	_Alignas(4096) volatile uint32_t sleeping; /* 1: the node sleeps; producers ring WAKE */
	/* 1: the host consumes this node's rings (the gateway, a step another
	 * node runs), on a CPU of its own: a hand-off to it rings WAKE at once
	 * even where steps defer their rings (sure_ctrl.defer_wake). */
	volatile uint32_t host;
	/* Counts the node's sleeps, raised before each sleeping = 1 (and by the
	 * host each time it wakes for an always-sleeping node): a producer rings
	 * WAKE once per sleep, not once per hand-off, since each ring is an exit. */
	volatile uint64_t sleeps;
	struct {
		_Alignas(64) volatile uint32_t v;
	} tail[SURE_NODES]; /* tail[from]: consumer's next read of ring(from -> n) */
	/* SURE_HOLDING(slot, gen) while the node's handler has that request, 0
	 * otherwise: written by the step's gate when it gives the handler a
	 * request and when the handler gives it back. The host believes a
	 * step holds a request it took only when the step says so here, in its
	 * own page: a step that held a request before cannot make another one
	 * look like its holder (chain_holder.c).
	 * On a line of its own: the step writes it twice per request, and
	 * those who read `sleeping` above should not miss their line for it. */
	_Alignas(64) volatile uint64_t holding;
};

/* Start of the pool memfd (one page, read-only in the guests). Node pages
 * follow at meta->node_off, rings at meta->ring_off, then the buffers. */
struct sure_pool_hdr {
	uint32_t magic; /* SURE_POOL_MAGIC */
	uint32_t pad;
};

struct sure_step_meta {
	char name[SURE_STEP_NAME]; /* function name, NUL terminated */
	uint32_t default_next; /* next node when the function does not choose */
	uint32_t n_next;
	uint16_t next[SURE_NODES]; /* nodes this step may hand to (gateway = finish) */
	uint32_t n_in;
	uint16_t in[SURE_NODES]; /* nodes that may hand to this step */
};

/* One cache line per slot: a consumer that checks a descriptor reads one
 * line the host wrote, not two. */
struct sure_slot_meta {
	_Alignas(64) uint32_t first[2]; /* first buffer of each extent */
	uint32_t nbuf; /* buffers per extent (both the same) */
	uint16_t gen; /* bumped by the host at every allocation and cancel */
	uint16_t live; /* 1 while a request owns the slot */
	uint64_t check; /* sure_cap_check(cap, slot, gen) of the request's capability */
	uint64_t start_tsc; /* TSC at which the node took the request (deadlines) */
	uint8_t trace_id[16]; /* W3C trace id of the request; all zero: no trace */
	uint8_t trace_flags;
	uint8_t pad[7];
};

struct sure_chain_meta {
	uint32_t magic; /* SURE_META_MAGIC */
	uint32_t nsteps;
	uint32_t nslots; /* <= SURE_CHAIN_MAX_SLOTS and <= SURE_RING_SLOTS */
	uint32_t nbuf; /* buffers in the pool */
	uint32_t buf_size; /* bytes per buffer, multiple of 4096 */
	/* Request-level isolation (0: off): slots 0..colours-1 only, slot s with
	 * the buffers [s * colour_bufs, (s + 1) * colour_bufs) and its head block
	 * under protection key SURE_PKEY_COLOUR0 + s, opened by the gate only
	 * while its step holds that request. */
	uint32_t colours;
	uint32_t colour_bufs;
	uint32_t pad;
	uint64_t pool_size; /* bytes of the pool memslot */
	uint64_t node_off; /* offset of node 0's page (struct sure_node_state) in the pool */
	uint64_t ring_off; /* offset of ring 0 in the pool; ring i at ring_off + i * SURE_RING_STRIDE */
	uint64_t buf_off; /* offset of buffer 0 in the pool (page aligned) */
	/* offset of the head blocks in the pool (sure_http_abi.h): slot s has
	 * its request head at head_off + s * SURE_SLOT_HEAD_SIZE, its response
	 * head SURE_REQ_HEAD_CAP bytes further */
	uint64_t head_off;
	struct sure_step_meta step[SURE_CHAIN_MAX_STEPS];
	struct sure_slot_meta slot[]; /* nslots entries */
};

#define SURE_POOL_MAGIC 0x4c4f4f50u /* "POOL" */
#define SURE_META_MAGIC 0x4154454du /* "META" */

/* Per-instance chain statistics, in the instance's own control page. */
struct sure_chain_stats {
	uint64_t handled; /* descriptors processed by this step */
	uint64_t handoffs; /* descriptors pushed (to steps or the gateway) */
	uint64_t handoff_tsc_sum; /* sum of (pop TSC - producer TSC) over popped descs */
	uint32_t handoff_hist[32]; /* log2 buckets of that delta in TSC ticks */
	uint64_t stale; /* stale descriptors dropped */
	uint64_t bogus; /* bogus descriptors reported */
	/* Bytes this step's answers put into the other extent (written out
	 * rather than transformed in place): the only bytes a hand-off moves. */
	uint64_t copied;
};

_Static_assert(sizeof(struct sure_desc) == 64, "a descriptor is one cache line");
_Static_assert(sizeof(struct sure_slot_meta) == 64, "a slot's entry is one cache line");
_Static_assert(sizeof(struct sure_node_state) == 4096, "a node's page is one page");
_Static_assert(sizeof(struct sure_pool_hdr) <= 4096, "the pool header is one page");

#endif /* !__ASSEMBLER__ */
#endif
