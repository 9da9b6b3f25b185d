/* setjmp.h - non-local jumps within a request (the registers C keeps across
 * calls, the stack pointer, the return address; no signal masks in a guest). */
#ifndef SURE_SETJMP_H
#define SURE_SETJMP_H

typedef long jmp_buf[8];

__attribute__((returns_twice)) int setjmp(jmp_buf env);
__attribute__((noreturn)) void longjmp(jmp_buf env, int val);

#endif
