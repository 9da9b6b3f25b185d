/*
 * sure_abi.h - the contract between the host VMM (libsure) and the guest
 * library OS (libsure/guest). Both sides include this file; nothing else is
 * shared. Everything the guest writes here is untrusted by the host.
 *
 * Guest memory is identity mapped (guest virtual == guest physical).
 *
 *   0x000000  null page                     unmapped (catches NULL)
 *   0x001000  GDT + TSS                     supervisor RW NX
 *   0x002000  IDT                           supervisor R  NX
 *   0x003000  trap stubs                    supervisor R  X
 *   0x004000  trap stack (4 pages)          supervisor RW NX
 *   0x008000  control page (struct sure_ctrl) user RW NX, shared with host
 *   0x009000  log ring (SURE_LOG_SIZE)      user RW NX, shared with host
 *   0x00d000  sidecar page (struct sure_sidecar) user RW NX, shared with host,
 *                                           protection key SIDECAR (sure_gate_abi.h)
 *   0x010000  the gates (sure_gate_abi.h)   code, state, private data, stack
 *   0x020000  page tables                   not mapped at all
 *   0x400000  function image (ELF PT_LOADs) user, per segment (W^X)
 *     ...     heap                          user RW NX
 *     ...     guard page                    unmapped
 *   mem_top   stack (grows down)            user RW NX
 *   SURE_IO_GPA  io_slots request slots, each: request area, response
 *                area, request head, response head
 *                                           user RW NX, own memslot
 *                                           (heads: sure_http_abi.h)
 *   SURE_DOORBELL_GPA  doorbell page        user W, not backed: MMIO exit
 */
#ifndef SURE_ABI_H
#define SURE_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif
#include "sure_chain_abi.h"
#include "sure_gate_abi.h"
#include "sure_http_abi.h"

/* 2: templates; 3: library sidecar page, trace context; 4: fixed latency
 * buckets, descriptor reason, copied bytes per step; 5: HTTP head blocks,
 * environment, wall clock, handler return code and abort reason; 6: the
 * gates (sure_gate_abi.h): the sidecar and trace context move behind them;
 * 7: a plain instance's request queue (io_slots, io_req, io_resp); 8: a
 * request posted behind another can be withdrawn (io_withdrawn, started_seq,
 * SURE_REASON_WITHDRAWN) */
#define SURE_ABI_VERSION 8u
/* The oldest version whose images still run (through the single-request
 * fields of the control page: req_len .. resp_rc). */
#define SURE_ABI_OLDEST 5u
/* Images of this version still run where guests have no protection keys (its
 * library writes the sidecar page itself; everything else is the same). */
#define SURE_ABI_LEGACY 5u
#define SURE_PAGE_SIZE 0x1000ull

#define SURE_GDT_GPA 0x1000ull
#define SURE_IDT_GPA 0x2000ull
#define SURE_TRAP_GPA 0x3000ull
#define SURE_KSTACK_GPA 0x4000ull
#define SURE_KSTACK_TOP 0x8000ull
#define SURE_CTRL_GPA 0x8000ull
#define SURE_LOG_GPA 0x9000ull
/* A power of two, so that the free-running uint32 counters wrap cleanly. */
#define SURE_LOG_SIZE 0x4000u /* 16 KiB byte ring */
#define SURE_SIDECAR_GPA 0xd000ull
#define SURE_PT_GPA 0x20000ull
#define SURE_PT_END 0x400000ull

/* Function images must load entirely inside [IMAGE_BASE, IMAGE_LIMIT). */
#define SURE_IMAGE_BASE 0x400000ull
#define SURE_IMAGE_LIMIT 0x10000000ull /* 256 MiB: images are small */
#define SURE_IMAGE_MAX_FILE (64u << 20) /* largest image file accepted */

/* Guest memory size limits (MiB) and the stack carved from its top. */
#define SURE_MEM_MIN_MIB 8u
#define SURE_MEM_MAX_MIB 1024u
#define SURE_STACK_SIZE (256u << 10)

/* Doorbells: writes to this page are MMIO exits to the VMM. */
/* Above the largest RAM (SURE_MEM_MAX_MIB) and the largest I/O areas. */
#define SURE_DOORBELL_GPA 0x50000000ull
#define SURE_DOORBELL_SLEEP 0x0 /* data: last req_seq seen; sleep until it changes */
#define SURE_DOORBELL_NOTIFY 0x8 /* response ready (or init done) and host waits */
#define SURE_DOORBELL_EXIT 0x10 /* data: exit code; the guest gave up */
/* Init is done and snapshot_wanted is set: the host saves this vCPU and its
 * memory as the function's template. Clones resume right after this write. */
