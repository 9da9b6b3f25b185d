/*
 * instance.h - struct sure_instance: one KVM micro-VM running one function.
 * Shared by instance.c (lifecycle and the public API) and vcpu.c (the vCPU
 * thread that runs the guest and handles its exits).
 */
#ifndef SURE_INSTANCE_H
#define SURE_INSTANCE_H

#include <pthread.h>
#include <stdint.h>

#include "channel.h"
#include "cpu.h"
#include "fault.h"
#include "kvm.h"
#include "logring.h"
#include "shm.h"

struct kvm_run;
struct sure_instance;
struct sure_ctrl;

/* Pages of a region the guest's page tables show, and how: a region with
 * views maps only those (the rest of its memslot is unreachable). */
struct sure_view {
	uint64_t off, size; /* page aligned, inside the region */
	uint32_t writable; /* 1 only in a writable region */
	uint32_t pkey; /* its protection key (sure_gate_abi.h), 0: the function's */
};

/* Guest memory an attachment adds to each of its instances: a memslot of its
 * own and the matching page-table entries (all of it, or its views). */
struct sure_region {
	uint64_t gpa; /* page aligned, above the doorbell page */
	uint8_t *host; /* host mapping of the memory */
	uint64_t size; /* bytes, whole pages */
	uint32_t writable; /* 0: read-only in the memslot and in the page tables */
	uint32_t pkey; /* the whole region's protection key (no views) */
	const struct sure_view *views; /* NULL: the whole region */
	uint32_t nviews;
};
#define SURE_MAX_REGIONS 2

/* A doorbell an attachment answers (offset in the doorbell page); the
 * handler returns 1 to keep running the guest, 0 to stop it. */
struct sure_doorbell {
	uint32_t offset;
	int (*ring)(struct sure_instance *inst, uint64_t data);
};

/*
 * What a subsystem attached to an instance (today: a chain, one seat per
 * step) adds to it. The instance code and the vCPU loop call these and never
 * name the subsystem, the way Solo5's hvt modules register exit handlers.
 * The hooks are called with no lock held; they must not call back into the
 * instance's lifecycle (create, destroy).
 */
/* The sidecar counters the host folds: requests .. status_5xx are bounded by
 * the requests the instance can have seen, the two tick sums by its age. */
enum { SURE_SC_REQUESTS, SURE_SC_ADMITTED, SURE_SC_RATE, SURE_SC_INFLIGHT, SURE_SC_DEADLINE,
       SURE_SC_POLICY, SURE_SC_4XX, SURE_SC_5XX, SURE_SC_HANDLER, SURE_SC_SIDECAR,
       SURE_SC_NCOUNT };

struct sure_attach_ops {
	const char *thread_name; /* vCPU thread name prefix; the seat index follows */
	uint32_t io_cap; /* bytes per request/response area its instances need */
	/* Takes the seat for inst: -EEXIST if another instance holds it. Sets
	 * inst->wake_fd if the vCPU thread sleeps on an fd of its own. */
	int (*claim)(void *seat, struct sure_instance *inst);
	/* Gives the seat back (the instance is being destroyed). */
	void (*release)(void *seat, struct sure_instance *inst);
	/* The memory it maps into each instance: fills out, returns how many. */
	uint32_t (*regions)(void *seat, struct sure_region *out);
	/* Its fields of a freshly laid out control page. */
	void (*fill_ctrl)(void *seat, struct sure_ctrl *ctrl);
	/* Once the memslots exist: e.g. in-kernel doorbells of this VM (best effort). */
	void (*bind_vm)(void *seat, int vm_fd);
	/* SLEEP doorbell: wait until the instance has work or dies. */
	void (*sleep)(struct sure_instance *inst);
	/* The vCPU loop ended for good (a fault, a kill), not at a snapshot. */
	void (*stopped)(struct sure_instance *inst);
	const struct sure_doorbell *doorbells;
	uint32_t ndoorbells;
	/* Most requests an instance in this seat can have seen so far, as the
	 * host counts them (bounds its sidecar's counters); NULL: plain rules. */
	uint64_t (*requests_bound)(void *seat);
};

