/*
 * gate_entry.S - the one way into the gates (sure_gate_abi.h), at
 * SURE_GATE_GPA: open the library OS's keys, check, switch to the protected
 * stack, run the operation, close the keys, check, return.
 *
 * The checks are what make a jump into the middle harmless: the only
 * instructions that write PKRU are the two WRPKRUs here, and each is followed
 * by a comparison against a value the function cannot choose (a constant, and
 * the gate state page, which the function cannot write). Nothing inside a
 * gate ever calls back into the function, and no interrupt reaches a guest,
 * so once the keys are open only this code runs until they are closed again.
 * Where the vCPU has no PKU (gstate.pku == 0) the WRPKRUs are skipped: there
 * is nothing to open. Each exit also checks that only request-colour keys
 * can differ from the function's value (gate_chain.c opens one while its
 * step holds that request).
 */
#include "sure_gate_abi.h"

#define GSTATE_PKU (SURE_GSTATE_GPA + 4)
#define GSTATE_EXIT (SURE_GSTATE_GPA + 8)

	.section .text.gate_entry, "ax"
	.globl sg_gate_entry
sg_gate_entry:
	mov %rdx, %r10		/* WRPKRU needs ecx = edx = 0 */
	cmpl $0, GSTATE_PKU
	je 1f
	xor %ecx, %ecx
	xor %edx, %edx
	mov $SURE_PKRU_GATE, %eax
	wrpkru
	cmp $SURE_PKRU_GATE, %eax
	jne gate_die
1:	mov %rsp, %r11
	mov $SURE_GSTACK_TOP, %rsp
	push %r11		/* the caller's stack, on the protected one */
	sub $8, %rsp		/* 16-byte aligned at the call */
	mov %r10, %rdx
	call sg_gate_dispatch
	add $8, %rsp
	pop %r11
	mov %rax, %r10
	cmpl $0, GSTATE_PKU
	je 2f
	xor %ecx, %ecx
	xor %edx, %edx
	mov GSTATE_EXIT, %eax
	wrpkru
	cmp GSTATE_EXIT, %eax	/* read again, after the write */
	jne gate_die
	/* Whatever the gate state says, every key but the request colours is
	 * back at the function's value (a colour is open only while its step
	 * holds that request, which only the gate writes down). */
	mov %eax, %ecx
	or $SURE_PKRU_COLOURS, %ecx
	cmp $SURE_PKRU_FUNC, %ecx
	jne gate_die
2:	mov %r11, %rsp
	mov %r10, %rax
	ret

gate_die:
	ud2
	jmp gate_die

	.section .note.GNU-stack, "", @progbits
