/*
 * vm.h - a KVM VM and its memory slots. Memory itself comes from shm.h, so
 * the same memfd can back memslots of several VMs (a chain's pool and table,
 * a template's RAM in its clones).
 */
#ifndef SURE_VM_H
#define SURE_VM_H

#include <stddef.h>
#include <stdint.h>

#include "kvm.h"

/* KVM_CREATE_VM; the fd or -errno (with a reason in err). */
int sure_vm_create(const struct sure_kvm *kvm, char *err, size_t errcap);
/* Maps host memory [host, host + size) at guest physical gpa as slot `slot`. */
int sure_vm_set_slot(int vm_fd, uint32_t slot, uint64_t gpa, void *host, uint64_t size);
/* The same with KVM memslot flags (KVM_MEM_READONLY for what guests may only read). */
int sure_vm_set_slot_flags(int vm_fd, uint32_t slot, uint64_t gpa, void *host, uint64_t size,
			   uint32_t flags);

#endif
