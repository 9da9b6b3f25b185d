/* shells.h - empty VMs made ahead of time (see shells.c). */
#ifndef SURE_SHELLS_H
#define SURE_SHELLS_H

/* The fd of a ready, empty VM (no memory, no vCPU), or -EAGAIN if none is. */
int sure_shell_take(void);

#endif
