/*
 * log.c - sure_log: one line per call into the log ring shared with the host
 * (no VM exit). The guest owns log_head, the host owns log_tail; a line that
 * does not fit whole is dropped and counted, never cut.
 */
#include "sg.h"

#define LOG_LINE_MAX 512 /* longer messages are cut and end in "..." */

void sg_log_line(const char *text, size_t n)
{
	struct sure_ctrl *c = sg_ctrl();
	uint8_t *ring = (uint8_t *)(uintptr_t)SURE_LOG_GPA;
	uint32_t size = c->log_size;
	uint32_t head = c->log_head; /* only we write it */
	/* Acquire: the host has copied out everything before tail. */
	uint32_t tail = sg_load(&c->log_tail);
	uint32_t used = head - tail;
	size_t total = n + 1; /* with the '\n' */

	/* The mapped ring is SURE_LOG_SIZE bytes: never trust a bigger size. */
	if (size == 0 || size > SURE_LOG_SIZE || used > size || total > size - used) {
		__atomic_store_n(&c->log_dropped, c->log_dropped + (uint32_t)total,
				 __ATOMIC_RELAXED);
		return;
	}
	/* Bytes go contiguously from head % size, wrapping at size: the host
	 * reads them back the same way (logring.c copy_out). */
	uint32_t at = head % size;
	for (size_t i = 0; i < n; i++) {
		ring[at] = (uint8_t)text[i];
		if (++at == size)
			at = 0;
	}
	ring[at] = '\n';
	/* Release: the bytes are in the ring before the host sees the new head. */
	sg_store(&c->log_head, head + (uint32_t)total);
}

void sure_log(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct sg_sink s = { line, sizeof(line), 0 };
	va_list ap;

	va_start(ap, fmt);
	sg_vformat(&s, fmt ? fmt : "(null)", ap);
	va_end(ap);
	if (s.len > sizeof(line)) {
		memcpy(line + sizeof(line) - 3, "...", 3);
		s.len = sizeof(line);
	}
	/* One call is one line: a newline inside the text would split it. */
	for (size_t i = 0; i < s.len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	sg_log_line(line, s.len);
}