struct sure_attachment {
	const struct sure_attach_ops *ops; /* NULL: a plain function instance */
	void *seat;
	uint32_t index; /* the seat's number, for names */
};

struct sure_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	int started;
	int tid; /* the thread's id once it runs (0 before), for /proc */
};

struct sure_instance {
	const struct sure_kvm *kvm;
	int vm_fd;
	struct sure_shm ram; /* slot 0 at GPA 0 */
	struct sure_shm io; /* slot 1 at SURE_IO_GPA: request area, response area */
	uint64_t mem_bytes;
	uint32_t io_cap; /* bytes per area, page aligned */
	/* Request slots in the I/O memslot (sure_io_slots), and whether the
	 * guest takes requests through ABI 7's queue (1; 2: and honours
	 * withdrawals, ABI 8; 0: the single-request fields of older images): the
	 * host's own copies, never the page's. */
	uint32_t io_slots;
	uint32_t io_queue;
	/* The trace context of the next request posted (sure_instance_set_trace). */
	struct sure_trace next_trace;
	struct sure_ctrl *ctrl; /* host view of the control page */
	struct sure_channel ch;
	struct sure_fault fault;
	struct sure_vcpu vcpu;
	pthread_mutex_t log_lock;
	struct sure_logring log;
	int status; /* host copy of the last checked resp_status */
	uint64_t requests; /* answers the host accepted */
	uint64_t born_tsc; /* when the host made it: bounds the guest's time counters */
	/* The guest's TSC rate as KVM said when its vCPU was made (1 GHz if it
	 * did not): never the control page's copy, which the guest can rewrite. */
	uint64_t tsc_hz;
	uint32_t spin_us; /* the host's own copy of what it set in ctrl->spin_us */
	int keys; /* the VM uses protection keys (sure_cpu_guest_keys() at its build) */
	/* The rate limit as the host last set it, and the host's own GCRA state:
	 * it holds whatever the guest writes into its sidecar page (sidecar.c). */
	struct {
		uint32_t per_sec, burst;
		uint64_t tat;
		uint64_t refused; /* requests the host refused before posting them */
	} rate;
	/* The concurrency limit as the host last set it (a chain step's: its
	 * chain admits no more requests at once, chain_admit.c), and the
	 * requests the host refused for it. */
	uint32_t max_inflight;
	uint64_t refused_inflight;
	uint32_t deadline_ms; /* as the host last set it (a chain step's: chain_admit.c) */
	/* The sidecar's counters as the host vouches for them (sidecar.c): what
	 * the guest showed last, and totals kept monotonic and bounded. */
	struct sure_sidecar_fold {
		uint64_t seen[SURE_SC_NCOUNT], total[SURE_SC_NCOUNT];
		uint64_t seen_hist[SURE_LAT_BUCKETS], total_hist[SURE_LAT_BUCKETS];
	} sc_fold;
	struct sure_attachment att; /* ops NULL for a plain function instance */
	/* eventfd the vCPU thread sleeps on when its attachment has one (-1):
	 * a kill writes it, so killing never calls into the attachment. */
	int wake_fd;
	/* Template source only: where the vCPU thread saves the state at the
	 * SNAPSHOT doorbell; snapshot_taken is set (release) once it did. */
	struct sure_cpu_state *snap;
	uint32_t snapshot_taken;
};

/* ---- sidecar.c ---- */

/* The host's rate check before a request is posted: 1 admits it (and takes
 * its token), 0 refuses it (over the limit the node set). */
int sure_sidecar_take(struct sure_instance *inst);
/* The same rule for any GCRA state: 1 if a request arriving at TSC `now`
 * fits the limit (per_sec 0: none) with theoretical arrival time tat, and
 * *next is tat after taking its token; 0 if it does not. hz: TSC ticks/s. */
int sure_gcra_fits(uint32_t per_sec, uint32_t burst, uint64_t hz, uint64_t tat, uint64_t now,
		   uint64_t *next);

/* ---- vcpu.c ---- */

