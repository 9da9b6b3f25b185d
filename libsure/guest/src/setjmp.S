/*
 * setjmp.S - setjmp and longjmp: jmp_buf holds the callee-saved registers
 * (rbx, rbp, r12-r15), the stack pointer and the return address. SSE state
 * is not saved (the SysV ABI makes every xmm register caller-saved).
 * SG_SETJMP / SG_LONGJMP rename them for the host test (libc_test.c).
 */
#ifndef SG_SETJMP
#define SG_SETJMP setjmp
#define SG_LONGJMP longjmp
#endif

	.text
	.globl SG_SETJMP
	.type SG_SETJMP, @function
SG_SETJMP:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rdx /* the caller's rsp once we have returned */
	movq %rdx, 48(%rdi)
	movq (%rsp), %rdx /* where we return to */
	movq %rdx, 56(%rdi)
	xorl %eax, %eax
	ret
	.size SG_SETJMP, . - SG_SETJMP

	.globl SG_LONGJMP
	.type SG_LONGJMP, @function
SG_LONGJMP:
	/* setjmp returns val there, or 1 if val is 0 (C says so). */
	movl %esi, %eax
	testl %eax, %eax
	jnz 1f
	incl %eax
1:
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	jmpq *56(%rdi)
	.size SG_LONGJMP, . - SG_LONGJMP

	/* The stack must not be executable (ld warns otherwise). */
	.section .note.GNU-stack, "", @progbits
