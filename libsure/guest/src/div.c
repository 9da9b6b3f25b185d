/* div.c - div, ldiv, lldiv: quotient and remainder in one call (C's
 * truncating division). */
#include <stdlib.h>

#include "sg.h"

div_t div(int a, int b)
{
	return (div_t){ a / b, a % b };
}

ldiv_t ldiv(long a, long b)
{
	return (ldiv_t){ a / b, a % b };
}

lldiv_t lldiv(long long a, long long b)
{
	return (lldiv_t){ a / b, a % b };
}
