/*
 * test_probe.c - the capability probes answer 0 or 1, agree with the CPU
 * flags, and leak nothing (no file descriptors, no protection keys) however
 * often the node asks.
 */
#include <cpuid.h>
#include <dirent.h>

#include "check.h"
#include "libsure.h"

static int open_fds(void)
{
	return check_count_dir("/proc/self/fd");
}

static void pku_agrees_with_cpuid(void)
{
	unsigned eax, ebx, ecx = 0, edx;
	int have = 0, r = sure_pku_probe();

	if (__get_cpuid_max(0, NULL) >= 7) {
		__cpuid_count(7, 0, eax, ebx, ecx, edx);
		(void)eax, (void)ebx, (void)edx;
		have = (ecx & (1u << 3)) && (ecx & (1u << 4));
	}
	CHECK(r == 0 || r == 1);
	if (!have)
		CHECK_EQ(r, 0); /* no PKU/OSPKE: never claim keys */
	printf("# pku: cpuid %s, probe %d\n", have ? "yes" : "no", r);
}

/* A leaked key per call would exhaust the 15 allocatable keys quickly. */
static void pku_stable(void)
{
	int first = sure_pku_probe();

	for (int i = 0; i < 40; i++)
		CHECK_EQ(sure_pku_probe(), first);
}

static void afxdp_probe(void)
{
	int r = sure_afxdp_probe();
	int fds = open_fds();

	CHECK(r == 0 || r == 1);
	for (int i = 0; i < 50; i++)
		CHECK_EQ(sure_afxdp_probe(), r);
	CHECK_EQ(open_fds(), fds); /* the probe socket is closed every time */
	printf("# afxdp: probe %d\n", r);
}

int main(void)
{
	RUN(pku_agrees_with_cpuid);
	RUN(pku_stable);
	RUN(afxdp_probe);
	return CHECK_DONE();
}
