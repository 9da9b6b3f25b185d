/* sys/types.h - the POSIX integer types a function may name. */
#ifndef SURE_SYS_TYPES_H
#define SURE_SYS_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef long ssize_t;
typedef long off_t;
typedef int pid_t;
typedef unsigned uid_t;
typedef unsigned gid_t;
typedef unsigned mode_t;

#endif
