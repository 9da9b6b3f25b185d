/*
 * main.c - start-up of a guest: check the control page, set up the heap,
 * run constructors and the function's sure_init, let the host take its
 * template, run sure_start (in every instance), tell the host we are ready,
 * then serve requests forever.
 */
#include "exit.h"
#include "sg.h"
#include "sg_chain.h"

/* Optional hooks of the function: weak, so an image without them still links. */
extern void sure_init(void) __attribute__((weak));
extern void sure_start(void) __attribute__((weak));

/* Bounds of .init_array, from sure.ld: C constructors of the function. */
typedef void (*sg_ctor)(void);
extern const sg_ctor __init_array_start[] __attribute__((weak));
extern const sg_ctor __init_array_end[] __attribute__((weak));

/* The host fills the control page before the first instruction; if it is not
 * what this library was built for, nothing else in it can be trusted. */
static int ctrl_ok(const struct sure_ctrl *c)
{
	return c->magic == SURE_CTRL_MAGIC && c->abi_version == sg_abi_note.abi_version &&
	       c->io_cap <= SURE_IO_MAX && c->io_slots >= 1 && c->io_slots <= SURE_IO_QUEUE_MAX;
}

static void run_constructors(void)
{
	if (!__init_array_start || !__init_array_end)
		return;
	for (const sg_ctor *f = __init_array_start; f < __init_array_end; f++)
		(*f)();
}

__attribute__((noreturn)) void sg_main(void);

__attribute__((noreturn)) void sg_main(void)
{
	struct sure_ctrl *c = sg_ctrl();

	if (!ctrl_ok(c) || sg_chain_init() < 0)
		sg_exit(SURE_EXIT_BAD_CTRL);
	sg_heap_init(c->heap_start, c->heap_end);
	run_constructors();
	if (sure_init)
		sure_init();
	sg_flush_stdio();
	/* Everything up to here runs once per deployment: the host saves this
	 * VM as the function's template, and every clone resumes right here. */
	if (c->snapshot_wanted)
		sg_doorbell(SURE_DOORBELL_SNAPSHOT, 0);
	if (sure_start)
		sure_start();
	sg_flush_stdio();

	__atomic_store_n(&c->guest_state, SURE_GUEST_IDLE, __ATOMIC_RELAXED);
	/* Release: whatever init wrote is visible before the host sees ready. */
	sg_store(&c->ready, 1);
	/* Dekker with the host: it sets host_waiting, fences, reads ready; we set
	 * ready, fence, read host_waiting. One of us sees the other. */
	sg_fence();
	if (sg_load(&c->host_waiting) == 1)
		sg_doorbell(SURE_DOORBELL_NOTIFY, 1);
	if (sg_chain_mode)
		sg_serve_chain();
	sg_serve();
}
