/* difftime.c - the one function of time.h that returns a double. */
#include <time.h>

double difftime(time_t end, time_t start)
{
	return (double)(end - start);
}
