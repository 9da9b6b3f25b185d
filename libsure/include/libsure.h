/*
 * libsure.h - the host API of libsure, called from Deno through ffi/.
 *
 * Conventions: opaque handles; functions return 0 (or a byte count) on
 * success and a negative errno on failure; where a failure needs words, the
 * caller passes a buffer (err, errcap) that receives one NUL-terminated line.
 */
#ifndef LIBSURE_H
#define LIBSURE_H

#include <stddef.h>
#include <stdint.h>

#include "sure_abi.h"

#if defined(SURE_BUILDING)
#define SURE_API __attribute__((visibility("default")))
#else
#define SURE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct sure_instance;
struct sure_chain;

/* ---- capabilities -------------------------------------------------------- */

/* 0 if /dev/kvm can run sure guests; else -errno and a reason in err. */
SURE_API int sure_kvm_probe(char *err, size_t errcap);
/* 1 if the host CPU has protection keys usable by pkey_alloc(), else 0. */
SURE_API int sure_pku_probe(void);
/* 1 if guests get protection keys (KVM offers PKU, SURE_GUEST_PKU is not
 * "off"): the gates then close the library OS's pages to functions. */
SURE_API int sure_guest_pku_probe(void);
/* 1 if an AF_XDP socket can be created here, else 0. */
SURE_API int sure_afxdp_probe(void);

/* ---- function images ----------------------------------------------------- */

/*
 * Checks that img is a sure function image that fits a guest of mem_mib MiB:
 * ELF64 x86-64 ET_EXEC with the sure ABI note, PT_LOAD segments inside
 * [SURE_IMAGE_BASE, SURE_IMAGE_LIMIT) and inside the file, page aligned, not
 * overlapping one another, none both writable and executable, entry in an
 * executable segment. 0 or -EINVAL with the problem in err.
 */
SURE_API int sure_image_check(const uint8_t *img, size_t len, uint32_t mem_mib,
			      char *err, size_t errcap);

/* ---- HTTP head blocks (sure_http_abi.h) ----------------------------------- */

/*
 * The C writer of a request head block (an ingress fills one per request):
 * init starts a block of cap (<= SURE_REQ_HEAD_CAP) bytes with the method,
 * the path below /invoke/<name> ("" becomes "/") and the raw query; add
 * appends one header (its name lower-cased). 0, -EINVAL, or -ENOSPC / -E2BIG
 * when the block is full or has SURE_HEAD_MAX_FIELDS headers: answer 431.
 */
SURE_API int sure_http_head_init(uint8_t *blk, uint32_t cap, const char *method, size_t mlen,
				 const char *path, size_t plen, const char *query, size_t qlen);
SURE_API int sure_http_head_add(uint8_t *blk, const char *name, size_t nlen, const char *value,
				size_t vlen);
/*
 * Copies the response head block a guest wrote (SURE_RESP_HEAD_CAP bytes at
 * src, guest memory) to dst and checks the copy: the number of headers
 * (the copy is then safe to read), or -EPROTO (malformed), -EINVAL (a name
 * that is not a token, a control character in a value) or -EPERM (a
 * hop-by-hop or framing header), with the header named in err.
 */
SURE_API int sure_http_resp_head_take(const uint8_t *src, uint8_t *dst, char *err, size_t errcap);
/* Empties a response head block (SURE_RESP_HEAD_CAP bytes). */
SURE_API void sure_http_resp_head_reset(uint8_t *blk);

/* ---- instances (one KVM micro-VM running one function) ------------------- */

/*
 * Creates a VM from a checked image, runs the guest's init and waits until it
 * is ready to serve, at most init_timeout_ms. io_cap is the size of each of
 * the request and response areas (bytes, rounded up to pages).
 * env/env_len: the function's environment (sure_getenv), "NAME=VALUE\0"
 * entries, NAME [A-Za-z_][A-Za-z0-9_]*, at most SURE_ENV_MAX bytes; env_len
 * 0 for none. A malformed block is -EINVAL (err names the entry by number,
 * never a value). The guest gets a read-only copy below its heap.
 * On success stores the handle in *out (8 bytes) and returns 0.
 */
SURE_API int sure_instance_create(const uint8_t *img, size_t len, uint32_t mem_mib,
				  uint32_t io_cap, uint32_t init_timeout_ms, const uint8_t *env,
				  uint32_t env_len, struct sure_instance **out, char *err,
				  size_t errcap);

/* Stops the vCPU (kicking it if it runs), joins its thread, frees everything. */
SURE_API void sure_instance_destroy(struct sure_instance *inst);

/* Zero-copy views of the shared request and response areas. */
SURE_API uint8_t *sure_instance_req_buf(struct sure_instance *inst);
SURE_API uint8_t *sure_instance_resp_buf(struct sure_instance *inst);
/* The request head block (SURE_REQ_HEAD_CAP bytes) the node fills before
 * each invoke, and the response head block (SURE_RESP_HEAD_CAP) the guest
 * fills: read it with sure_http_resp_head_take. See sure_http_abi.h. */
SURE_API uint8_t *sure_instance_req_head(struct sure_instance *inst);
SURE_API uint8_t *sure_instance_resp_head(struct sure_instance *inst);
SURE_API uint32_t sure_instance_io_cap(struct sure_instance *inst);
/* Request slots the instance has (ABI 7: the data plane posts up to this many
 * requests at once; the accessors above name slot 0, which
 * sure_instance_invoke uses). 1 for older images and chain steps. */
SURE_API uint32_t sure_instance_io_slots(struct sure_instance *inst);
/* Request slots an instance of a current image with io_cap-byte areas gets:
 * as many as SURE_IO_QUEUE_BYTES of slots hold, 1..SURE_IO_QUEUE_MAX (what
 * the node reserves memory for). */
SURE_API uint32_t sure_io_slots(uint32_t io_cap);

