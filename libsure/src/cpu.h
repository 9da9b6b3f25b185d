/*
 * cpu.h - the guest CPU: descriptor tables and trap stubs in guest RAM, and
 * the vCPU's initial state (64-bit mode, CPL3, paging on, at the entry).
 */
#ifndef SURE_CPU_H
#define SURE_CPU_H

#include <stdint.h>

#include "kvm.h"

/* Writes the GDT + TSS, IDT and trap stubs at their sure_abi.h addresses. */
void sure_cpu_tables(uint8_t *mem);

/* Sets CPUID, special and general registers and the FPU of a new vCPU. */
int sure_cpu_setup(int vcpu_fd, const struct sure_kvm *kvm, uint64_t cr3, uint64_t rip,
		   uint64_t rsp);

#endif
