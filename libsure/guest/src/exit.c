/*
 * exit.c - giving up: sure_abort(), abort(), exit() and the EXIT doorbell.
 * The host stops the vCPU on EXIT and answers the request 502 with the
 * reason left in the control page (abort_reason). Unfinished stdout/stderr
 * lines are written to the log first.
 */
#include <stdio.h>
#include <stdlib.h>

#include "exit.h"
#include "sg.h"

void (*sg_stdio_flusher)(void);

__attribute__((noreturn)) void sg_exit(uint64_t code)
{
	sg_doorbell(SURE_DOORBELL_EXIT, code);
	/* The host never resumes after EXIT; if it did, a #UD stops us for good. */
	for (;;)
		__asm__ volatile("ud2");
}

/* The doorbell carries only a code: the words go into the control page,
 * truncated and NUL terminated (the host bounds and cleans them anyway). */
static void set_reason(const char *why)
{
	char *dst = sg_ctrl()->abort_reason;
	size_t i = 0;

	for (; why[i] && i < SURE_ABORT_REASON_MAX - 1; i++)
		dst[i] = why[i];
	dst[i] = '\0';
}

static __attribute__((noreturn)) void give_up(const char *why)
{
	sg_flush_stdio();
	sure_log("sure_abort: %s", why);
	set_reason(why);
	sg_exit(SURE_EXIT_ABORT);
}

__attribute__((noreturn)) void sure_abort(const char *why)
{
	give_up(why ? why : "(no reason)");
}

__attribute__((noreturn)) void abort(void)
{
	give_up("abort() called");
}

/* exit ends the instance, not the request (stdlib.h says why). */
__attribute__((noreturn)) void exit(int code)
{
	char why[32];

	snprintf(why, sizeof(why), "exit(%d) called", code);
	sg_flush_stdio();
	sure_log("%s", why);
	set_reason(why);
	sg_exit(SURE_EXIT_ABORT);
}

__attribute__((noreturn)) void _Exit(int code)
{
	exit(code);
}
