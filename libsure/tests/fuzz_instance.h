/*
 * fuzz_instance.h - a plain-function instance with no VM behind it, for fuzz
 * targets of host code that reads guest memory through a struct
 * sure_instance (the control page, the log ring, the sidecar page).
 *
 * sure_instance_alloc() makes the struct as instance.c does; guest RAM is
 * then a heap block that ends right after the last guest page the host reads
 * without a VM (the sidecar page, struct sure_sidecar): ASan reports any read
 * past it, which mmap'ed memory would not. The channel and the log ring are
 * set up as sure_instance_start() sets them up before the vCPU runs. Nothing
 * here starts a thread or opens /dev/kvm.
 */
#ifndef SURE_FUZZ_INSTANCE_H
#define SURE_FUZZ_INSTANCE_H

#include <stdlib.h>
#include <x86intrin.h>

#include "instance.h"
#include "sure_abi.h"

#define FUZZ_IO_CAP 4096u
#define FUZZ_RAM_BYTES (SURE_SIDECAR_GPA + sizeof(struct sure_sidecar))

_Static_assert(SURE_CTRL_GPA + sizeof(struct sure_ctrl) <= SURE_LOG_GPA, "ctrl page layout");
_Static_assert(SURE_LOG_GPA + SURE_LOG_SIZE <= SURE_SIDECAR_GPA, "log ring layout");

/* req_seq: what the control page held before the host took it over (a clone's
 * page comes from its template, which the guest could write). slots: 0 for
 * the single-request protocol (images before ABI 7), else ABI 7's queue. */
static inline struct sure_instance *fuzz_instance_new(uint32_t req_seq, uint32_t slots)
{
	struct sure_instance *inst = sure_instance_alloc(NULL);
	uint8_t *ram = calloc(1, FUZZ_RAM_BYTES);
	uint32_t nslots = slots ? slots : 1;
	uint8_t *io = calloc(nslots, SURE_IO_BYTES(FUZZ_IO_CAP));

	if (!inst || !ram || !io)
		abort();
	/* size 0: sure_instance_destroy() leaves these blocks to fuzz_instance_free(). */
	inst->ram.map = ram;
	inst->ram.size = 0;
	inst->io.map = io;
	inst->io.size = 0;
	inst->io_cap = FUZZ_IO_CAP;
	inst->io_slots = nslots;
	inst->io_queue = slots > 0 ? 2 : 0; /* ABI 8: withdrawals too */
	inst->mem_bytes = FUZZ_RAM_BYTES;
	inst->ctrl = (struct sure_ctrl *)(ram + SURE_CTRL_GPA);
	inst->ctrl->magic = SURE_CTRL_MAGIC;
	inst->ctrl->abi_version = SURE_ABI_VERSION;
	inst->ctrl->io_cap = FUZZ_IO_CAP;
	inst->ctrl->log_size = SURE_LOG_SIZE;
	inst->ctrl->io_slots = nslots;
	inst->ctrl->req_seq = req_seq;
	sure_channel_init(&inst->ch, inst->ctrl, inst->io_cap);
	if (inst->io_queue)
		sure_channel_set_queue(&inst->ch, nslots, inst->io_queue >= 2);
	sure_logring_init(&inst->log, inst->ctrl, ram + SURE_LOG_GPA, SURE_LOG_SIZE);
	return inst;
}

/* How long the instance has lived, in the host's clock and its TSC rate
 * (sidecar.c): the longest any time the host reports of it may be. */
static inline uint64_t fuzz_instance_lived_ns(struct sure_instance *inst)
{
	uint64_t hz = inst->tsc_hz ? inst->tsc_hz : 1000000000ull;

	return (uint64_t)((unsigned __int128)(__rdtsc() - inst->born_tsc) * 1000000000u / hz);
}

static inline uint8_t *fuzz_instance_ram(struct sure_instance *inst)
{
	return inst->ram.map;
}

static inline void fuzz_instance_free(struct sure_instance *inst)
{
	uint8_t *ram = inst->ram.map, *io = inst->io.map;

	sure_instance_destroy(inst);
	free(ram);
	free(io);
}

#endif