/*
 * Runs one request whose req_len bytes the caller already wrote into the
 * request area. Blocks (spin briefly, then sleep) until the guest answers or
 * timeout_ms passes. Returns the response length (the bytes are in the
 * response area), or:
 *   -ETIMEDOUT  the guest did not answer in time; the vCPU has been stopped
 *   -EFAULT     the guest faulted; see sure_instance_fault()
 *   -EPROTO     the guest broke the protocol (e.g. a bogus response length)
 *   -EPIPE      the instance was already dead
 *   -EBUSY      a request is already in flight on this instance
 *   -E2BIG      req_len is larger than the request area
 * After any negative return except -EBUSY/-E2BIG the instance is dead and
 * must be destroyed.
 */
SURE_API int sure_instance_invoke(struct sure_instance *inst, uint32_t req_len,
				  uint32_t timeout_ms);

/* HTTP status the function chose for the last response (200 by default). */
SURE_API int sure_instance_status(struct sure_instance *inst);
/* 1 if its vCPU sleeps waiting for a request, 0 if it runs guest code,
 * -EPIPE once it is dead. Host-side truth: the guest cannot fake it. */
SURE_API int sure_instance_sleeping(struct sure_instance *inst);
/* An idle instance (its last request answered) that has not gone back to
 * sleep this long after its answer is a runaway: it is stopped (the data
 * plane's idle instances: SURE_DP_RUNAWAY; the control plane's: the same
 * rule, with sure_instance_sleeping). */
#define SURE_RUNAWAY_MS 2000u
/*
 * How long a chain step polls its rings before it sleeps, once it runs out of
 * work: 0 the default (50 us), SURE_SPIN_FOREVER never (latency mode: a
 * hand-off to it costs no wake-up, and it holds a CPU; such a step is not a
 * runaway). The step reads it at its next idle moment. 0, or -EINVAL.
 */
SURE_API int sure_instance_set_spin(struct sure_instance *inst, uint32_t us);
/* Stops an instance's guest for good (its vCPU thread ends); 0. */
SURE_API int sure_instance_stop(struct sure_instance *inst);

/* Why the instance died. */
enum sure_fault_kind {
	SURE_FAULT_NONE = 0,
	SURE_FAULT_EXCEPTION = 1, /* a CPU exception: vector, error code, CR2, RIP */
	SURE_FAULT_TRIPLE = 2, /* the VM shut down (triple fault) */
	SURE_FAULT_TIMEOUT = 3, /* stopped by the host after its timeout */
	SURE_FAULT_BAD_EXIT = 4, /* an exit the VMM does not allow (address in .address) */
	SURE_FAULT_PROTOCOL = 5, /* the guest broke the shared-memory protocol */
	SURE_FAULT_GUEST_EXIT = 6, /* the guest rang the EXIT doorbell (code in .error_code) */
	SURE_FAULT_KVM = 7, /* KVM_RUN failed (errno in .error_code) */
};
#define SURE_FAULT_REASON_MAX 256 /* bytes of sure_fault_info.reason, NUL included */
struct sure_fault_info {
	uint64_t kind; /* enum sure_fault_kind */
	uint64_t vector; /* CPU exception vector (SURE_FAULT_EXCEPTION) */
	uint64_t error_code; /* exception error code, guest exit code or errno */
	uint64_t address; /* CR2 for #PF, the offending address of a bad exit */
	uint64_t rip;
	/* SURE_FAULT_GUEST_EXIT: the reason the guest left in its control page
	 * (sure_abort, abort, exit), cleaned: printable ASCII only, NUL
	 * terminated, "" if none */
	char reason[SURE_FAULT_REASON_MAX];
};
/* Copies the fault; size must be sizeof(struct sure_fault_info) (-EINVAL otherwise). */
SURE_API int sure_instance_fault(struct sure_instance *inst, struct sure_fault_info *out,
				 size_t size);

/* Drains the guest's log ring into buf; returns bytes copied (whole lines). */
SURE_API int sure_instance_read_log(struct sure_instance *inst, uint8_t *buf, size_t cap);

/* Requests served by this instance so far. */
SURE_API uint64_t sure_instance_requests(struct sure_instance *inst);

/* ---- the library sidecar (struct sure_sidecar in sure_abi.h) -------------- */

/*
 * Sets the limits the instance's sidecar enforces: enabled (0 turns
 * admission control and accounting off), max_inflight (0: none), rate in
 * requests/s with a burst (0: none), deadline_ms a request may wait before it
 * runs (0: none). Before the instance serves, or between requests.
 */
SURE_API int sure_instance_set_sidecar(struct sure_instance *inst, uint32_t enabled,
				       uint32_t max_inflight, uint32_t rate_per_sec,
				       uint32_t rate_burst, uint32_t deadline_ms);
/*
 * The sidecar's counters, read from guest memory: numbers the guest wrote,
 * so untrusted (see docs/architecture.md). Times are converted from TSC
 * ticks to nanoseconds here; latency_hist counts handler runs by the fixed
 * bounds SURE_LAT_BOUNDS_NS (sure_abi.h), the last bucket being +Inf.
 */
struct sure_sidecar_counters {
	uint64_t requests;
	uint64_t admitted;
	uint64_t rejected_rate;
	uint64_t rejected_inflight;
	uint64_t deadline_missed;
	uint64_t policy_denied;
	uint64_t status_4xx;
	uint64_t status_5xx;
	uint64_t queue_depth;
	uint64_t max_queue_depth;
	uint64_t handler_ns;
	uint64_t sidecar_ns;
	uint64_t latency_hist[SURE_LAT_BUCKETS];
};
/* size must be sizeof(struct sure_sidecar_counters). */
SURE_API int sure_instance_sidecar_stats(struct sure_instance *inst,
					 struct sure_sidecar_counters *out, size_t size);
/*
 * The sidecar's latest request records, newest first, as host records: age_ns
 * (since the sidecar took it), duration_ns (handler time), trace-id (16),
 * span-id (8), status (u16), reason (u8), 5 pad bytes: 48 bytes each.
 * Returns how many were written (at most max). The guest writes them: what
 * the host can bound is bounded (none older than the instance, no duration
 * longer than its life, a status outside 100-599 is 0), the rest is the
 * guest's word.
 */
