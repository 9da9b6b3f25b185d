/*
 * exit.c - giving up: sure_abort(), abort(), exit() and the EXIT doorbell.
 * The host stops the vCPU on EXIT and answers the request 502. Unfinished
 * stdout/stderr lines are written to the log first.
 */
#include <stdlib.h>

#include "sg.h"

__attribute__((noreturn)) void sg_exit(uint64_t code)
{
	sg_doorbell(SURE_DOORBELL_EXIT, code);
	/* The host never resumes after EXIT; if it did, a #UD stops us for good. */
	for (;;)
		__asm__ volatile("ud2");
}

__attribute__((noreturn)) void sure_abort(const char *why)
{
	/* The reason goes to the log first: the doorbell carries only a code. */
	sg_flush_stdio();
	sure_log("sure_abort: %s", why ? why : "(no reason)");
	sg_exit(SURE_EXIT_ABORT);
}

__attribute__((noreturn)) void abort(void)
{
	sure_abort("abort() called");
}

/* exit ends the instance, not the request (stdlib.h says why). */
__attribute__((noreturn)) void exit(int code)
{
	sg_flush_stdio();
	sure_log("exit(%d) called", code);
	sg_exit(SURE_EXIT_ABORT);
}

__attribute__((noreturn)) void _Exit(int code)
{
	exit(code);
}
