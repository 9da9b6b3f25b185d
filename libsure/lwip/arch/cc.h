/*
 * arch/cc.h - lwIP's port header for libsure (Linux, x86_64, gcc/clang).
 */
#ifndef SURE_LWIP_ARCH_CC_H
#define SURE_LWIP_ARCH_CC_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_RAND() ((u32_t)random())
/* A broken invariant inside the stack is a bug of ours or of lwIP: stop
 * with a message rather than run on corrupt state. */
#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) \
	do { \
		fprintf(stderr, "libsure: lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, \
			__LINE__); \
		abort(); \
	} while (0)

#endif
