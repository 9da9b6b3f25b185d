/*
 * trap.S - the guest's exception entry points, as a position-independent
 * blob that the host copies to SURE_TRAP_GPA (it is data in libsure, never
 * run on the host). Stub v sits at offset 16*v and leaves the frame
 *     [vector, error code, rip, cs, rflags, rsp, ss]
 * on the trap stack (a dummy 0 error code for vectors without one, so that
 * the host finds every frame in the same shape), then reports with an OUT
 * to SURE_TRAP_PORT: a port exit is the only cheap exit from CPL0 here.
 * The host never resumes a faulted guest, so the stubs do not return.
 */
#include "sure_abi.h"

/* Vectors for which the CPU pushes an error code itself. */
#define HAS_ERR(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
		    (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

.macro stub v
	.balign 16
	.if !(HAS_ERR(\v))
	pushq $0
	.endif
	pushq $\v
	jmp trap_common
.endm

	.section .rodata.sure_trap, "a"
	.balign 16
	.globl sure_trap_blob
	.hidden sure_trap_blob
sure_trap_blob:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr
	.balign 16
trap_common:
	outb %al, $SURE_TRAP_PORT
1:	hlt
	jmp 1b
	.globl sure_trap_blob_end
	.hidden sure_trap_blob_end
sure_trap_blob_end:

	.section .note.GNU-stack, "", @progbits
