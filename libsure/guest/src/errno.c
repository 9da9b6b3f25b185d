/* errno.c - errno: a plain global (one thread per guest). */
#include <errno.h>

int errno;