struct sure_host_record {
	uint64_t age_ns;
	uint64_t duration_ns;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint16_t status;
	uint8_t reason;
	uint8_t pad[5];
};
SURE_API int sure_instance_sidecar_records(struct sure_instance *inst,
					   struct sure_host_record *out, uint32_t max);
/* The next request's W3C trace context: 16 bytes trace-id, 8 parent-id, 1 flags. */
SURE_API int sure_instance_set_trace(struct sure_instance *inst, const uint8_t *trace);
/* Why the last answer did not come from the handler (enum sure_reason), 0 if it did. */
SURE_API int sure_instance_resp_reason(struct sure_instance *inst);
/* What handle() returned when the last answer's reason is SURE_REASON_FAILED. */
SURE_API int sure_instance_resp_rc(struct sure_instance *inst);

/* ---- templates and copy-on-write clones --------------------------------- */

struct sure_template;

/*
 * Boots one instance of the image, lets it run its init, and keeps the VM's
 * memory and registers as it stands right after init (the guest rings the
 * SNAPSHOT doorbell there). That VM stops; clones start from its state
 * (and so see its environment). Same arguments and errors as
 * sure_instance_create.
 */
SURE_API int sure_template_create(const uint8_t *img, size_t len, uint32_t mem_mib,
				  uint32_t io_cap, uint32_t init_timeout_ms, const uint8_t *env,
				  uint32_t env_len, struct sure_template **out, char *err,
				  size_t errcap);
/*
 * The template of chain step `step`: booted as that step (mapping the chain's
 * pool and table), stopped after init. sure_instance_clone of it makes the
 * step's instance (the step must have none: -EEXIST). It clones into this
 * chain and step only, and must be destroyed before the chain. env/env_len:
 * the step function's environment, as for sure_instance_create.
 */
SURE_API int sure_chain_template_create(struct sure_chain *chain, uint32_t step,
					const uint8_t *img, size_t len, uint32_t mem_mib,
					uint32_t init_timeout_ms, const uint8_t *env,
					uint32_t env_len, struct sure_template **out, char *err,
					size_t errcap);
/* Frees the template; clones made from it live on (they map its memory). */
SURE_API void sure_template_destroy(struct sure_template *t);
/* The log lines the template's init wrote, once (then 0). */
SURE_API int sure_template_read_log(struct sure_template *t, uint8_t *buf, size_t cap);
/* Host memory the template's RAM occupies (bytes actually resident). */
SURE_API uint64_t sure_template_resident(struct sure_template *t);
/* Clones made so far. */
SURE_API uint32_t sure_template_clones(struct sure_template *t);

/*
 * A new instance, copy-on-write clone of the template: a new VM whose vCPU
 * continues after the template's init (sure_start runs, then it serves).
 * Waits for it at most start_timeout_ms; -EFAULT with the reason in err if
 * it dies first. The template must outlive the call (not the instance).
 */
SURE_API int sure_instance_clone(struct sure_template *t, uint32_t start_timeout_ms,
				 struct sure_instance **out, char *err, size_t errcap);

/*
 * Keeps n (<= 64) empty VMs ready in the background (a thread at nice 19),
 * so that creating or cloning an instance skips KVM_CREATE_VM and vCPU
 * creation. 0 (the default) turns it off and frees the ready ones.
 */
SURE_API int sure_vm_shells(uint32_t n);
/* Empty VMs ready right now. */
SURE_API uint32_t sure_vm_shells_ready(void);
/*
 * Where the vCPU threads of VMs created from now on may run: cpus[i] != 0
 * allows CPU i (n entries). No CPU allowed (n = 0) means anywhere. Keeping
 * the node's own event-loop thread a CPU of its own pays when CPUs are few.
 */
SURE_API int sure_vcpu_cpus(const uint8_t *cpus, uint32_t n);
/*
 * The nice value (-20..19; 0 leaves it) the vCPU thread of each plain
 * instance started from now on takes, best effort (a raise needs
 * CAP_SYS_NICE; refused, the thread runs at the node's). Chain steps keep
 * the node's. A heavier weight on CPUs of the vCPUs' own makes the kernel's
 * load balancing see them busy and put other threads (the node's, a client
 * on the same machine) on the CPUs they leave, instead of behind a guest
 * that polls for a moment after each answer. -EINVAL out of range.
 */
SURE_API int sure_vcpu_nice(int nice);

/* ---- chains: per-chain pools and VM-to-VM hand-off ---------------------- */

struct sure_chain;

/*
 * Creates a chain's pool and rings (see sure_chain_abi.h). names holds nsteps
 * NUL-padded names of SURE_STEP_NAME bytes. routes is an nsteps x SURE_NODES
 * byte matrix: routes[i * SURE_NODES + j] = 1 if step i may hand to node j
 * (j = SURE_NODE_GW: finish, answer the gateway). default_next[i] is the node
 * step i hands to when its function does not choose (must be allowed).
 * nbuf buffers of buf_size bytes (multiple of 4096); nslots requests in
 * flight at most (<= 4096, <= SURE_RING_SLOTS).
 */
SURE_API int sure_chain_create(uint32_t nsteps, const char *names, const uint8_t *routes,
			       const uint16_t *default_next, uint32_t nbuf, uint32_t buf_size,
			       uint32_t nslots, struct sure_chain **out, char *err, size_t errcap);
/* Frees the pool. Every instance of the chain must be destroyed first (-EBUSY). */
SURE_API int sure_chain_destroy(struct sure_chain *chain);

/* The pool's buffers, for one zero-copy view: base address and length. */
SURE_API uint8_t *sure_chain_buffers(struct sure_chain *chain);
SURE_API uint64_t sure_chain_buffers_size(struct sure_chain *chain);
/* The head blocks of the slots (sure_http_abi.h): slot s's request head at
 * s * SURE_SLOT_HEAD_SIZE, written by the caller before sure_chain_submit;
 * its response head SURE_REQ_HEAD_CAP further, reset by sure_chain_submit
 * and filled by the steps: read it with sure_http_resp_head_take before
 * sure_chain_take frees the slot. */