#define SURE_DOORBELL_SNAPSHOT 0x28

/* Shared request/response areas: their own memslot. */
#define SURE_IO_GPA 0x40000000ull
#define SURE_IO_MAX (64u << 20) /* per area */
/* One request slot: request body, response body (io_cap each), request
 * head, response head (sure_http_abi.h). Slot s starts at SURE_IO_GPA +
 * s * SURE_IO_BYTES(io_cap); the memslot holds io_slots of them. */
#define SURE_IO_BYTES(io_cap) (2ull * (io_cap) + SURE_SLOT_HEAD_SIZE)
/* Most requests a plain instance holds at once (ABI 7): a power of two, the
 * length of io_req and io_resp. The host gives an instance as many slots as
 * SURE_IO_QUEUE_BYTES of areas allow, at least one, at most this. */
#define SURE_IO_QUEUE_MAX 8u
#define SURE_IO_QUEUE_BYTES (5ull << 20)

/* Trap stubs report faults with an OUT to this port (from CPL0). */
#define SURE_TRAP_PORT 0xe0

/* GDT selectors (Linux-style so that user CS/SS look familiar). */
#define SURE_SEL_KCODE 0x08
#define SURE_SEL_KDATA 0x10
#define SURE_SEL_UDATA 0x2b
#define SURE_SEL_UCODE 0x33
#define SURE_SEL_TSS 0x40

#define SURE_CTRL_MAGIC 0x45525553u /* "SURE" */

/* Codes a guest passes to the EXIT doorbell. */
#define SURE_EXIT_ABORT 1 /* sure_abort() or abort() */
#define SURE_EXIT_BAD_CTRL 2 /* the control page did not match this library OS */

#ifndef __ASSEMBLER__

/* Why an answer did not come from the function's handler (resp_reason). */
enum sure_reason {
	SURE_REASON_HANDLER = 0,
	SURE_REASON_RATE = 1, /* the sidecar's rate limit refused it: 429 */
	SURE_REASON_INFLIGHT = 2, /* over the instance's concurrency limit: 429 */
	SURE_REASON_DEADLINE = 3, /* its deadline passed before it ran: 504 */
	SURE_REASON_FAILED = 4, /* handle() returned non-zero (resp_rc): 500, output dropped */
	/* ABI 8: the host withdrew it (io_withdrawn) before it began: it never
	 * ran, and the host gives it to another instance. Only for a request the
	 * host withdrew; any other is a protocol fault. */
	SURE_REASON_WITHDRAWN = 5,
};

/* Longest sure_abort() reason the node reports (bytes, NUL included). */
#define SURE_ABORT_REASON_MAX 256u
/* Largest environment block (sure_getenv): "KEY=VALUE\0" entries. */
#define SURE_ENV_MAX (64u << 10)

#define SURE_CACHELINE 64
#define SURE_REQ_RECORDS 32 /* power of two */

/*
 * Handler latency histogram: fixed upper bounds in nanoseconds, the same on
 * every machine, so that histograms of many nodes add up. Bucket i counts
 * handler runs of at most bound i (and more than bound i - 1); the last
 * bucket has no bound (+Inf). The host converts the bounds to TSC ticks
 * once (lat_bound_ticks) so the guest compares ticks and never divides.
 */
#define SURE_LAT_BOUNDS_NS                                                                  \
	1000ull, 2500ull, 5000ull, 10000ull, 25000ull, 50000ull, 100000ull, 250000ull,      \
		500000ull, 1000000ull, 2500000ull, 5000000ull, 10000000ull, 25000000ull,    \
		50000000ull, 100000000ull, 250000000ull, 500000000ull, 1000000000ull,       \
		2500000000ull, 5000000000ull, 10000000000ull
#define SURE_LAT_NBOUNDS 22
#define SURE_LAT_BUCKETS (SURE_LAT_NBOUNDS + 1) /* the last one is +Inf */

/* One request as the sidecar saw it (the last SURE_REQ_RECORDS are kept). */
struct sure_req_record {
	uint64_t tsc; /* when the sidecar took it */
	uint64_t ticks; /* handler run time (0 if refused) */
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* this hop's span */
	uint16_t status;
	uint8_t reason; /* enum sure_reason */
	uint8_t pad[5];
};

/*
 * The library sidecar's page: what Knative's queue-proxy does, inside the
 * instance. The host writes the limits before the first request; the guest
 * counts every request it admits or refuses. The host reads the counters
 * straight from guest memory, with no exit; they are untrusted numbers.
 */
