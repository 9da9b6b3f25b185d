/*
 * cpu.h - the guest CPU: descriptor tables and trap stubs in guest RAM, and
 * the vCPU's initial state (64-bit mode, CPL3, paging on, at the entry).
 */
#ifndef SURE_CPU_H
#define SURE_CPU_H

#include <linux/kvm.h>
#include <stdint.h>

#include "kvm.h"

/* A vCPU's whole architectural state as far as a sure guest can change it. */
struct sure_cpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint32_t pkru; /* the protection-key rights register, where guests have PKU */
};

/* Writes the GDT + TSS, IDT and trap stubs at their sure_abi.h addresses. */
void sure_cpu_tables(uint8_t *mem);

/* Sets CPUID, special and general registers and the FPU of a new vCPU. */
/* The CR4 protections (SMEP, SMAP, UMIP) that KVM's supported CPUID offers:
 * sure_cpu_setup turns on every one of them. */
uint64_t sure_cpu_cr4_protections(const struct sure_kvm *kvm);
/*
 * Whether guests can have protection keys: the offset of PKRU in KVM's XSAVE
 * area if KVM offers PKU and an XCR0 with PKRU, else 0, with PKU taken out of
 * the CPUID every vCPU is given.
 */
uint32_t sure_cpu_pku_setup(struct kvm_cpuid2 *cpuid);
/*
 * Whether a VM built now uses them: they exist and $SURE_GUEST_PKU is not
 * "off" (read at each VM, so that a node, or a test, can run without them).
 */
int sure_cpu_guest_keys(const struct sure_kvm *kvm);
/* keys: sure_cpu_guest_keys() when the VM was laid out. */
int sure_cpu_setup(int vcpu_fd, const struct sure_kvm *kvm, int keys, uint64_t cr3, uint64_t rip,
		   uint64_t rsp);

/* Reads the state of a stopped vCPU (from its own thread or after it ended). */
int sure_cpu_save(int vcpu_fd, const struct sure_kvm *kvm, struct sure_cpu_state *st);
/* Gives a new vCPU a saved state: a clone continues where its template stopped. */
int sure_cpu_restore(int vcpu_fd, const struct sure_kvm *kvm, const struct sure_cpu_state *st);

/* The vCPU's TSC now (its IA32_TSC MSR): the guest's own time base, whatever
 * offset KVM gave this VM. */
int sure_cpu_guest_tsc(int vcpu_fd, uint64_t *tsc);

#endif