SURE_API uint8_t *sure_chain_heads(struct sure_chain *chain);
SURE_API uint64_t sure_chain_heads_size(struct sure_chain *chain);


/*
 * Request-level data isolation (sure_gate_abi.h): before the chain has
 * instances or requests, splits its pool into one region per protection-key
 * colour (at most 11) and uses only that many slots, each slot with its own
 * region and head block under its own key, which a step's gate opens only
 * while it holds that request. 0, or -EINVAL (pool too small) / -EBUSY.
 */
SURE_API int sure_chain_isolate(struct sure_chain *chain, char *err, size_t errcap);
/* The chain's colours (requests it can have in flight) under isolation, else 0. */
SURE_API uint32_t sure_chain_colours(struct sure_chain *chain);
/*
 * Reserves a slot whose two extents hold at least `bytes` each. Stores the
 * slot and the byte offset of extent 0 inside the buffers view. -ENOSPC when
 * no slot or no run of free buffers is left (the gateway answers 503).
 */
SURE_API int sure_chain_alloc(struct sure_chain *chain, uint32_t bytes, uint32_t *slot,
			      uint64_t *offset);
/*
 * Admits a request into the chain on this node, its slot already allocated:
 * charged to every step this node runs (each step's rate limit, and its
 * concurrency limit against the requests the chain holds here), on host state
 * no guest can write. 0; -EDQUOT (a step's rate limit) or -EBUSY (its
 * concurrency limit), with that step in *step; -EINVAL.
 */
SURE_API int sure_chain_admit(struct sure_chain *chain, uint32_t *step);
/*
 * Stops the steps that ran away: awake, with nothing queued and no request
 * held, for SURE_RUNAWAY_MS (looked at every 100 ms, whatever the calls).
 * The steps stopped now (bit i: step i), for the caller to restart; counted
 * in sure_chain_counters.runaways.
 */
SURE_API uint32_t sure_chain_runaways(struct sure_chain *chain);
/*
 * Copies body (len bytes) into the slot's extent 0 - the one copy on the way
 * in, counted in copied_in - records the request's W3C trace context (25
 * bytes: trace-id 16, parent-id 8, flags 1; NULL for none) and hands the
 * slot to step 0. Never blocks.
 */
SURE_API int sure_chain_submit(struct sure_chain *chain, uint32_t slot, const uint8_t *body,
			       uint32_t len, const uint8_t *trace);

/* What sure_chain_wait reports for one finished request. */
struct sure_completion {
	uint32_t slot;
	uint32_t len; /* response bytes */
	uint64_t offset; /* response offset inside the buffers view */
	uint16_t status; /* HTTP status (function's choice, or the error's) */
	uint16_t error; /* enum sure_completion_error */
	uint16_t node; /* the step that answered or was blamed */
	uint16_t hops;
	uint16_t reason; /* enum sure_reason of the answering step's sidecar (untrusted) */
	uint16_t pad;
	int32_t rc; /* handle()'s return value when reason is SURE_REASON_FAILED */
};
enum sure_completion_error {
	SURE_CE_OK = 0,
	SURE_CE_FAULT = 1, /* the step holding it died (fault, timeout, exit) */
	SURE_CE_BOGUS = 2, /* a step sent a bogus descriptor and was stopped */
	SURE_CE_LOOP = 3, /* more than SURE_MAX_HOPS hand-offs */
};
/*
 * Waits (spin briefly, then sleep) until at least one request finished or
 * timeout_ms passed, then returns up to max completions (0 on timeout).
 * Requests failed by a dead step are reported here too, once each. One
 * waiter per chain at a time.
 */
SURE_API int sure_chain_wait(struct sure_chain *chain, struct sure_completion *out, uint32_t max,
			     uint32_t timeout_ms);
/* Wakes a sure_chain_wait in progress (it returns what it has, maybe 0). */
SURE_API void sure_chain_wake(struct sure_chain *chain);
/*
 * Copies a completed request's answer into dst (cap bytes; -E2BIG if it does
 * not fit) - the one copy on the way out, counted in copied_out - and frees
 * the slot. Returns the answer's length; -EINVAL for a slot whose answer
 * sure_chain_wait has not reported yet.
 */
SURE_API int sure_chain_take(struct sure_chain *chain, uint32_t slot, uint8_t *dst, uint32_t cap);
/* Zeroes and releases a slot's buffers (a failed request, or an answer not wanted). */
SURE_API int sure_chain_free(struct sure_chain *chain, uint32_t slot);
/* The step that holds a slot now (SURE_NODE_GW if none): whom a timeout kills. */
SURE_API int sure_chain_locate(struct sure_chain *chain, uint32_t slot);
/* 1 while that step has not taken the slot off its ring yet (queued behind
 * others, or its instance is down), else 0; -errno. A stopped step's queued
 * requests wait for its next instance, so a timeout answers such a request
 * itself rather than stop the step. */
SURE_API int sure_chain_queued(struct sure_chain *chain, uint32_t slot);
/* A timeout's way with a request still queued for a step: takes it back, so
 * that no gate gives it to a handler from now on, and says 1 (the caller
 * answers it and frees the slot). 0: not queued, or its step took it at
 * this very moment (then it holds it: stop the step, as for any request it
 * holds, and let its failure answer). where: the step that holds it or
 * whose queue it was in (SURE_NODE_GW if none), as sure_chain_locate; -errno. */
SURE_API int sure_chain_take_back(struct sure_chain *chain, uint32_t slot, uint32_t *where);

