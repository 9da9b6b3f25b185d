/*
 * probe.c - capability probes for protection keys (MPK/PKU) and AF_XDP.
 * Each probe asks the real thing rather than trusting a flag alone: a CPU
 * may list PKU while the kernel has it off, and a kernel may be built
 * without XDP sockets. The node reports the answers at start and in healthz.
 */
#include <cpuid.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libsure.h"

#ifndef AF_XDP
#define AF_XDP 44 /* older libc headers lack it; the kernel number is stable */
#endif

#define CPUID7_ECX_PKU (1u << 3) /* the CPU has protection keys */
#define CPUID7_ECX_OSPKE (1u << 4) /* the OS set CR4.PKE */

SURE_API int sure_pku_probe(void)
{
	unsigned eax, ebx, ecx, edx;
	int key;

	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, eax, ebx, ecx, edx);
	(void)eax;
	(void)ebx;
	(void)edx;
	if (!(ecx & CPUID7_ECX_PKU) || !(ecx & CPUID7_ECX_OSPKE))
		return 0;
	/* The kernel may still refuse (pkeys disabled, or none left): try one. */
	key = pkey_alloc(0, 0);
	if (key < 0)
		return 0;
	pkey_free(key);
	return 1;
}

SURE_API int sure_afxdp_probe(void)
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}
