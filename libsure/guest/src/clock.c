/* clock.c - the cycle counter and a clock for functions (no VM exit: rdtsc at CPL3). */
#include "sg.h"

uint64_t sure_rdtsc(void)
{
	return sg_rdtsc();
}

uint64_t sure_now_ns(void)
{
	uint64_t hz = sg_ctrl()->tsc_hz;

	if (hz == 0)
		hz = 3000000000ull; /* the host did not know: a guess beats nothing */
	/* 128-bit product: TSC values overflow a 64-bit ticks * 1e9. */
	return (uint64_t)((unsigned __int128)sg_rdtsc() * 1000000000u / hz);
}
