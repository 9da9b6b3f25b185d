/*
 * crt0.S - the guest's entry point. The VMM starts the vCPU here directly in
 * user mode (CPL3, long mode) with rsp at the top of the stack, interrupts
 * off and SSE enabled. There is nothing to set up in kernel mode: the host
 * has built the page tables, GDT, IDT and trap stubs already.
 */
	.section .text.sg_entry, "ax", @progbits
	.globl _start
	.type _start, @function
_start:
	/* A zero frame pointer ends the frame chain for debuggers and backtraces. */
	xorl %ebp, %ebp
	/* The SysV ABI wants rsp 16-byte aligned at a call; do not trust the host. */
	andq $-16, %rsp
	call sg_main
	/* sg_main never returns; if it ever did, fault loudly instead of running on. */
	ud2
	.size _start, . - _start

	/* The stack must not be executable (ld warns otherwise). */
	.section .note.GNU-stack, "", @progbits
