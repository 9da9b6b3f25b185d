/*
 * uring.h - internal: a minimal io_uring of our own (the raw syscalls, no
 * liburing, so that libsure needs no library the edge node may lack), for
 * one thread: the HTTP server's loop submits and reaps on it.
 *
 * It is used where it saves syscalls: a recv submitted with the loop's wait
 * costs no syscall of its own (see http_uring.c). uring_open() refuses a
 * kernel (or a seccomp policy) that lacks what that needs, and the caller
 * then stays on epoll.
 */
#ifndef SURE_URING_H
#define SURE_URING_H

#include <linux/io_uring.h>
#include <stddef.h>
#include <stdint.h>

struct uring {
	int fd;
	/* Submission ring: the kernel reads [*sq_head, *sq_tail); sq_local is
	 * our tail, published at the next enter. */
	unsigned *sq_head, *sq_tail, *sq_array, sq_mask, sq_entries, sq_local;
	struct io_uring_sqe *sqes;
	/* Completion ring: we read [*cq_head, *cq_tail). */
	unsigned *cq_head, *cq_tail, cq_mask;
	struct io_uring_cqe *cqes;
	void *sq_map, *cq_map;
	size_t sq_map_len, cq_map_len, sqes_len;
};

/* A ring of sq_entries submissions and cq_entries completions. Set up by
 * the thread that uses it, and by no other: that thread is its only issuer
 * (6.0+), and when the ring closes the kernel interrupts every thread that
 * touched it (TIF_NOTIFY_SIGNAL: a recv with SO_RCVTIMEO in that thread fails
 * with EINTR), which must not be the caller's. 0, or -errno: -ENOSYS/-EPERM
 * (no io_uring here), -EOPNOTSUPP (an operation or feature we need is missing). */
int uring_open(struct uring *r, unsigned sq_entries, unsigned cq_entries);
void uring_close(struct uring *r);
/* The next submission entry, zeroed, or NULL when the ring is full even
 * after submitting what was queued. */
struct io_uring_sqe *uring_sqe(struct uring *r);
/* Submits what is queued and waits for at least min_complete completions or
 * timeout_ns (UINT64_MAX: no limit). 0 or -errno (-ETIME, -EINTR: just go on). */
int uring_wait(struct uring *r, unsigned min_complete, uint64_t timeout_ns);
/* The oldest completion not yet consumed, or NULL; uring_cqe_done consumes it. */
struct io_uring_cqe *uring_cqe(struct uring *r);
void uring_cqe_done(struct uring *r);

#endif
