/*
 * instance.c - the lifecycle of an instance (create, invoke, destroy) and
 * the small accessors of libsure.h. Creation is a sequence of separate
 * steps - memory, layout, VM + memslots, vCPU - so that clones from
 * templates (template.c) replace the layout step. What an instance is
 * attached to (a chain's step) comes in through struct sure_attach_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cpu.h"
#include "gate_load.h"
#include "image.h"
#include "instance.h"
#include "env.h"
#include "layout.h"
#include "shells.h"
#include "libsure.h"
#include "stats.h"
#include "sure_abi.h"
#include "util.h"
#include "vm.h"

#define MIB (1ull << 20)
/* KVM memory slots ("memslots"; a chain's request slots are another thing). */
#define MEMSLOT_RAM 0
#define MEMSLOT_IO 1
#define MEMSLOT_ATTACHED 2 /* the attachment's regions follow */

_Static_assert((uint64_t)SURE_MEM_MAX_MIB * MIB <= SURE_IO_GPA, "RAM overlaps the I/O areas");
_Static_assert(SURE_IO_GPA + 2ull * SURE_IO_MAX + SURE_SLOT_HEAD_SIZE <= SURE_DOORBELL_GPA,
	       "I/O areas overlap the doorbell page");
_Static_assert(SURE_IO_GPA + SURE_IO_QUEUE_BYTES + SURE_IO_BYTES(SURE_PAGE_SIZE) <=
		       SURE_DOORBELL_GPA,
	       "a queue's slots overlap the doorbell page");
_Static_assert(SURE_IO_QUEUE_MAX <= 8, "slot_of holds a slot in a byte, a slot set in 8 bits");
_Static_assert(sizeof(struct sure_ctrl) <= SURE_PAGE_SIZE, "control page too big");

static uint64_t deadline_after(uint32_t ms)
{
	return ms ? sure_now_ns() + (uint64_t)ms * 1000000ull : UINT64_MAX;
}

