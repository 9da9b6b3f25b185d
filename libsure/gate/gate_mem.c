/*
 * gate_mem.c - how a gate touches the function's memory: only through
 * pointers gate_user_ok() allows, and with its own copy loop (the gate links
 * against nothing).
 */
#include "gate.h"

void gate_copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
}

int gate_user_ok(uint64_t p, uint64_t n)
{
	const struct sure_gstate *g = gate_state();

	if (p + n < p)
		return 0;
	if (p >= SURE_CTRL_GPA && p + n <= SURE_CTRL_GPA + SURE_PAGE_SIZE)
		return 1;
	return p >= g->user_lo && p + n <= g->user_hi && g->user_lo >= SURE_IMAGE_BASE;
}