/* A chain's counters. */
struct sure_chain_counters {
	uint64_t slots_in_flight;
	uint64_t free_buffers;
	uint64_t buffers;
	uint64_t copied_in; /* bytes the node copied into the pool (bodies) */
	uint64_t copied_out; /* bytes the node copied out of it (answers) */
	uint64_t completed; /* requests the steps answered */
	/* Reported by the steps' libraries (untrusted), summed over every
	 * instance a step has had; the node keeps them monotonic and bounds each
	 * increase by what the steps handled (chain_stats.c). */
	uint64_t handoffs; /* descriptors the steps pushed on */
	uint64_t handoff_bytes; /* bytes the steps' answers put into the other extent */
	/* Host-accounted: descriptors the host itself found forged or bogus (a
	 * completion, or an entry a step reported that the host read; each
	 * stopped its sender), and reports of bogus descriptors it found no
	 * evidence for (nobody was stopped). */
	uint64_t bogus;
	uint64_t unconfirmed;
	/* Host-accounted: steps stopped for running with nothing to do. */
	uint64_t runaways;
};
/* size must be sizeof(struct sure_chain_counters). */
SURE_API int sure_chain_stats(struct sure_chain *chain, struct sure_chain_counters *out,
			      size_t size);

/* What one step's guest library reports about its hand-offs (untrusted):
 * handled, handoffs and copied are the node's folds (sure_fold_counter);
 * stale, bogus and the histogram are the instance's own word, each no more
 * than the chain's requests could make, and handoff_tsc_sum no more than
 * the histogram's hand-offs times the instance's age. */
struct sure_step_counters {
	uint64_t tsc_hz; /* to read handoff_tsc_sum and the histogram */
	uint64_t handled;
	uint64_t handoffs;
	uint64_t handoff_tsc_sum;
	uint64_t stale;
	uint64_t bogus;
	uint64_t copied;
	uint64_t handoff_hist[32]; /* log2 buckets of hand-off latency in TSC ticks */
};
/* The step's live instance's counters: -ENOENT if it has none; size must be
 * sizeof(struct sure_step_counters). */
SURE_API int sure_chain_step_stats(struct sure_chain *chain, uint32_t step,
				   struct sure_step_counters *out, size_t size);

/* ---- process-wide accounting (leak checks, healthz) ---------------------- */

struct sure_process_stats {
	uint64_t instances; /* live instances (templates' stopped VMs excluded) */
	uint64_t vcpu_threads;
	uint64_t mapped_bytes; /* bytes mapped for guests */
};
/* size must be sizeof(struct sure_process_stats). */
SURE_API int sure_stats(struct sure_process_stats *out, size_t size);

/* ---- the data plane: HTTP ingress and invocation in C --------------------- */
/*
 * One HTTP/1.1 server (kernel sockets, one data-plane thread) serves
 * /invoke/<name> for every routed function itself: it parses the request
 * into the head block, admits it (concurrency limit, queue, deadline), runs
 * it on an idle instance the control plane lent it, or queues it and asks for
 * an instance once, and answers with the JSON errors of the TypeScript
 * gateway. Any other request (and a function it has no route for) is
 * tunnelled to the node's Hono app on a unix socket, so users see one port.
 * The control plane reads what happened in batches (sure_dataplane_events).
 */
struct sure_dataplane;

struct sure_dataplane_config {
	char host[64]; /* numeric listen address */
	char upstream[108]; /* unix socket path of the Hono app */
	uint32_t port; /* 0: any free port */
	uint32_t max_conns; /* 0: 4096 */
	uint32_t header_timeout_ms, body_timeout_ms, idle_timeout_ms, write_timeout_ms;
	uint32_t tick_ms; /* timeout resolution (0: 5 ms) */
	/* How kernel sockets are read: SURE_DP_IO_EPOLL (0) or SURE_DP_IO_URING
	 * (start fails with -ENOSYS, -EPERM or -EOPNOTSUPP where the kernel or
	 * a seccomp policy has no io_uring we can use). */
	uint32_t io;
	uint64_t cpu_mask; /* CPUs (bit n: CPU n) its thread may run on; 0: anywhere */
	/* SURE_DP_SOCKETS: kernel TCP on host:port. SURE_DP_AF_XDP: that too
	 * (host "": not), and the Z-stack, libsure's own TCP/IP on an AF_XDP
	 * socket of iface (root), at addr:port, addr being an IPv4 address it
	 * owns there (one the kernel does not use); frames to other addresses
	 * and ports stay the kernel's. One server serves both. */
	uint32_t backend;
	uint32_t prefix; /* af_xdp: addr's network prefix length (0: 24) */
	char iface[16]; /* af_xdp: the interface */
	char addr[16]; /* af_xdp: numeric IPv4 the stack owns */
	char gateway[16]; /* af_xdp: numeric IPv4 of the next hop off-link, "": none */
	uint32_t queue; /* af_xdp: the RX queue to bind (0) */
	uint32_t frames; /* af_xdp: UMEM frames of 4 KiB (0: 4096) */
};
#define SURE_DP_SOCKETS 0u
#define SURE_DP_AF_XDP 1u
#define SURE_DP_IO_EPOLL 0u
#define SURE_DP_IO_URING 1u
/* Binds and listens on the port (a taken one is -EADDRINUSE here) and
 * starts the data plane, which accepts nothing until sure_dataplane_open:
 * kernel connections wait in the backlog, the Z-stack's are refused. */
SURE_API int sure_dataplane_start(const struct sure_dataplane_config *cfg, size_t size,
				  struct sure_dataplane **out);
/* Accepts connections from now on: once the control plane has published its
 * routes and its upstream listens. Once. 0 or -errno. */
SURE_API int sure_dataplane_open(struct sure_dataplane *dp);
SURE_API int sure_dataplane_port(struct sure_dataplane *dp);
/* Stops accepting, lets requests in progress finish for up to grace_ms,
 * then closes everything and frees dp. Instances still lent are not
 * destroyed: the control plane owns them. */
SURE_API void sure_dataplane_stop(struct sure_dataplane *dp, uint32_t grace_ms);

struct sure_route_config {
	char name[64];
	uint64_t max_body; /* 413 past it; at most every lent instance's io_cap */
	uint32_t timeout_ms; /* a request running longer: its instance is stopped, 504 */
	uint32_t deadline_ms; /* 0: none; waited longer for an instance: 504, not run */
	uint32_t max_queue; /* waiting requests; past it 503 overloaded */
	uint32_t max_instances;
	uint32_t target_concurrency;
	uint32_t concurrency_limit; /* per instance at full scale; 0: none */
	uint32_t can_start; /* 0: never ask for an instance (the function is going away) */
	uint32_t is_private; /* 1: only requests with the node's admin token (else the Hono app answers) */
};
/* The node's admin token (hex): a private route serves only requests whose
 * Authorization is `Bearer <token>`; the others go to the Hono app, which
 * answers 401. 0, or -EINVAL for a token that is not 16..128 hex digits. */
