/*
 * rand.c - rand, srand, rand_r. Until srand is called, the generator is
 * seeded from sure_instance_seed() and mixed again whenever that seed
 * changes, so clones of one template (which share its memory, generator
 * state included) draw different numbers. srand(s) asks for the same
 * sequence everywhere, as C says, and gets it.
 */
#include <stdlib.h>

#include "sg.h"

static uint64_t state;
static uint64_t mixed_seed; /* the instance seed state was last mixed with */
static int seeded_by_caller;

/* splitmix64's output function: every input bit reaches every output bit. */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void srand(unsigned seed)
{
	state = mix(seed + 0x9e3779b97f4a7c15ull);
	seeded_by_caller = 1;
}

int rand(void)
{
	if (!seeded_by_caller) {
		uint64_t seed = sure_instance_seed();
		if (seed != mixed_seed) {
			state = mix(state ^ seed);
			mixed_seed = seed;
		}
	}
	state += 0x9e3779b97f4a7c15ull;
	return (int)(mix(state) >> 33); /* 31 bits: 0..RAND_MAX */
}

int rand_r(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (int)(mix(*seed) >> 33);
}
