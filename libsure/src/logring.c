/* logring.c - see logring.h. */
#include "logring.h"

#include <string.h>

#include "util.h"

void sure_logring_init(struct sure_logring *lr, struct sure_ctrl *ctrl, const uint8_t *ring,
		       uint32_t size)
{
	lr->ctrl = ctrl;
	lr->ring = ring;
	lr->size = size;
	/* 0 on a fresh control page; a clone goes on from its template's cursor,
	 * so the lines its template's init wrote are not read twice. */
	lr->tail = sure_load(&ctrl->log_tail);
	lr->resets = 0;
}

static void copy_out(const struct sure_logring *lr, uint8_t *dst, uint32_t from, size_t n)
{
	uint32_t at = from % lr->size;
	size_t first = lr->size - at;

	if (first > n)
		first = n;
	memcpy(dst, lr->ring + at, first);
	memcpy(dst + first, lr->ring, n - first);
}

size_t sure_logring_drain(struct sure_logring *lr, uint8_t *buf, size_t cap)
{
	/* Acquire: the bytes before head are written before we look at them. */
	uint32_t head = sure_load(&lr->ctrl->log_head);
	uint32_t avail = head - lr->tail;
	size_t n, keep;

	if (avail > lr->size) {
		/* More unread bytes than the ring holds (or head went backwards): the
		 * guest lied. Nothing in the ring can be trusted to be a line start,
		 * so skip to its head. */
		lr->resets++;
		lr->tail = head;
		sure_store(&lr->ctrl->log_tail, head);
		return 0;
	}
	n = avail < cap ? avail : cap;
	if (n == 0 || !buf)
		return 0;
	copy_out(lr, buf, lr->tail, n);
	keep = n;
	while (keep > 0 && buf[keep - 1] != '\n')
		keep--;
	if (keep == 0) {
		if (n < cap && avail < lr->size)
			return 0; /* a partial line: wait for its end */
		keep = n; /* cannot ever complete here: hand it out cut */
	}
	lr->tail += (uint32_t)keep;
	/* Release: the guest may reuse the space once it sees the new tail. */
	sure_store(&lr->ctrl->log_tail, lr->tail);
	return keep;
}
