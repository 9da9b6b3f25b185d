/*
 * exit.h - how the guest stops (exit.c): the EXIT doorbell, and the hook
 * that writes out unfinished stdout/stderr lines before it and after each
 * request.
 */
#ifndef SG_EXIT_H
#define SG_EXIT_H

#include <stdint.h>

/* Writes out unfinished stdout/stderr lines. stdio.c installs it when a
 * stream is first written (exit.c holds it), so an image whose function
 * never uses stdio does not link stdio in, and exit, abort and the loops,
 * which stdio itself stands on, never name it. */
extern void (*sg_stdio_flusher)(void);
static inline void sg_flush_stdio(void)
{
	if (sg_stdio_flusher)
		sg_stdio_flusher();
}

/* Rings EXIT with code and never returns. */
__attribute__((noreturn)) void sg_exit(uint64_t code);

#endif