SURE_API int sure_dataplane_set_token(struct sure_dataplane *dp, const char *token, uint32_t len);
/* The key the nodes of a chain share for its hops (16..1024 bytes; len 0:
 * none). With one, every hop this node sends carries x-sure-hop-mac, an
 * HMAC-SHA256 of what it asks for, and a hop that comes without the right
 * one is refused (403) whatever address it comes from; answers to hops are
 * signed the same way, and one without its MAC fails the request (502
 * naming the node). Without one, hops are taken on the sender's address
 * alone. 0, or -EINVAL. */
SURE_API int sure_dataplane_set_hop_key(struct sure_dataplane *dp, const uint8_t *key, uint32_t len);
/* Creates or updates (by name) a route: its id (>= 0), or -errno. */
SURE_API int sure_dataplane_route(struct sure_dataplane *dp, const struct sure_route_config *cfg,
				  size_t size);
/* New requests for it go to the Hono app; queued ones wait for its instances. */
SURE_API int sure_dataplane_unroute(struct sure_dataplane *dp, uint32_t route);
/* Lends an idle instance (its tag names it in events). need: it answers
 * a SURE_DP_NEED. The data plane never destroys it. */
SURE_API int sure_dataplane_lend(struct sure_dataplane *dp, uint32_t route,
				 struct sure_instance *inst, uint32_t tag, uint32_t need);
/* The control plane starts an instance for the route on its own (minimum,
 * scaling, replacement): counted as starting until it is lent (need = 1) or
 * fails (sure_dataplane_start_failed), so a request meanwhile does not ask
 * for another one. */
SURE_API int sure_dataplane_expect(struct sure_dataplane *dp, uint32_t route);
/* Takes an instance back: 0 (it was idle, it is the caller's again),
 * -EBUSY (it is serving: a SURE_DP_RETIRED event says when it is back),
 * -ENOENT. */
SURE_API int sure_dataplane_reclaim(struct sure_dataplane *dp, uint32_t route, uint32_t tag);
/* A SURE_DP_NEED cannot be met: the queued requests get this answer if no
 * instance is left or starting (status and a JSON body with its headers). */
SURE_API int sure_dataplane_start_failed(struct sure_dataplane *dp, uint32_t route,
					 uint32_t status, const char *json, uint32_t len,
					 const char *headers);

struct sure_route_stats {
	uint32_t instances, idle, running, starting, queued, pad;
	uint64_t requests; /* answered */
	uint64_t idle_tags[64]; /* (tag << 32) | ms idle, oldest idle first */
	uint32_t nidle_tags, pad2;
};
SURE_API int sure_dataplane_route_stats(struct sure_dataplane *dp, uint32_t route,
					struct sure_route_stats *out, size_t size);

enum sure_dp_event_kind {
	SURE_DP_DONE = 1, /* a request was answered */
	SURE_DP_NEED = 2, /* the route wants one more instance */
	SURE_DP_DEAD = 3, /* an instance died serving a request: answer it (token) */
	SURE_DP_RETIRED = 4, /* a reclaimed busy instance is back */
	/* a chain step's instance died or was stopped: restart it (rc -EBUSY:
	 * it ran away, sure_chain_runaways) */
	SURE_DP_STEP_DOWN = 5,
	/* an idle instance kept running SURE_RUNAWAY_MS after its last answer
	 * without going back to sleep: the data plane stopped it and let it go
	 * (the control plane destroys it) */
	SURE_DP_RUNAWAY = 6,
};
/* Most bucket bounds sure_dataplane_fold_done takes. */
#define SURE_DP_FOLD_BOUNDS 24
struct sure_dp_event {
	uint32_t kind;
	uint32_t route;
	uint32_t tag; /* the instance (DONE, DEAD, RETIRED) */
	uint32_t status; /* DONE: the status answered; STEP_DOWN: the step */
	int32_t rc; /* DEAD, STEP_DOWN: -ETIMEDOUT, -EFAULT, -EPROTO, -EPIPE,
		     * -ENOENT (STEP_DOWN: a request timed out where no instance runs);
		     * DONE of a chain: 1 when it ended in a hand-off loop (508) */
	uint32_t method; /* enum sure_method */
	uint32_t chain; /* a chain's request or step (DONE, STEP_DOWN): its attachment id, else 0 */
	uint32_t count; /* the requests it stands for: 1, or more for a folded DONE */
	uint64_t token; /* DEAD, STEP_DOWN (0: nothing to answer): pass to sure_dataplane_answer */
	/* first byte to answer, queued for an instance, bytes: a folded DONE's
	 * are the sums over its requests */
	uint64_t total_ns;
	uint64_t wait_ns;
	uint64_t bytes_in, bytes_out;
	/* A folded DONE: its requests counted by total_ns in the buckets of
	 * sure_dataplane_fold_done (nbuckets = bounds + 1, the last one past
	 * every bound); else 0. */
	uint32_t nbuckets;
	uint32_t buckets[SURE_DP_FOLD_BOUNDS + 1];
	uint8_t trace_id[16]; /* "" (zeros) in a folded DONE, as request_id */
	char code[32]; /* the error code when the node answered an error, else "" */
	char request_id[132];
};
/*
 * Chains on the data plane: the server runs /invoke/<name> of an attached
 * chain itself. A body of known length is received straight into the
 * request's slot of the chain's pool; the request is handed to step 0
 * through the gateway ring; completions are collected on the gateway's
 * doorbell (on the server's thread) and answered straight from the pool.
 * Refusals, bad response heads, bogus descriptors, hand-off loops and
 * timeouts are answered in C; a step's death parks the request (SURE_DP_STEP_DOWN
 * with a token: the control plane explains the fault and answers). Every
 * step that dies or is stopped is reported (SURE_DP_STEP_DOWN) so that the
 * control plane restarts it.
 */