struct sure_sidecar {
	/* written by the host */
	uint32_t enabled; /* 0: no admission control, no accounting (the "off" switch) */
	uint32_t max_inflight; /* 0: no limit; requests queued at this instance + running */
	uint32_t rate_per_sec; /* 0: no limit; token bucket refilled at this rate */
	uint32_t rate_burst; /* bucket size (at least 1) */
	uint64_t deadline_ticks; /* 0: none; TSC ticks a request may wait before it runs */
	uint64_t lat_bound_ticks[SURE_LAT_NBOUNDS]; /* SURE_LAT_BOUNDS_NS in TSC ticks */

	/* written by the guest */
	_Alignas(SURE_CACHELINE) uint64_t requests; /* seen: admitted + refused */
	uint64_t admitted;
	uint64_t rejected_rate;
	uint64_t rejected_inflight;
	uint64_t deadline_missed;
	uint64_t policy_denied; /* hand-offs the chain's routes forbid */
	uint64_t status_4xx;
	uint64_t status_5xx;
	uint64_t queue_depth; /* requests waiting at this instance right now */
	uint64_t max_queue_depth;
	uint64_t handler_ticks; /* sum of handler run times */
	uint64_t sidecar_ticks; /* the sidecar's own time: its whole cost */
	uint64_t latency_hist[SURE_LAT_BUCKETS]; /* by lat_bound_ticks; the last is +Inf */
	uint64_t records_written; /* free-running: record i is rec[i % SURE_REQ_RECORDS] */
	struct sure_req_record rec[SURE_REQ_RECORDS];
};

enum sure_guest_state {
	SURE_GUEST_INIT = 0,
	SURE_GUEST_IDLE = 1, /* spinning for the next request */
	SURE_GUEST_BUSY = 2, /* running the handler */
	SURE_GUEST_SLEEPING = 3, /* about to ring SLEEP: host must wake it */
};


/*
 * The control page. Fields are grouped by writer into separate cache lines
 * so that the host and the vCPU do not bounce lines they both write.
 * All seq fields wrap; equality is what matters.
 */
/* sure_ctrl.spin_us: the step polls and never sleeps. */
#define SURE_SPIN_FOREVER 0xffffffffu

/*
 * ABI 7: a plain instance's requests. Request n (the value req_seq takes
 * when it is posted) is io_req[n % SURE_IO_QUEUE_MAX], written by the host
 * before req_seq reaches n; its answer is io_resp[n % SURE_IO_QUEUE_MAX],
 * written by the guest before resp_seq reaches n. Requests are answered in
 * order, and the host never has more than io_slots posted and unanswered,
 * so no entry is reused while it is in use. The single-request fields
 * (req_len, req_tsc, req_trace, resp_len, resp_status, resp_reason,
 * resp_rc) are older images' protocol (SURE_ABI_OLDEST..6).
 */
struct sure_io_req {
	uint32_t slot; /* its areas: slot < io_slots */
	uint32_t len; /* request body bytes (<= io_cap) */
	uint64_t tsc; /* when the node took it (the sidecar's deadline clock) */
	struct sure_trace trace;
};

struct sure_io_resp {
	uint32_t len; /* response body bytes (<= io_cap) */
	int32_t status; /* HTTP status chosen by the function */
	uint32_t reason; /* enum sure_reason */
	int32_t rc; /* handle()'s return value when reason is FAILED */
};

struct sure_ctrl {
	/* written by the host once, before the vCPU first runs */
	uint32_t magic;
	uint32_t abi_version;
	uint64_t mem_size; /* bytes of guest RAM at GPA 0 */
	uint64_t heap_start;
	uint64_t heap_end;
	uint64_t req_gva; /* request area */
	uint64_t resp_gva; /* response area */
	uint32_t io_cap; /* bytes in each of the two areas */
	uint32_t log_size;
	uint64_t tsc_hz; /* 0 if unknown */

	/* written by the host per request */
	_Alignas(SURE_CACHELINE) uint32_t req_seq; /* bumped after req_len is set */
	uint32_t req_len;
	uint32_t host_waiting; /* 1: host sleeps on resp_seq, ring NOTIFY */
	uint32_t log_tail; /* host consumed log bytes up to here */

	/* written by the guest */
	_Alignas(SURE_CACHELINE) uint32_t resp_seq; /* = req_seq when done */
	uint32_t resp_len;
	int32_t resp_status; /* HTTP status chosen by the function */
	uint32_t guest_state; /* enum sure_guest_state */
	uint32_t ready; /* 1 once init is done */
	uint32_t log_head; /* guest produced log bytes up to here */
	uint32_t log_dropped; /* bytes the guest could not log */
	uint32_t pad0;
	uint64_t requests; /* handled so far */
	uint64_t busy_tsc; /* TSC ticks spent in handlers */
	struct sure_chain_stats chain; /* chain mode only */