void sure_instance_kill(struct sure_instance *inst)
{
	uint64_t one = 1;

	sure_channel_kill(&inst->ch);
	/* Its vCPU thread may sleep on its attachment's fd rather than the channel. */
	if (inst->wake_fd >= 0 && write(inst->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so the sleeper wakes anyway. */
	}
	sure_vcpu_kick(&inst->vcpu);
}

void sure_instance_kill_bogus(struct sure_instance *inst)
{
	sure_fault_record(&inst->fault, SURE_FAULT_PROTOCOL, 0, 0, 0, 0);
	sure_instance_kill(inst);
}

struct sure_instance *sure_instance_alloc(const struct sure_kvm *kvm)
{
	struct sure_instance *inst = calloc(1, sizeof(*inst));

	if (!inst)
		return NULL;
	inst->kvm = kvm;
	inst->born_tsc = __rdtsc();
	inst->tsc_hz = 1000000000ull; /* until its vCPU says (no VM: fuzz targets) */
	inst->vm_fd = -1;
	inst->ram.fd = inst->io.fd = -1;
	inst->vcpu.fd = -1;
	inst->wake_fd = -1;
	inst->status = 200;
	sure_fault_init(&inst->fault);
	pthread_mutex_init(&inst->log_lock, NULL);
	sure_stat_add(SURE_STAT_INSTANCES, 1);
	return inst;
}

SURE_API void sure_instance_destroy(struct sure_instance *inst)
{
	if (!inst)
		return;
	sure_instance_kill(inst);
	sure_vcpu_destroy(&inst->vcpu); /* joins the thread before memory goes away */
	if (inst->att.ops)
		inst->att.ops->release(inst->att.seat, inst);
	if (inst->vm_fd >= 0)
		close(inst->vm_fd);
	sure_shm_destroy(&inst->io);
	sure_shm_destroy(&inst->ram);
	pthread_mutex_destroy(&inst->log_lock);
	sure_fault_fini(&inst->fault);
	free(inst);
	sure_stat_add(SURE_STAT_INSTANCES, -1);
}

/* Guest RAM and the I/O areas, laid out for the image. */
static int build_memory(struct sure_instance *inst, const uint8_t *img,
			const struct sure_image_info *info, const uint8_t *env, uint32_t env_len,
			struct sure_layout_out *lo, char *err, size_t errcap)
{
	int rc = sure_shm_create(&inst->ram, "sure-ram", inst->mem_bytes);

	if (rc == 0)
		rc = sure_shm_create(&inst->io, "sure-io",
				     inst->io_slots * SURE_IO_BYTES(inst->io_cap));
	if (rc < 0)
		return sure_errf(err, errcap, rc, "guest memory: %s", strerror(-rc));
	inst->ctrl = (struct sure_ctrl *)(inst->ram.map + SURE_CTRL_GPA);
	struct sure_region regions[SURE_MAX_REGIONS];
	struct sure_layout_in li = {
		.ram = inst->ram.map,
		.mem_bytes = inst->mem_bytes,
		.io_cap = inst->io_cap,
		.io_slots = inst->io_slots,
		.regions = regions,
		.nregions = inst->att.ops ? inst->att.ops->regions(inst->att.seat, regions) : 0,
		.img = img,
		.info = info,
		.env = env,
		.env_len = env_len,
		.pku = inst->keys,
	};
	rc = sure_layout_build(&li, lo, err, errcap);
	if (rc == 0 && inst->att.ops) {
		inst->att.ops->fill_ctrl(inst->att.seat, inst->ctrl);
		/* Before the guest runs, so the gate can take it as the node's word. */
		if (inst->ctrl->chain_meta_gva)
			sure_gate_set_chain(inst->ram.map, inst->ctrl->chain_step);
	}
	if (rc == 0)
		inst->ctrl->instance_seed = sure_random_u64();
	return rc;
}

int sure_instance_build_vm(struct sure_instance *inst, char *err, size_t errcap)
{
	int rc;

	/* An empty VM made ahead (shells.c) if there is one: no KVM_CREATE_VM here. */
	inst->vm_fd = sure_shell_take();
	if (inst->vm_fd < 0)
		inst->vm_fd = sure_vm_create(inst->kvm, err, errcap);
	if (inst->vm_fd < 0)
		return inst->vm_fd;
	rc = sure_vm_set_slot(inst->vm_fd, MEMSLOT_RAM, 0, inst->ram.map, inst->mem_bytes);
	if (rc == 0)
		rc = sure_vm_set_slot(inst->vm_fd, MEMSLOT_IO, SURE_IO_GPA, inst->io.map,
				      inst->io.size);
	if (rc == 0 && inst->att.ops) {
		struct sure_region r[SURE_MAX_REGIONS];
		uint32_t n = inst->att.ops->regions(inst->att.seat, r);

		for (uint32_t i = 0; rc == 0 && i < n && i < SURE_MAX_REGIONS; i++)
			rc = sure_vm_set_slot_flags(inst->vm_fd, MEMSLOT_ATTACHED + i, r[i].gpa,
						    r[i].host, r[i].size,
						    r[i].writable ? 0 : KVM_MEM_READONLY);
		if (rc == 0 && inst->att.ops->bind_vm)
			inst->att.ops->bind_vm(inst->att.seat, inst->vm_fd);
	}
	if (rc < 0)
		return sure_errf(err, errcap, rc, "KVM_SET_USER_MEMORY_REGION: %s", strerror(-rc));
	rc = sure_vcpu_create(&inst->vcpu, inst->vm_fd, inst->kvm);
	if (rc < 0)
		return sure_errf(err, errcap, rc, "KVM_CREATE_VCPU: %s", strerror(-rc));
	/* The host's own copy of the guest's TSC rate (booted or cloned alike):
	 * the control page's is the guest's to rewrite. */
	int khz = ioctl(inst->vcpu.fd, KVM_GET_TSC_KHZ, 0);
	inst->tsc_hz = khz > 0 ? (uint64_t)khz * 1000 : 1000000000ull;
	return 0;
}

static int boot_cpu(struct sure_instance *inst, const struct sure_layout_out *lo, char *err,
		    size_t errcap)
{
	int khz, rc = sure_cpu_setup(inst->vcpu.fd, inst->kvm, inst->keys, lo->cr3, lo->rip,
				     lo->rsp);

	if (rc < 0)
		return sure_errf(err, errcap, rc, "vCPU setup: %s", strerror(-rc));
	khz = ioctl(inst->vcpu.fd, KVM_GET_TSC_KHZ, 0);
	inst->ctrl->tsc_hz = khz > 0 ? (uint64_t)khz * 1000 : 0;
	sure_gate_set_tsc_hz(inst->ram.map, inst->ctrl->tsc_hz);
	sure_sidecar_init(inst);
	return 0;
}


static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The guest's wall clock: the host's CLOCK_REALTIME paired with the guest's
 * own TSC (read from the vCPU, so it is right whatever TSC offset this VM
 * has), written before every boot and every clone runs: a clone must tell
 * the time of its own start onwards, never its template's. The guest adds
 * (rdtsc - wall_tsc) / tsc_hz. The two host reads around the TSC read bound
 * the pairing error to one KVM_GET_MSRS call.
 */
static void set_wall_clock(struct sure_instance *inst)
{
	uint64_t before = realtime_ns(), tsc;

	if (sure_cpu_guest_tsc(inst->vcpu.fd, &tsc) < 0)
		tsc = __rdtsc(); /* the same domain when KVM took the host's offset 0 */
	uint64_t after = realtime_ns();
	inst->ctrl->wall_tsc = tsc;
	inst->ctrl->wall_ns = before + (after - before) / 2;
}

int sure_instance_start(struct sure_instance *inst, uint32_t timeout_ms, char *err,
			size_t errcap)
{
	uint64_t deadline = deadline_after(timeout_ms);
	int rc;

	sure_channel_init(&inst->ch, inst->ctrl, inst->io_cap);
	if (inst->io_queue)
		sure_channel_set_queue(&inst->ch, inst->io_slots, inst->io_queue >= 2);
	sure_logring_init(&inst->log, inst->ctrl, inst->ram.map + SURE_LOG_GPA, SURE_LOG_SIZE);
	set_wall_clock(inst);
	rc = sure_vcpu_start(inst);
	if (rc < 0)
		return sure_errf(err, errcap, rc, "vCPU thread: %s", strerror(-rc));
	rc = sure_channel_wait_ready(&inst->ch, deadline);
	/* A template source never says ready: its vCPU stops at the snapshot. */
	if (inst->snap && __atomic_load_n(&inst->snapshot_taken, __ATOMIC_ACQUIRE))
		return 0;
	if (rc == -ETIMEDOUT) {
		sure_fault_record(&inst->fault, SURE_FAULT_TIMEOUT, 0, 0, 0, 0);
		return sure_errf(err, errcap, rc, "guest init did not finish within %u ms",
				 timeout_ms);
	}
	if (rc < 0 || inst->snap) {
		char why[160];
		sure_fault_describe(&inst->fault, why, sizeof(why));
		if (rc == 0) /* ready without a snapshot: built against an older libsg */
			snprintf(why, sizeof(why), "it never rang the SNAPSHOT doorbell");
		return sure_errf(err, errcap, -EFAULT, "guest died during init: %s", why);
	}
	return 0;
}

int sure_instance_attach(struct sure_instance *inst, const struct sure_attachment *att)
{
	int rc = att->ops->claim(att->seat, inst);

	if (rc == 0)
		inst->att = *att;
	return rc;
}

SURE_API uint32_t sure_io_slots(uint32_t io_cap)
{
	uint64_t n = SURE_IO_QUEUE_BYTES / SURE_IO_BYTES(io_cap);

	return n < 1 ? 1 : n > SURE_IO_QUEUE_MAX ? SURE_IO_QUEUE_MAX : (uint32_t)n;
}

/* The slots of a new instance: sure_io_slots, or fewer where SURE_IO_SLOTS
 * says at most how many (1: one request at a time, as before ABI 7, for a
 * benchmark's baseline). Never more: the node reserves memory for those. */
static uint32_t slots_for(uint32_t io_cap)
{
	uint32_t n = sure_io_slots(io_cap);
	const char *v = getenv("SURE_IO_SLOTS");
	char *end;
	unsigned long most = v ? strtoul(v, &end, 10) : 0;

	if (v && *v && !*end && most >= 1 && most < n)
		n = (uint32_t)most;
	return n;
}

static int create(const uint8_t *img, size_t len, uint32_t mem_mib, uint32_t io_cap,
		  uint32_t init_timeout_ms, const uint8_t *env, uint32_t env_len,
		  const struct sure_attachment *att,
		  struct sure_cpu_state *snap, struct sure_instance **out, char *err,
		  size_t errcap)
{
	struct sure_image_info info;
	struct sure_layout_out lo;
	struct sure_instance *inst;
	const struct sure_kvm *kvm;
	int rc, keys;

	if (err && errcap)
		err[0] = 0;
	if (!img || !out)
		return sure_errf(err, errcap, -EINVAL, "missing image or handle pointer");
	*out = NULL;
	if (mem_mib < SURE_MEM_MIN_MIB || mem_mib > SURE_MEM_MAX_MIB)
		return sure_errf(err, errcap, -EINVAL, "memory %u MiB is outside %u..%u MiB",
				 mem_mib, SURE_MEM_MIN_MIB, SURE_MEM_MAX_MIB);
	if (io_cap == 0 || io_cap > SURE_IO_MAX)
		return sure_errf(err, errcap, -EINVAL, "io_cap %u is outside 1..%u bytes", io_cap,
				 SURE_IO_MAX);
	rc = sure_env_check(env, env_len, err, errcap);
	if (rc < 0)
		return rc;
	rc = sure_kvm_get(&kvm, err, errcap);
	if (rc < 0)
		return rc;
	rc = sure_image_parse(img, len, (uint64_t)mem_mib * MIB, &info, err, errcap);
	keys = sure_cpu_guest_keys(kvm);
	if (rc == 0)
		rc = sure_image_runnable(&info, keys, err, errcap);
	if (rc < 0)
		return rc;

	inst = sure_instance_alloc(kvm);
	if (!inst)
		return sure_errf(err, errcap, -ENOMEM, "out of memory");
	inst->snap = snap;
	inst->keys = keys;
	if (att && att->ops) {
		rc = sure_instance_attach(inst, att);
		if (rc < 0) {
			sure_errf(err, errcap, rc, "seat %u: %s", att->index,
				  rc == -EEXIST ? "already has an instance" : strerror(-rc));
			goto fail;
		}
	}
	inst->mem_bytes = (uint64_t)mem_mib * MIB;
	inst->io_cap = (uint32_t)((io_cap + SURE_PAGE_SIZE - 1) & ~(SURE_PAGE_SIZE - 1));
	/* A chain step takes its work from its rings: one slot, never used. */
	inst->io_queue = inst->att.ops ? 0 : info.abi_version >= 8 ? 2 : info.abi_version >= 7;
	inst->io_slots = inst->io_queue ? slots_for(inst->io_cap) : 1;
	rc = build_memory(inst, img, &info, env, env_len, &lo, err, errcap);
	if (rc == 0) {
		inst->ctrl->snapshot_wanted = snap != NULL;
		rc = sure_instance_build_vm(inst, err, errcap);
	}
	if (rc == 0)
		rc = boot_cpu(inst, &lo, err, errcap);
	if (rc == 0)
		rc = sure_instance_start(inst, init_timeout_ms, err, errcap);
	if (rc < 0)
		goto fail;
	*out = inst;
	return 0;
fail:
	sure_instance_destroy(inst);
	return rc;
}

int sure_instance_boot(const uint8_t *img, size_t len, uint32_t mem_mib, uint32_t io_cap,
		       uint32_t init_timeout_ms, const uint8_t *env, uint32_t env_len,
		       const struct sure_attachment *att, struct sure_cpu_state *snap,
		       struct sure_instance **out, char *err, size_t errcap)
{
	if (att && att->ops)
		io_cap = att->ops->io_cap;
	return create(img, len, mem_mib, io_cap, init_timeout_ms, env, env_len, att, snap, out,
		      err, errcap);
}

SURE_API int sure_instance_create(const uint8_t *img, size_t len, uint32_t mem_mib,
				  uint32_t io_cap, uint32_t init_timeout_ms, const uint8_t *env,
				  uint32_t env_len, struct sure_instance **out, char *err,
				  size_t errcap)
{
	return create(img, len, mem_mib, io_cap, init_timeout_ms, env, env_len, NULL, NULL, out,
		      err, errcap);
}

static uint8_t *slot_base(struct sure_instance *inst, uint32_t s)
{
	return inst->io.map + (uint64_t)(s < inst->io_slots ? s : 0) * SURE_IO_BYTES(inst->io_cap);
}

uint8_t *sure_instance_slot_req(struct sure_instance *inst, uint32_t s)
{
	return slot_base(inst, s);
}

uint8_t *sure_instance_slot_resp(struct sure_instance *inst, uint32_t s)
{
	return slot_base(inst, s) + inst->io_cap;
}

uint8_t *sure_instance_slot_req_head(struct sure_instance *inst, uint32_t s)
{
	return slot_base(inst, s) + 2ull * inst->io_cap;
}

uint8_t *sure_instance_slot_resp_head(struct sure_instance *inst, uint32_t s)
{
	return slot_base(inst, s) + 2ull * inst->io_cap + SURE_REQ_HEAD_CAP;
}

/* The exported accessors name slot 0: the one sure_instance_invoke uses. */
SURE_API uint8_t *sure_instance_req_buf(struct sure_instance *inst)
{
	return inst ? sure_instance_slot_req(inst, 0) : NULL;
}

SURE_API uint8_t *sure_instance_resp_buf(struct sure_instance *inst)
{
	return inst ? sure_instance_slot_resp(inst, 0) : NULL;
}

SURE_API uint8_t *sure_instance_req_head(struct sure_instance *inst)
{
	return inst ? sure_instance_slot_req_head(inst, 0) : NULL;
}

SURE_API uint8_t *sure_instance_resp_head(struct sure_instance *inst)
{
	return inst ? sure_instance_slot_resp_head(inst, 0) : NULL;
}

SURE_API uint32_t sure_instance_io_slots(struct sure_instance *inst)
{
	return inst ? inst->io_slots : 0;
}

SURE_API uint32_t sure_instance_io_cap(struct sure_instance *inst)
{
	return inst ? inst->io_cap : 0;
}

/* The function's status, if it is one; 0 means "not set". */
static int checked_status(int32_t s)
{
	if (s == 0)
		return 200;
	if (s < 100 || s > 599)
		return 502; /* the function answered garbage: a gateway error */
	return s;
}

/* What an answer (or its absence) means for the instance: shared by the
 * blocking invoke and the data plane's poll. rc: from sure_channel_wait/poll. */
static int finish(struct sure_instance *inst, int rc, uint32_t timeout_ms)
{
	if (rc >= 0) {
		inst->status = checked_status(inst->ch.ans.status);
		if (inst->ch.ans.reason != SURE_REASON_WITHDRAWN) /* that one never ran */
			inst->requests++;
	} else if (rc == -ETIMEDOUT) {
		sure_fault_record(&inst->fault, SURE_FAULT_TIMEOUT, 0, timeout_ms, 0, 0);
		sure_instance_kill(inst);
	} else if (rc == -EPROTO) {
		sure_fault_record(&inst->fault, SURE_FAULT_PROTOCOL, 0, inst->ch.ans.len, 0, 0);
		sure_instance_kill(inst);
	} else if (rc == -EPIPE) {
		rc = -EFAULT; /* it died under this request; the fault says why */
	}
	sure_channel_end(&inst->ch);
	return rc;
}

/* Posts a request of req_len bytes in slot `slot`, with the trace context
 * set last and the TSC now (the guest's deadline clock). */
static int post(struct sure_instance *inst, uint32_t slot, uint32_t req_len)
{
	struct sure_io_req req = {
		.slot = slot, .len = req_len, .tsc = __rdtsc(), .trace = inst->next_trace
	};

	if (!sure_sidecar_take(inst))
		return -EDQUOT; /* over the rate limit the node set: never posted */
	return sure_channel_begin(&inst->ch, &req);
}

SURE_API int sure_instance_invoke(struct sure_instance *inst, uint32_t req_len,
				  uint32_t timeout_ms)
{
	if (!inst)
		return -EINVAL;
	uint64_t deadline = deadline_after(timeout_ms);
	int rc = post(inst, 0, req_len);
	if (rc < 0)
		return rc;
	return finish(inst, sure_channel_wait(&inst->ch, deadline), timeout_ms);
}

int sure_instance_post(struct sure_instance *inst, uint32_t slot, uint32_t req_len,
		       int notify_fd)
{
	__atomic_store_n(&inst->ch.notify_fd, notify_fd, __ATOMIC_RELEASE);
	/* The poller is awake now: it asks for NOTIFY before it sleeps. */
	sure_store(&inst->ctrl->host_waiting, 0);
	return post(inst, slot, req_len);
}

int sure_instance_poll(struct sure_instance *inst, int arm, uint32_t *slot)
{
	int rc = sure_channel_poll(&inst->ch, arm);

	if (rc == -EAGAIN)
		return rc;
	/* Before finish takes it: the poll skipped withdrawn requests' answers. */
	*slot = sure_channel_oldest_slot(&inst->ch);
	return finish(inst, rc, 0);
}

int sure_instance_withdraw(struct sure_instance *inst, uint32_t keep)
{
	return sure_channel_withdraw(&inst->ch, keep);
}

void sure_instance_expire(struct sure_instance *inst, uint32_t timeout_ms)
{
	finish(inst, -ETIMEDOUT, timeout_ms);
}

SURE_API int sure_instance_sleeping(struct sure_instance *inst)
{
	if (!inst)
		return -EINVAL;
	if (sure_channel_dead(&inst->ch))
		return -EPIPE;
	return sure_load(&inst->ch.vcpu_sleeping) ? 1 : 0;
}

SURE_API int sure_instance_set_spin(struct sure_instance *inst, uint32_t us)
{
	if (!inst)
		return -EINVAL;
	inst->spin_us = us;
	sure_store(&inst->ctrl->spin_us, us);
	return 0;
}

SURE_API int sure_instance_stop(struct sure_instance *inst)
{
	if (!inst)
		return -EINVAL;
	sure_instance_kill(inst);
	return 0;
}

SURE_API int sure_instance_status(struct sure_instance *inst)
{
	return inst ? inst->status : 0;
}

SURE_API int sure_instance_fault(struct sure_instance *inst, struct sure_fault_info *out,
				 size_t size)
{
	if (!inst || !out || size != sizeof(*out))
		return -EINVAL;
	sure_fault_get(&inst->fault, out);
	return 0;
}

SURE_API int sure_instance_read_log(struct sure_instance *inst, uint8_t *buf, size_t cap)
{
	size_t n;

	if (!inst || (!buf && cap))
		return -EINVAL;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	pthread_mutex_lock(&inst->log_lock);
	n = sure_logring_drain(&inst->log, buf, cap);
	pthread_mutex_unlock(&inst->log_lock);
	return (int)n;
}

SURE_API uint64_t sure_instance_requests(struct sure_instance *inst)
{
	return inst ? inst->requests : 0;
}