/* Creates vCPU 0 of vm_fd and maps its kvm_run area. */
int sure_vcpu_create(struct sure_vcpu *v, int vm_fd, const struct sure_kvm *kvm);
/* Starts the thread that runs inst's vCPU until the instance dies. */
int sure_vcpu_start(struct sure_instance *inst);
/* Makes a running KVM_RUN return now (the thread then sees the dead channel). */
void sure_vcpu_kick(struct sure_vcpu *v);
/* How many CPUs the vCPU threads of new VMs may run on (sure_vcpu_cpus, else
 * every CPU this process may use). */
uint32_t sure_vcpu_cpu_count(void);
/* Joins the thread (if started), unmaps and closes. */
/* vcpu_confine.c: the calling thread's seccomp filter (a vCPU thread's
 * allowed system calls; everything else EPERM). 0 or -errno. */
int sure_vcpu_confine(void);
void sure_vcpu_destroy(struct sure_vcpu *v);

/* ---- instance.c, shared with template.c ---- */

/* A zeroed instance with no resources yet (counted in sure_stats). */
struct sure_instance *sure_instance_alloc(const struct sure_kvm *kvm);
/* The VM, its memory slots (ram and io must exist) and vCPU 0, not yet set up. */
int sure_instance_build_vm(struct sure_instance *inst, char *err, size_t errcap);
/* Starts the vCPU thread and waits until the guest is ready (or snapshotted). */
int sure_instance_start(struct sure_instance *inst, uint32_t timeout_ms, char *err,
			size_t errcap);
/* Boots an instance (attached to att if it has ops; its io_cap wins) with
 * the environment block env (env.h; env_len 0: none); with snap set it stops
 * at the SNAPSHOT doorbell. */
int sure_instance_boot(const uint8_t *img, size_t len, uint32_t mem_mib, uint32_t io_cap,
		       uint32_t init_timeout_ms, const uint8_t *env, uint32_t env_len,
		       const struct sure_attachment *att, struct sure_cpu_state *snap,
		       struct sure_instance **out, char *err, size_t errcap);
/* Claims att's seat for inst (-EEXIST if taken); destroy releases it. */
int sure_instance_attach(struct sure_instance *inst, const struct sure_attachment *att);

/* ---- sidecar.c ---- */

/* Writes what the sidecar page needs from the host before the guest first
 * runs (the latency histogram's bounds in TSC ticks); clones inherit it. */
void sure_sidecar_init(struct sure_instance *inst);

/* ---- instance.c, for the data plane (dp_plain.c) ---- */

/* Slot s's areas (s < io_slots). */
uint8_t *sure_instance_slot_req(struct sure_instance *inst, uint32_t s);
uint8_t *sure_instance_slot_resp(struct sure_instance *inst, uint32_t s);
uint8_t *sure_instance_slot_req_head(struct sure_instance *inst, uint32_t s);
uint8_t *sure_instance_slot_resp_head(struct sure_instance *inst, uint32_t s);
/* Posts a request of req_len bytes (already in slot `slot`, which is free:
 * sure_channel_free_slot) without waiting; the vCPU thread writes notify_fd
 * when the guest has news. 0, -EBUSY, -EPIPE, -E2BIG, -EDQUOT (over the
 * rate limit: not posted). */
int sure_instance_post(struct sure_instance *inst, uint32_t slot, uint32_t req_len,
		       int notify_fd);
/* The oldest posted request's outcome as sure_instance_invoke returns it,
 * with the slot its answer is in, or -EAGAIN while the guest has not
 * answered it. arm: the caller is about to sleep on notify_fd
 * (sure_channel_poll). */
int sure_instance_poll(struct sure_instance *inst, int arm, uint32_t *slot);
/* sure_channel_withdraw on its channel. */
int sure_instance_withdraw(struct sure_instance *inst, uint32_t keep);
/* The oldest posted request ran past its timeout: records it and stops the
 * instance (as sure_instance_invoke's -ETIMEDOUT). */
void sure_instance_expire(struct sure_instance *inst, uint32_t timeout_ms);

/* Stops the instance: channel dead, every waiter woken, vCPU kicked. */
void sure_instance_kill(struct sure_instance *inst);
/* Stops an instance that sent a bogus descriptor (recorded as a protocol fault). */
void sure_instance_kill_bogus(struct sure_instance *inst);

#endif
