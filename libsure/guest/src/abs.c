/* abs.c - abs, labs, llabs (the most negative value stays as it is). */
#include <stdlib.h>

#include "sg.h"

int abs(int x)
{
	return x < 0 ? (int)(0u - (unsigned)x) : x;
}

long labs(long x)
{
	return x < 0 ? (long)(0ul - (unsigned long)x) : x;
}

long long llabs(long long x)
{
	return x < 0 ? (long long)(0ull - (unsigned long long)x) : x;
}
