/* vm.c - see vm.h. */
#include "vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util.h"

#define TSS_ADDR 0xfffbd000ul

int sure_vm_create(const struct sure_kvm *kvm, char *err, size_t errcap)
{
	int fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);

	if (fd < 0) {
		int rc = -errno;
		return sure_errf(err, errcap, rc, "KVM_CREATE_VM: %s", strerror(-rc));
	}
	/*
	 * Intel VMX without unrestricted guest needs a TSS region for its
	 * real-mode emulation, which a vCPU passes through at reset before we
	 * set long mode. Three pages far above every slot; a no-op elsewhere,
	 * and harmless if refused (unrestricted guest does not use it).
	 */
	if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
		ioctl(fd, KVM_SET_TSS_ADDR, TSS_ADDR);
	return fd;
}

int sure_vm_set_slot(int vm_fd, uint32_t slot, uint64_t gpa, void *host, uint64_t size)
{
	return sure_vm_set_slot_flags(vm_fd, slot, gpa, host, size, 0);
}

int sure_vm_set_slot_flags(int vm_fd, uint32_t slot, uint64_t gpa, void *host, uint64_t size,
			   uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}
