/* shells.h - empty VMs made ahead of time (see shells.c). */
#ifndef SURE_SHELLS_H
#define SURE_SHELLS_H

#include <stdint.h>

/* The fd of a ready, empty VM (no memory, no vCPU), or -EAGAIN if none is. */
int sure_shell_take(void);
/* Shells handed out so far (tests: whether a new VM came from the shelf). */
uint64_t sure_shells_taken(void);

#endif
