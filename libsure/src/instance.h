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

struct sure_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	int started;
};

struct sure_instance {
	const struct sure_kvm *kvm;
	int vm_fd;
	struct sure_shm ram; /* slot 0 at GPA 0 */
	struct sure_shm io; /* slot 1 at SURE_IO_GPA: request area, response area */
	uint64_t mem_bytes;
	uint32_t io_cap; /* bytes per area, page aligned */
	struct sure_ctrl *ctrl; /* host view of the control page */
	struct sure_channel ch;
	struct sure_fault fault;
	struct sure_vcpu vcpu;
	pthread_mutex_t log_lock;
	struct sure_logring log;
	int status; /* host copy of the last checked resp_status */
	uint64_t requests; /* answers the host accepted */
	struct sure_chain *chain; /* NULL for a plain function instance */
	uint32_t step; /* this instance's step in chain */
	/* Template source only: where the vCPU thread saves the state at the
	 * SNAPSHOT doorbell; snapshot_taken is set (release) once it did. */
	struct sure_cpu_state *snap;
	uint32_t snapshot_taken;
};

/* ---- vcpu.c ---- */

/* Creates vCPU 0 of vm_fd and maps its kvm_run area. */
int sure_vcpu_create(struct sure_vcpu *v, int vm_fd, const struct sure_kvm *kvm);
/* Starts the thread that runs inst's vCPU until the instance dies. */
int sure_vcpu_start(struct sure_instance *inst);
/* Makes a running KVM_RUN return now (the thread then sees the dead channel). */
void sure_vcpu_kick(struct sure_vcpu *v);
/* Joins the thread (if started), unmaps and closes. */
void sure_vcpu_destroy(struct sure_vcpu *v);

/* ---- instance.c, shared with template.c ---- */

/* A zeroed instance with no resources yet (counted in sure_stats). */
struct sure_instance *sure_instance_alloc(const struct sure_kvm *kvm);
/* The VM, its memory slots (ram and io must exist) and vCPU 0, not yet set up. */
int sure_instance_build_vm(struct sure_instance *inst, char *err, size_t errcap);
/* Starts the vCPU thread and waits until the guest is ready (or snapshotted). */
int sure_instance_start(struct sure_instance *inst, uint32_t timeout_ms, char *err,
			size_t errcap);
/* Boots an instance (of chain step `step` if chain is set); with snap set it
 * stops at the SNAPSHOT doorbell. */
int sure_instance_boot(const uint8_t *img, size_t len, uint32_t mem_mib, uint32_t io_cap,
		       uint32_t init_timeout_ms, struct sure_chain *chain, uint32_t step,
		       struct sure_cpu_state *snap, struct sure_instance **out, char *err,
		       size_t errcap);
/* Reserves chain step `step` for inst (-EEXIST if it has an instance). */
int sure_instance_attach(struct sure_instance *inst, struct sure_chain *chain, uint32_t step);

/* ---- sidecar.c ---- */

/* Stamps the request the host is about to post (the guest's deadline clock). */
void sure_sidecar_stamp(struct sure_instance *inst);

/* Stops the instance: channel dead, every waiter woken, vCPU kicked. */
void sure_instance_kill(struct sure_instance *inst);
/* Stops an instance that sent a bogus descriptor (recorded as a protocol fault). */
void sure_instance_kill_bogus(struct sure_instance *inst);

#endif
