/* vm.c - see vm.h. */
#include "vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util.h"

int sure_vm_create(const struct sure_kvm *kvm, char *err, size_t errcap)
{
	int fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);

	if (fd < 0) {
		int rc = -errno;
		return sure_errf(err, errcap, rc, "KVM_CREATE_VM: %s", strerror(-rc));
	}
	return fd;
}

int sure_vm_set_slot(int vm_fd, uint32_t slot, uint64_t gpa, void *host, uint64_t size)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}
