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
/*
 * Records the guest's EXIT with the reason it left in its control page
 * (n bytes at most, read once: the guest is untrusted) cleaned by
 * sure_fault_clean_reason; returns 1 if this fault counted.
 */
int sure_fault_record_exit(struct sure_fault *f, uint64_t code, uint64_t rip,
			   const volatile char *reason, size_t n);
/*
 * Copies at most n bytes of src up to its first NUL into dst (cap bytes),
 * every byte outside printable ASCII turned into '?', NUL terminated and
 * truncated to cap - 1; returns the length written.
 */
size_t sure_fault_clean_reason(char *dst, size_t cap, const char *src, size_t n);
void sure_fault_get(struct sure_fault *f, struct sure_fault_info *out);
/* One line for a person, e.g. "exception 14 (error 0x4) at rip 0x401000, address 0x0". */
void sure_fault_describe(struct sure_fault *f, char *buf, size_t cap);

#endif
