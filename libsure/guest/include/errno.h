/* errno.h - errno is a plain global int (one thread per guest). libsg sets
 * it only where C says so: strtol and strtod on overflow (ERANGE), math.h on
 * domain errors (EDOM) and overflow or poles (ERANGE), clock_gettime on a
 * bad clock (EINVAL). */
#ifndef SURE_ERRNO_H
#define SURE_ERRNO_H

extern int errno;

/* The Linux numbers, so that values read the same as on the host. */
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define EDOM 33
#define ERANGE 34
#define ENOSYS 38
#define EOVERFLOW 75

#endif
