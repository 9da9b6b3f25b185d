/* strerror.c - a message for each errno value errno.h defines, and perror. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sg.h"

/* The texts glibc gives, so that logs read the same as on a host. */
static const char *message(int e)
{
	switch (e) {
	case 0: return "Success";
	case EPERM: return "Operation not permitted";
	case ENOENT: return "No such file or directory";
	case EIO: return "Input/output error";
	case EBADF: return "Bad file descriptor";
	case EAGAIN: return "Resource temporarily unavailable";
	case ENOMEM: return "Cannot allocate memory";
	case EACCES: return "Permission denied";
	case EFAULT: return "Bad address";
	case EBUSY: return "Device or resource busy";
	case EEXIST: return "File exists";
	case EINVAL: return "Invalid argument";
	case ENOSPC: return "No space left on device";
	case EDOM: return "Numerical argument out of domain";
	case ERANGE: return "Numerical result out of range";
	case ENOSYS: return "Function not implemented";
	case EOVERFLOW: return "Value too large for defined data type";
	default: return NULL;
	}
}

int strerror_r(int e, char *buf, size_t cap)
{
	const char *m = message(e);
	char tmp[32];

	if (!m) {
		snprintf(tmp, sizeof(tmp), "Unknown error %d", e);
		m = tmp;
	}
	if (cap == 0)
		return ERANGE;
	size_t n = strlen(m);
	if (n >= cap) {
		memcpy(buf, m, cap - 1);
		buf[cap - 1] = '\0';
		return ERANGE;
	}
	memcpy(buf, m, n + 1);
	return 0;
}

char *strerror(int e)
{
	static char unknown[32];
	const char *m = message(e);

	if (m)
		return (char *)m;
	strerror_r(e, unknown, sizeof(unknown));
	return unknown;
}

void perror(const char *s)
{
	const char *m = strerror(errno);

	if (s && *s)
		fprintf(stderr, "%s: %s\n", s, m);
	else
		fprintf(stderr, "%s\n", m);
}
