/*
 * identity.c - what makes one instance different from its template's other
 * clones: the number and the random seed the host wrote before it ran.
 */
#include "sg.h"

uint32_t sure_instance_number(void)
{
	return __atomic_load_n(&sg_ctrl()->instance_no, __ATOMIC_RELAXED);
}

uint64_t sure_instance_seed(void)
{
	return __atomic_load_n(&sg_ctrl()->instance_seed, __ATOMIC_RELAXED);
}