struct sure_chain_route_config {
	char name[64];
	uint64_t max_body; /* 413 past it; at most an extent of the pool */
	uint32_t timeout_ms; /* a request still in the chain after it: 504, its step is stopped */
	uint32_t reserve; /* bytes each request's extents hold at least */
	uint32_t step_deadline_ms[SURE_CHAIN_MAX_STEPS]; /* each step's sidecar deadline */
	/* Steps another node runs: its name, and its data plane's "a.b.c.d:port"
	 * (a hand-off to the step is a hop there; hops from there are taken
	 * only from that address). "" for the steps this node runs. */
	char step_node[SURE_CHAIN_MAX_STEPS][32];
	char step_peer[SURE_CHAIN_MAX_STEPS][32];
};
/* Attaches a chain (its steps started by the caller) and routes name to it
 * (a chain attached later under the same name takes the route over): its
 * attachment id (> 0), or -errno. The chain must outlive the attachment. */
SURE_API int sure_dataplane_attach_chain(struct sure_dataplane *dp, struct sure_chain *chain,
					 const struct sure_chain_route_config *cfg, size_t size);
/* No new requests for it (its requests in flight go on); its name goes to
 * the Hono app unless a newer chain took the route. */
SURE_API int sure_dataplane_close_chain(struct sure_dataplane *dp, uint32_t id);
/* Lets go of the chain: requests still in it are answered 504 and their
 * slots freed. -EBUSY while a body is still being received into its pool
 * (try again; the server's body timeout bounds it), -ENOENT. After 0 the
 * data plane never touches the chain again. */
SURE_API int sure_dataplane_release_chain(struct sure_dataplane *dp, uint32_t id);
/* While one of the chain's steps cannot start: every new request for it is
 * answered at once with status (400..599), this JSON body and these header
 * lines ("name: value\n", or NULL), and no body is read into its pool;
 * requests already in it go on. json NULL: serve again. 0, -EINVAL, -ENOENT. */
SURE_API int sure_dataplane_chain_refuse(struct sure_dataplane *dp, uint32_t id, uint32_t status,
					 const char *json, uint32_t len, const char *headers);
/* Requests in the chain now (running) and answered so far (requests). */
SURE_API int sure_dataplane_chain_stats(struct sure_dataplane *dp, uint32_t id,
					struct sure_route_stats *out, size_t size);
/*
 * Up to max events; waits up to timeout_ms for the first. Count or -errno.
 * Once there is one, and the last call returned less than linger_ms ago, it
 * waits until linger_ms after that return while only DONE events come, so
 * that a busy node's reader takes them in batches instead of being woken for
 * each (at most one return per linger_ms carries only DONE events), and an
 * idle node's gets its first event at once. Any other event, max events or
 * a kick end the wait at once. timeout_ms 0: no wait (what is there now).
 */
SURE_API int sure_dataplane_events(struct sure_dataplane *dp, struct sure_dp_event *out,
				   uint32_t max, uint32_t timeout_ms, uint32_t linger_ms);
/*
 * Folds DONE events (bounds >= 0; -1: off, the default): from the next
 * sure_dataplane_events on, the DONE events of one run between other
 * events that share route, tag, chain, status, rc, method and code come as
 * one, with count, the sums, and their total_ns counted in nbounds + 1
 * buckets (bucket i: total_ns <= bounds_ns[i], not in an earlier one; the
 * last: past them all). A reader that needs no request's id (the request
 * log written in C, or none) then handles a batch per kind of answer, not
 * per request. Bounds strictly increasing, at most SURE_DP_FOLD_BOUNDS.
 * 0 or -EINVAL.
 */
SURE_API int sure_dataplane_fold_done(struct sure_dataplane *dp, const uint64_t *bounds_ns,
				      int32_t nbounds);
/* Ends the wait of sure_dataplane_events now, or the next one's if none
 * waits: it returns what is there. For a reader that must see every event
 * before it answers (metrics), and for a reader that stops. Any thread. */
SURE_API int sure_dataplane_events_kick(struct sure_dataplane *dp);
/*
 * The request log in C: a JSON line per request the data plane answers (the
 * DONE events), on out_fd (below 500) or err_fd (5xx), in the format of the
 * control plane's console logger. Lines are written by
 * sure_dataplane_request_log_flush, only those of the events
 * sure_dataplane_events has returned, so that the control plane can write
 * what belongs before them first (a function's own log lines); and the rest
 * when the data plane stops. -1, -1: off (the default). 0, or -EINVAL.
 */
SURE_API int sure_dataplane_request_log(struct sure_dataplane *dp, int out_fd, int err_fd);
/* Writes the request log's ready lines (one write per stream): the number of
 * streams written, or -EINVAL. Any thread, one at a time. */
SURE_API int sure_dataplane_request_log_flush(struct sure_dataplane *dp);
/* Answers the request of a SURE_DP_DEAD: status, JSON body, extra header
 * lines ("name: value\r\n"..., or NULL). -ENOENT if the client left. */
SURE_API int sure_dataplane_answer(struct sure_dataplane *dp, uint64_t token, uint32_t status,
				   const char *json, uint32_t len, const char *headers);

