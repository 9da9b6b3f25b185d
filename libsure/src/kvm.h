/*
 * kvm.h - the KVM device: opened once per device path and kept for the life
 * of the process (VM fds outlive it anyway), with what every VM needs from
 * it: the vCPU mmap size and the supported CPUID table.
 */
#ifndef SURE_KVM_H
#define SURE_KVM_H

#include <stddef.h>
#include <stdint.h>

struct kvm_cpuid2;

struct sure_kvm {
	int fd;
	int vcpu_mmap_size;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, given to every vCPU */
	/* Where PKRU sits in KVM's XSAVE area if guests can have protection
	 * keys (CPUID has PKU and XCR0 can hold PKRU), else 0: then no vCPU sees
	 * PKU. Whether a new VM uses them: sure_cpu_guest_keys(). */
	uint32_t pkru_offset;
};

/*
 * The device named by $SURE_KVM_DEVICE (default /dev/kvm), checked and
 * cached. 0 with *out set, or -errno with a reason in err such as
 * "/dev/kvm: No such file or directory".
 */
int sure_kvm_get(const struct sure_kvm **out, char *err, size_t errcap);

#endif
