/*
 * logring.h - the host's drain of a guest log ring (sure_abi.h): the guest
 * appends bytes and advances log_head; the host copies whole lines out and
 * advances its tail. Both counters are free-running uint32 byte counts and
 * byte c lives at ring[c % size].
 */
#ifndef SURE_LOGRING_H
#define SURE_LOGRING_H

#include <stddef.h>
#include <stdint.h>

#include "sure_abi.h"

struct sure_logring {
	struct sure_ctrl *ctrl; /* log_head is read from here, log_tail published here */
	const uint8_t *ring; /* host view of the ring bytes */
	uint32_t size;
	uint32_t tail; /* the host's own tail: the guest cannot move it */
	uint64_t resets; /* times the guest's head was impossible and was skipped */
};

void sure_logring_init(struct sure_logring *lr, struct sure_ctrl *ctrl, const uint8_t *ring,
		       uint32_t size);
/*
 * Copies whole lines (up to cap bytes) into buf and consumes them; returns
 * the byte count (0 if no complete line is there). A line that cannot
 * complete - longer than cap, or filling the whole ring - comes out cut, so
 * one runaway line cannot stall the log. Single consumer.
 */
size_t sure_logring_drain(struct sure_logring *lr, uint8_t *buf, size_t cap);

#endif
