/*
 * fault.h - why an instance died: the first fault recorded wins, later ones
 * (e.g. the timeout kill racing a guest crash) are consequences.
 */
#ifndef SURE_FAULT_H
#define SURE_FAULT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "libsure.h"

struct sure_fault {
	pthread_mutex_t lock;
	struct sure_fault_info info; /* kind NONE until the first fault */
};

void sure_fault_init(struct sure_fault *f);
void sure_fault_fini(struct sure_fault *f);
/* Records a fault unless one is already there; returns 1 if this one counted. */
int sure_fault_record(struct sure_fault *f, uint64_t kind, uint64_t vector, uint64_t code,
		      uint64_t addr, uint64_t rip);
void sure_fault_get(struct sure_fault *f, struct sure_fault_info *out);
/* One line for a person, e.g. "exception 14 (error 0x4) at rip 0x401000, address 0x0". */
void sure_fault_describe(struct sure_fault *f, char *buf, size_t cap);

#endif