	/* written by the host once (kept last so earlier offsets stay put):
	 * chain mode when chain_meta_gva != 0: the GVA of the read-only
	 * struct sure_chain_meta (SURE_META_GPA) and this instance's step */
	_Alignas(SURE_CACHELINE) uint64_t chain_meta_gva;
	uint32_t chain_step;
	uint32_t pad1;

	/* written by the host once per instance, before its vCPU (first) runs */
	_Alignas(SURE_CACHELINE) uint32_t snapshot_wanted; /* 1: ring SNAPSHOT after init */
	uint32_t instance_no; /* 0 for a boot, n for the n-th clone of a template */
	uint64_t instance_seed; /* fresh random bits: clones must not share RNG state */
	/* Wall clock: CLOCK_REALTIME in ns at the moment the host read TSC
	 * value wall_tsc (written for every boot and every clone, so a clone
	 * never tells its template's time). */
	uint64_t wall_ns;
	uint64_t wall_tsc;
	/* Written by the host at any time; read by a chain step each time it runs
	 * out of work: how long it polls its rings before it sleeps. 0: the
	 * default (50 us); SURE_SPIN_FOREVER: it never sleeps (latency mode: a
	 * hand-off then costs no wake-up, and the step holds its CPU). */
	uint32_t spin_us;
	/* Written by the host once, before the vCPU first runs: 1 when the
	 * chain's steps all share one CPU. A hand-off to another step then rings
	 * no WAKE (an exit, ~24 us under PVM): that step could not run before
	 * this one leaves the CPU anyway, and the host wakes it when this one
	 * sleeps or stops (chain_step.c). Ignored while spin_us is
	 * SURE_SPIN_FOREVER (the step then never sleeps). */
	uint32_t defer_wake;

	/* written by the host once, before the vCPU first runs */
	_Alignas(SURE_CACHELINE) uint64_t req_head_gva; /* SURE_REQ_HEAD_CAP bytes (unused by chain steps) */
	uint64_t resp_head_gva; /* SURE_RESP_HEAD_CAP bytes (unused by chain steps) */
	uint64_t env_gva; /* environment block ("KEY=VALUE\0"...), in guest RAM below the heap */
	uint32_t env_len; /* bytes of it (<= SURE_ENV_MAX); 0: no environment */
	uint32_t pad3;

	/* written by the host per request, before req_seq moves */
	_Alignas(SURE_CACHELINE) uint64_t req_tsc; /* when the node took the request */
	struct sure_trace req_trace;

	/* written by the guest per answer */
	_Alignas(SURE_CACHELINE) uint32_t resp_reason; /* enum sure_reason */
	int32_t resp_rc; /* handle()'s return value when resp_reason is FAILED */

	/* written by the guest before the EXIT doorbell: sure_abort()'s reason,
	 * NUL terminated (untrusted: the host bounds and cleans it) */
	_Alignas(SURE_CACHELINE) char abort_reason[SURE_ABORT_REASON_MAX];

	/* ABI 7, written by the host once, before the vCPU first runs: request
	 * slots in the I/O memslot (at least 1; 1 for a chain step) */
	_Alignas(SURE_CACHELINE) uint32_t io_slots;
	uint32_t pad4;
	/* written by the host per request (see struct sure_io_req) */
	_Alignas(SURE_CACHELINE) struct sure_io_req io_req[SURE_IO_QUEUE_MAX];
	/* written by the guest per answer (see struct sure_io_resp) */
	_Alignas(SURE_CACHELINE) struct sure_io_resp io_resp[SURE_IO_QUEUE_MAX];

	/*
	 * ABI 8: withdrawing request n that waits behind another (its function
	 * turned out slow there, and another instance could serve it sooner).
	 * Dekker: the guest stores started_seq = n, fences, then reads
	 * io_withdrawn[n % SURE_IO_QUEUE_MAX] and answers a withdrawn request
	 * at once with SURE_REASON_WITHDRAWN instead of running it; the host
	 * sets io_withdrawn, fences, then reads started_seq. Every request after
	 * the one started_seq names was surely not run; that one and those
	 * before may have been (their answer says). The host clears an entry
	 * when it takes that request's answer, before the entry is used again.
	 */
	_Alignas(SURE_CACHELINE) uint32_t io_withdrawn[SURE_IO_QUEUE_MAX]; /* written by the host */
	_Alignas(SURE_CACHELINE) uint32_t started_seq; /* written by the guest */
};

#endif /* !__ASSEMBLER__ */

#endif