struct sure_dataplane_stats {
	uint64_t conns_open, conns_accepted, conns_refused;
	uint64_t requests, tunnelled, parse_errors, timeouts;
	uint64_t bytes_in, bytes_out, copied_in, copied_out;
	uint64_t events_dropped;
	/* now: requests waiting for an instance, running on one, in chains,
	 * and waiting for the control plane's answer after a death */
	uint64_t queued, running, in_chains, parked;
	/* chain hops: sent to the nodes that run the next step, taken from
	 * them, and failed (the node unreachable or its answer malformed) */
	uint64_t hops_out, hops_in, hop_failures;
	/* The Z-stack (af_xdp; zero on sockets): frames and bytes on the wire,
	 * frames the kernel dropped for want of room, bytes the stack copied
	 * (out of received frames, into its segments, into TX frames: veth's
	 * copy mode), TCP segments sent again on duplicate ACKs, connections
	 * that ended in an error, frames the stack dropped, its connections
	 * open and made in all. */
	uint64_t zs_rx_frames, zs_tx_frames, zs_rx_bytes, zs_tx_bytes, zs_rx_dropped;
	uint64_t zs_copied_in, zs_copied_out, zs_copied_wire;
	uint64_t zs_retransmits, zs_resets, zs_drops, zs_conns_open, zs_conns_total;
	/* connections opened for chain hops (a hop on a connection kept open
	 * since an earlier hop to the same node opens none) */
	uint64_t hop_connects;
	/* The Z-stack's XDP program runs in generic (SKB) mode (1) or native
	 * (0); packets longer than a frame can come (multi-buffer AF_XDP, 1),
	 * and how many came in more than one frame. */
	uint64_t zs_xdp_generic, zs_multi_buffer, zs_rx_chained;
	/* Kernel sockets are read through io_uring (1) or epoll (0). */
	uint64_t io_uring;
	/* Hops are authenticated by the nodes' shared key (1; else by address
	 * alone), and hops refused: from an address that is none of the chain's
	 * nodes, or without the key's MAC. */
	uint64_t hop_keyed, hops_refused;
	/* The server's loop threads running now, and the CPUs (0-63) the loop
	 * thread may run on, as the kernel has them. */
	uint64_t threads, cpu_mask;
	/* The Z-stack's TCP retransmission timeouts (its fast retransmissions
	 * are zs_retransmits). */
	uint64_t zs_retransmit_timeouts;
	/* Invokes sent to the fleet's other nodes (sure_dataplane_forward), and
	 * new requests for chains sent to the node that runs their first step:
	 * in all, refused by the node (then to the Hono app), and failed before
	 * the node answered (502 forward_failed or a chain's peer_unreachable,
	 * 504 function_timeout); and
	 * the connections opened for them (one an earlier forward left open to
	 * the same node, for up to 15 s, opens none). */
	uint64_t forwarded, forwards_refused, forward_failures, forward_connects;
	/* Request log lines not written: the control plane did not flush them
	 * in time (sure_dataplane_request_log). */
	uint64_t request_log_dropped;
	/* The Z-stack's TCP segments whose checksum the kernel finished (AF_XDP
	 * TX metadata: they leave partial, as the kernel's own TCP's do) and
	 * that the stack summed itself (a kernel without it), and whether the
	 * kernel takes TX metadata (1). */
	uint64_t zs_tx_csum_kernel, zs_tx_csum_stack, zs_tx_metadata;
	/* Now: requests of chains out at another node (a hop in flight; they
	 * are among in_chains). */
	uint64_t in_hops;
	/* Plain instances' request queues (ABI 7): requests posted to an
	 * instance behind one it was running, and requests given back to the
	 * function's queue because the instance they waited in died or timed
	 * out before it ran them (the next instance serves them), and requests
	 * taken back from behind one that ran long, before they began (another
	 * instance serves them). */
	uint64_t pipelined, requeued, withdrawn;
};
/*
 * (A new request for an attached chain whose first step another node runs
 * goes the same way to that node, marked x-sure-chain-entry: no call needed;
 * a failure is the chain's 502 peer_unreachable. With af_xdp it goes from
 * the Z-stack, as the chain's hops do; fleet forwards go over kernel TCP to
 * the members' public addresses.)
 *
 * Fleets: an /invoke of function `name`, which no route here serves, goes
 * straight to one of the nodes in `targets` ("node=a.b.c.d:port", space
 * separated, at most 16; "": none, the Hono app decides), each in turn, as
 * it came plus x-sure-forwarded-by: <self> (such a request is never sent on
 * again); its answer gets x-sure-node: <node>. A node that refuses the
 * connection leaves the request to the Hono app; one that fails before it
 * answers gets it a 502 forward_failed naming it; one that does not answer
 * within timeout_ms, a 504 function_timeout. 0 or -EINVAL (a malformed
 * target, name or flag), -ENOSPC (1024 functions), -ENOMEM. Any thread.
 *
 * flags SURE_DP_FORWARD_PRIVATE: `name` is private. Only a request with this
 * node's token (sure_dataplane_set_token) goes, and only with a hop key
 * (sure_dataplane_set_hop_key) to sign it for that node: the caller's
 * Authorization (this node's token) is dropped, and x-sure-forward-mac
 * added (sure_forward_mac), which that node's data plane takes instead of
 * its own token. Anything else goes to the Hono app (401, or over NATS).
 */
#define SURE_DP_FORWARD_PRIVATE 1u
SURE_API int sure_dataplane_forward(struct sure_dataplane *dp, const char *self, const char *name,
				    uint32_t timeout_ms, uint32_t flags, const char *targets);
/*
 * x-sure-forward-mac of a private function's invoke that node `from`
 * forwards (the Hono app's forwarders and its check of one that reached it,
 * with the same key as the data plane's): HMAC-SHA256 under key (16..1024
 * bytes) of "sure-forward-1", from, name, the method, the path below
 * /invoke/<name> and the raw query as a function sees them, and the body's
 * length in decimal, each ended by a NUL; SURE_FORWARD_MAC_HEX lower-case
 * hex digits and a NUL into out. 0, or -EINVAL.
 */
#define SURE_FORWARD_MAC_HEX 64
SURE_API int sure_forward_mac(const uint8_t *key, uint32_t key_len, const char *from,
			      const char *name, const char *method, const char *path,
			      const char *query, uint64_t body_len, char *out);
/* Node stopped answering: what was forwarded to it fails now (502
 * forward_failed naming it; an answer begun is cut). 0, -EINVAL, or
 * -EAGAIN (8 such calls not yet handled: call again). Any thread. */
SURE_API int sure_dataplane_forward_dead(struct sure_dataplane *dp, const char *node);
SURE_API int sure_dataplane_stats(struct sure_dataplane *dp, struct sure_dataplane_stats *out,
				  size_t size);

#ifdef __cplusplus
}
#endif
#endif
