/*
 * gate_mem.c - how a gate touches the function's memory: only through
 * pointers gate_user_ok() allows, and with its own copy loop (the gate links
 * against nothing).
 */
#include "gate.h"

/* A word that may lie anywhere and alias anything. */
typedef uint64_t __attribute__((may_alias, aligned(1))) gate_word;

/* Eight bytes a step, then bytes: the copies of a hand-off (its trace ids,
 * the take and give records) were ~160 single-byte moves, about a sixth of a
 * hop between two polling steps. */
void gate_copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	for (; n >= 8; n -= 8, d += 8, s += 8)
		*(gate_word *)d = *(const gate_word *)s;
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
