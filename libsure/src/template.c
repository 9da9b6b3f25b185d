/*
 * template.c - function templates and their copy-on-write clones.
 *
 * A template is one booted instance of a function, stopped by its own
 * SNAPSHOT doorbell right after sure_init: its guest RAM (a memfd nobody
 * writes any more) and its vCPU registers. A clone maps that memfd
 * MAP_PRIVATE, so it shares every page it only reads with the template and
 * with its sibling clones, and gets a private copy of a page when it writes
 * one; it needs a new VM, a vCPU with the saved registers and its own
 * request/response areas, and nothing of init runs again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu.h"
#include "instance.h"
#include "libsure.h"
#include "shm.h"
#include "template.h"
#include "sure_abi.h"
#include "util.h"

struct sure_template {
	const struct sure_kvm *kvm;
	/* An attached template (a chain step's): its page tables and control
	 * page are laid out for that seat, so it clones into that seat only. */
	struct sure_attachment att;
	int ram_fd; /* the template's guest RAM; clones map it copy-on-write */
	uint64_t mem_bytes;
	uint32_t io_cap;
	uint32_t io_slots, io_queue; /* as the source instance had them */
	struct sure_cpu_state cpu;
	uint32_t clones; /* clones made so far; the next one's instance_no - 1 */
	uint8_t *log; /* what the template's init logged, handed out once */
	size_t log_len;
};

int sure_template_make(const uint8_t *img, size_t len, uint32_t mem_mib, uint32_t io_cap,
		       uint32_t init_timeout_ms, const uint8_t *env, uint32_t env_len,
		       const struct sure_attachment *att, struct sure_template **out, char *err,
		       size_t errcap)
{
	struct sure_instance *src;
	struct sure_template *t;
	int rc;

	if (err && errcap)
		err[0] = 0;
	if (!out)
		return sure_errf(err, errcap, -EINVAL, "missing handle pointer");
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t)
		t->log = malloc(SURE_LOG_SIZE);
	if (!t || !t->log) {
		free(t);
		return sure_errf(err, errcap, -ENOMEM, "out of memory");
	}
	rc = sure_instance_boot(img, len, mem_mib, io_cap, init_timeout_ms, env, env_len, att,
				&t->cpu, &src, err, errcap);
	if (rc < 0) {
		free(t->log);
		free(t);
		return rc;
	}
	/* The vCPU thread has stopped for good: nobody writes this RAM again. */
	rc = sure_instance_read_log(src, t->log, SURE_LOG_SIZE);
	t->log_len = rc > 0 ? (size_t)rc : 0;
	t->kvm = src->kvm;
	if (att)
		t->att = *att;
	t->mem_bytes = src->mem_bytes;
	t->io_cap = src->io_cap;
	t->io_slots = src->io_slots;
	t->io_queue = src->io_queue;
	t->ram_fd = src->ram.fd;
	src->ram.fd = -1; /* the template owns the memfd now; destroy only unmaps it */
	sure_instance_destroy(src);
	*out = t;
	return 0;
}

SURE_API int sure_template_create(const uint8_t *img, size_t len, uint32_t mem_mib,
				  uint32_t io_cap, uint32_t init_timeout_ms, const uint8_t *env,
				  uint32_t env_len, struct sure_template **out, char *err,
				  size_t errcap)
{
	return sure_template_make(img, len, mem_mib, io_cap, init_timeout_ms, env, env_len, NULL,
				  out, err, errcap);
}

SURE_API void sure_template_destroy(struct sure_template *t)
{
	if (!t)
		return;
	/* Clones keep their own mappings of the memfd: they live on. */
	close(t->ram_fd);
	free(t->log);
	free(t);
}

SURE_API int sure_template_read_log(struct sure_template *t, uint8_t *buf, size_t cap)
{
	size_t n;

	if (!t || (!buf && cap))
		return -EINVAL;
	n = t->log_len < cap ? t->log_len : cap;
	memcpy(buf, t->log, n);
	t->log_len = 0;
	return (int)n;
}

SURE_API uint64_t sure_template_resident(struct sure_template *t)
{
	struct stat st;

	if (!t || fstat(t->ram_fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512u;
}

SURE_API uint32_t sure_template_clones(struct sure_template *t)
{
	return t ? __atomic_load_n(&t->clones, __ATOMIC_RELAXED) : 0;
}

/* The host's fields of a clone's control page, in its private copy. */
static void personalize(struct sure_instance *inst, struct sure_template *t)
{
	struct sure_ctrl *c = inst->ctrl;

	c->snapshot_wanted = 0;
	c->host_waiting = 0;
	c->instance_no = __atomic_add_fetch(&t->clones, 1, __ATOMIC_RELAXED);
	c->instance_seed = sure_random_u64();
}

SURE_API int sure_instance_clone(struct sure_template *t, uint32_t start_timeout_ms,
				 struct sure_instance **out, char *err, size_t errcap)
{
	struct sure_instance *inst;
	int rc;

	if (err && errcap)
		err[0] = 0;
	if (!t || !out)
		return sure_errf(err, errcap, -EINVAL, "missing template or handle pointer");
	*out = NULL;
	inst = sure_instance_alloc(t->kvm);
	if (!inst)
		return sure_errf(err, errcap, -ENOMEM, "out of memory");
	if (t->att.ops) {
		rc = sure_instance_attach(inst, &t->att);
		if (rc < 0) {
			sure_errf(err, errcap, rc, "seat %u already has an instance", t->att.index);
			goto fail;
		}
	}
	inst->mem_bytes = t->mem_bytes;
	inst->io_cap = t->io_cap;
	inst->io_slots = t->io_slots;
	inst->io_queue = t->io_queue;
	rc = sure_shm_map_private(t->ram_fd, t->mem_bytes, &inst->ram.map);
	if (rc == 0) {
		inst->ram.size = t->mem_bytes;
		rc = sure_shm_create(&inst->io, "sure-io", t->io_slots * SURE_IO_BYTES(t->io_cap));
	}
	if (rc < 0) {
		sure_errf(err, errcap, rc, "clone memory: %s", strerror(-rc));
		goto fail;
	}
	inst->ctrl = (struct sure_ctrl *)(inst->ram.map + SURE_CTRL_GPA);
	personalize(inst, t);
	rc = sure_instance_build_vm(inst, err, errcap);
	if (rc == 0) {
		rc = sure_cpu_restore(inst->vcpu.fd, inst->kvm, &t->cpu);
		if (rc < 0)
			sure_errf(err, errcap, rc, "vCPU restore: %s", strerror(-rc));
	}
	if (rc == 0)
		rc = sure_instance_start(inst, start_timeout_ms, err, errcap);
	if (rc < 0)
		goto fail;
	*out = inst;
	return 0;
fail:
	sure_instance_destroy(inst);
	return rc;
}
