/*
 * uring.c - the io_uring of uring.h: setup, the two rings, submit and wait.
 *
 * One thread owns the ring, so the only ordering that matters is with the
 * kernel: our tail is published with a release store after the entries are
 * written, and the kernel's tails are read with acquire loads before the
 * entries are.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uring.h"
#include "util.h"

/* Operations the server submits (http_uring.c). */
static const uint8_t needed_ops[] = { IORING_OP_RECV, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL };

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	long rc = syscall(__NR_io_uring_setup, entries, p);
	return rc < 0 ? -errno : (int)rc;
}

static int sys_enter(int fd, unsigned submit, unsigned min, unsigned flags, void *arg, size_t sz)
{
	long rc = syscall(__NR_io_uring_enter, fd, submit, min, flags, arg, sz);
	return rc < 0 ? -errno : (int)rc;
}

static int probe_ops(int fd)
{
	size_t len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *p = calloc(1, len);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_PROBE, p, 256) < 0) {
		rc = -errno;
	} else {
		for (size_t i = 0; i < sizeof(needed_ops); i++)
			if (needed_ops[i] > p->last_op ||
			    !(p->ops[needed_ops[i]].flags & IO_URING_OP_SUPPORTED))
				rc = -EOPNOTSUPP;
	}
	free(p);
	return rc;
}

/* Setup flags, best first: completions handled only when the loop asks for
 * them (no interrupt of the thread, batched: 6.1), then cooperative task
 * running (5.19). Older kernels are refused: recv's POLL_FIRST (http_uring.c)
 * is 5.19's too. */
static const unsigned setup_flags[] = {
	IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
};


int uring_open(struct uring *r, unsigned sq_entries, unsigned cq_entries)
{
	struct io_uring_params p;
	int fd = -EINVAL, rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	for (size_t i = 0; i < sizeof(setup_flags) / sizeof(setup_flags[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = setup_flags[i];
		p.cq_entries = cq_entries;
		fd = sys_setup(sq_entries, &p);
		if (fd != -EINVAL)
			break; /* EINVAL: a flag this kernel does not know */
	}
	if (fd == -EINVAL)
		return -EOPNOTSUPP; /* before 5.19 */
	if (fd < 0)
		return fd;
	r->fd = fd;
	/* No dropped completions, and a timeout on the wait. */
	if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_EXT_ARG) ||
	    !(p.features & IORING_FEAT_SINGLE_MMAP)) {
		rc = -EOPNOTSUPP;
		goto fail;
	}
	rc = probe_ops(fd);
	if (rc < 0)
		goto fail;
	r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (r->cq_map_len > r->sq_map_len)
		r->sq_map_len = r->cq_map_len; /* one mapping holds both rings */
	r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 fd, IORING_OFF_SQ_RING);
	if (r->sq_map == MAP_FAILED) {
		r->sq_map = NULL;
		rc = -errno;
		goto fail;
	}
	r->cq_map = r->sq_map;
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		       IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		rc = -errno;
		goto fail;
	}
	char *sq = r->sq_map, *cq = r->cq_map;
	r->sq_head = (unsigned *)(sq + p.sq_off.head);
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_entries = p.sq_entries;
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->sq_local = *r->sq_tail;
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	/* Slot i of the array always names entry i: entries are used in order. */
	for (unsigned i = 0; i < p.sq_entries; i++)
		r->sq_array[i] = i;
	return 0;
fail:
	uring_close(r);
	return rc;
}

void uring_close(struct uring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->sq_map)
		munmap(r->sq_map, r->sq_map_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Publishes our tail: the kernel sees the entries written before it. */
static void publish(struct uring *r)
{
	sure_store(r->sq_tail, r->sq_local);
}

struct io_uring_sqe *uring_sqe(struct uring *r)
{
	for (int tries = 0; tries < 2; tries++) {
		unsigned head = sure_load(r->sq_head);
		if (r->sq_local - head < r->sq_entries) {
			struct io_uring_sqe *sqe = &r->sqes[r->sq_local & r->sq_mask];
			memset(sqe, 0, sizeof(*sqe));
			r->sq_local++;
			return sqe;
		}
		/* Full: hand the kernel what is queued, without waiting. */
		publish(r);
		if (sys_enter(r->fd, r->sq_local - head, 0, 0, NULL, 0) < 0)
			return NULL;
	}
	return NULL;
}

int uring_wait(struct uring *r, unsigned min_complete, uint64_t timeout_ns)
{
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(timeout_ns / 1000000000ull),
		.tv_nsec = (long long)(timeout_ns % 1000000000ull),
	};
	struct io_uring_getevents_arg arg = {
		.sigmask = 0,
		.sigmask_sz = _NSIG / 8,
		.ts = timeout_ns == UINT64_MAX ? 0 : (uint64_t)(uintptr_t)&ts,
	};
	unsigned submit = r->sq_local - sure_load(r->sq_head);

	publish(r);
	int rc = sys_enter(r->fd, submit, min_complete,
			   IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return rc < 0 ? rc : 0;
}

struct io_uring_cqe *uring_cqe(struct uring *r)
{
	unsigned head = *r->cq_head;

	if (head == sure_load(r->cq_tail))
		return NULL;
	return &r->cqes[head & r->cq_mask];
}

void uring_cqe_done(struct uring *r)
{
	sure_store(r->cq_head, *r->cq_head + 1);
}
