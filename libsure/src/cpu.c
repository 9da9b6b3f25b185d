/*
 * cpu.c - see cpu.h. The guest starts directly in user mode: on PVM hosts
 * CPL0 code is emulated and ~1000x slower, so CPL0 only hosts the trap
 * stubs, and there is no guest boot code at all.
 */
#include "cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "sure_abi.h"
#include "sure_gate_abi.h"

extern const uint8_t sure_trap_blob[], sure_trap_blob_end[];

#define TSS_OFFSET 0x100 /* inside the GDT page, after the descriptors */
#define TSS_LIMIT 103
#define GDT_LIMIT (SURE_SEL_TSS + 16 - 1)
#define IDT_VECTORS 32

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define CR4_PKE (1ull << 22)
/* CPUID leaf 7, subleaf 0: EBX bit 7 SMEP, bit 20 SMAP; ECX bit 2 UMIP. */
#define CPUID7_EBX_SMEP (1u << 7)
#define CPUID7_EBX_SMAP (1u << 20)
#define CPUID7_ECX_UMIP (1u << 2)
#define CPUID7_ECX_PKU (1u << 3)
#define XCR0_PKRU (1u << 9)
#define XSAVE_HDR_BV 512 /* XSTATE_BV in the XSAVE header */
#define XSTATE_PKRU 9
#define MSR_IA32_TSC 0x10
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Flat descriptors; "accessed" is preset so the CPU never writes them. */
#define DESC_KCODE 0x00af9b000000ffffull /* 64-bit code, DPL0 */
#define DESC_KDATA 0x00cf93000000ffffull
#define DESC_UDATA 0x00cff3000000ffffull /* DPL3 */
#define DESC_UCODE 0x00affb000000ffffull /* 64-bit code, DPL3 */

static void write_gdt(uint8_t *mem)
{
	uint64_t *gdt = (uint64_t *)(mem + SURE_GDT_GPA);
	uint64_t tss = SURE_GDT_GPA + TSS_OFFSET;
	uint8_t *t = mem + tss;

	memset(gdt, 0, SURE_PAGE_SIZE);
	gdt[SURE_SEL_KCODE >> 3] = DESC_KCODE;
	gdt[SURE_SEL_KDATA >> 3] = DESC_KDATA;
	gdt[SURE_SEL_UDATA >> 3] = DESC_UDATA;
	gdt[SURE_SEL_UCODE >> 3] = DESC_UCODE;
	/* 16-byte system descriptor: busy 64-bit TSS (type 0xb), present, DPL0. */
	gdt[SURE_SEL_TSS >> 3] = TSS_LIMIT | ((tss & 0xffffff) << 16) | (0x8bull << 40) |
				 ((tss >> 24 & 0xff) << 56);
	gdt[(SURE_SEL_TSS >> 3) + 1] = tss >> 32;

	/* Exceptions from CPL3 switch to RSP0: the trap stack. */
	uint64_t rsp0 = SURE_KSTACK_TOP;
	memcpy(t + 4, &rsp0, 8);
	uint16_t iopb = TSS_LIMIT + 1; /* no I/O bitmap: CPL3 port I/O faults */
	memcpy(t + 102, &iopb, 2);
}

static void write_idt(uint8_t *mem)
{
	uint64_t *idt = (uint64_t *)(mem + SURE_IDT_GPA);

	memset(idt, 0, SURE_PAGE_SIZE);
	for (uint64_t v = 0; v < IDT_VECTORS; v++) {
		uint64_t off = SURE_TRAP_GPA + 16 * v;
		/* Interrupt gate (0xe), present, DPL0: user code cannot INT n into it. */
		idt[2 * v] = (off & 0xffff) | ((uint64_t)SURE_SEL_KCODE << 16) |
			     (0x8eull << 40) | ((off >> 16 & 0xffff) << 48);
		idt[2 * v + 1] = off >> 32;
	}
}

void sure_cpu_tables(uint8_t *mem)
{
	write_gdt(mem);
	write_idt(mem);
	memset(mem + SURE_TRAP_GPA, 0xf4 /* hlt */, SURE_PAGE_SIZE);
	memcpy(mem + SURE_TRAP_GPA, sure_trap_blob, (size_t)(sure_trap_blob_end - sure_trap_blob));
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = sel & 3;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

/*
 * CR4's protections the vCPU has (KVM's supported CPUID, which is what every
 * vCPU is given): SMEP and SMAP (CPL0, i.e. the trap stubs, can neither run
 * nor touch user pages, so nothing a function writes can become code or data
 * of CPL0) and UMIP (SGDT, SIDT, SLDT, SMSW and STR fault at CPL3, so a
 * function does not even learn where the tables are).
 */
uint64_t sure_cpu_cr4_protections(const struct sure_kvm *kvm)
{
	uint64_t cr4 = 0;

	for (uint32_t i = 0; kvm && kvm->cpuid && i < kvm->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &kvm->cpuid->entries[i];
		if (e->function != 7 || e->index != 0)
			continue;
		if (e->ebx & CPUID7_EBX_SMEP)
			cr4 |= CR4_SMEP;
		if (e->ebx & CPUID7_EBX_SMAP)
			cr4 |= CR4_SMAP;
		if (e->ecx & CPUID7_ECX_UMIP)
			cr4 |= CR4_UMIP;
	}
	return cr4;
}

static struct kvm_cpuid_entry2 *cpuid_entry(struct kvm_cpuid2 *cpuid, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; cpuid && i < cpuid->nent; i++)
		if (cpuid->entries[i].function == fn && cpuid->entries[i].index == idx)
			return &cpuid->entries[i];
	return NULL;
}

uint32_t sure_cpu_pku_setup(struct kvm_cpuid2 *cpuid)
{
	struct kvm_cpuid_entry2 *l7 = cpuid_entry(cpuid, 7, 0);
	struct kvm_cpuid_entry2 *xcr0 = cpuid_entry(cpuid, 0xd, 0);
	struct kvm_cpuid_entry2 *pk = cpuid_entry(cpuid, 0xd, XSTATE_PKRU);

	if (!l7 || !(l7->ecx & CPUID7_ECX_PKU))
		return 0;
	/* PKRU must have a place in the XSAVE area KVM_GET/SET_XSAVE move, or a
	 * clone could not be given its template's rights. */
	if (!xcr0 || !(xcr0->eax & XCR0_PKRU) || !pk || pk->eax < 4 ||
	    pk->ebx + 4 > sizeof(struct kvm_xsave)) {
		l7->ecx &= ~CPUID7_ECX_PKU;
		return 0;
	}
	return pk->ebx;
}

int sure_cpu_guest_keys(const struct sure_kvm *kvm)
{
	const char *v = getenv("SURE_GUEST_PKU");

	return kvm && kvm->pkru_offset && !(v && strcmp(v, "off") == 0);
}

/* PKRU lives in the XSAVE area only: KVM has no register call for it. */
static int get_pkru(int fd, uint32_t off, uint32_t *pkru)
{
	struct kvm_xsave xs;
	uint64_t bv;

	if (ioctl(fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy(&bv, (uint8_t *)xs.region + XSAVE_HDR_BV, 8);
	*pkru = 0; /* the component's init state */
	if (bv & (1ull << XSTATE_PKRU))
		memcpy(pkru, (uint8_t *)xs.region + off, 4);
	return 0;
}

static int set_pkru(int fd, uint32_t off, uint32_t pkru)
{
	struct kvm_xsave xs;
	uint64_t bv;

	if (ioctl(fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy(&bv, (uint8_t *)xs.region + XSAVE_HDR_BV, 8);
	bv |= 1ull << XSTATE_PKRU;
	memcpy((uint8_t *)xs.region + XSAVE_HDR_BV, &bv, 8);
	memcpy((uint8_t *)xs.region + off, &pkru, 4);
	if (ioctl(fd, KVM_SET_XSAVE, &xs) < 0)
		return -errno;
	return 0;
}

static int set_sregs(int fd, const struct sure_kvm *kvm, int keys, uint64_t cr3)
{
	struct kvm_sregs sr;

	if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg(&sr.cs, SURE_SEL_UCODE, 0xb, 1);
	seg(&sr.ss, SURE_SEL_UDATA, 0x3, 0);
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = SURE_SEL_TSS;
	sr.tr.base = SURE_GDT_GPA + TSS_OFFSET;
	sr.tr.limit = TSS_LIMIT;
	sr.tr.type = 0xb;
	sr.tr.present = 1;
	/* No LDT at all (not the reset state: base 0, present): a selector
	 * with TI set faults, so no descriptor can come from guest memory. */
	memset(&sr.ldt, 0, sizeof(sr.ldt));
	sr.ldt.unusable = 1;
	sr.gdt.base = SURE_GDT_GPA;
	sr.gdt.limit = GDT_LIMIT;
	sr.idt.base = SURE_IDT_GPA;
	sr.idt.limit = IDT_VECTORS * 16 - 1;
	sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sr.cr3 = cr3;
	sr.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | sure_cpu_cr4_protections(kvm);
	if (keys)
		sr.cr4 |= CR4_PKE;
	sr.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	return 0;
}

/*
 * Every guest's TSC reads the host's TSC (offset 0), so that a time stamp one
 * VM writes into a descriptor means the same in the next VM (per-hop latency).
 * Best effort: hosts without the attribute keep KVM's per-VM offset.
 */
static void sync_tsc(int fd)
{
	uint64_t offset = 0;
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&offset,
	};

	if (ioctl(fd, KVM_HAS_DEVICE_ATTR, &attr) == 0)
		ioctl(fd, KVM_SET_DEVICE_ATTR, &attr);
}

int sure_cpu_setup(int fd, const struct sure_kvm *kvm, int keys, uint64_t cr3, uint64_t rip,
		   uint64_t rsp)
{
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	int rc;

	/* First: KVM refuses EFER.NXE until CPUID says the vCPU has NX. */
	if (ioctl(fd, KVM_SET_CPUID2, kvm->cpuid) < 0)
		return -errno;
	rc = set_sregs(fd, kvm, keys, cr3);
	if (rc < 0)
		return rc;
	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = rsp;
	regs.rflags = 2; /* reserved bit 1; IF off: nothing interrupts the guest */
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f; /* the x87 and SSE power-on defaults */
	fpu.mxcsr = 0x1f80;
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	/* A new vCPU's PKRU is 0, every key open: the function's first
	 * instruction already runs with the library OS's keys closed. */
	if (keys) {
		rc = set_pkru(fd, kvm->pkru_offset, SURE_PKRU_FUNC);
		if (rc < 0)
			return rc;
	}
	sync_tsc(fd);
	return 0;
}

int sure_cpu_guest_tsc(int fd, uint64_t *tsc)
{
	union {
		struct kvm_msrs h;
		uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	m.h.entries[0].index = MSR_IA32_TSC;
	if (ioctl(fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	*tsc = m.h.entries[0].data;
	return 0;
}

int sure_cpu_save(int fd, const struct sure_kvm *kvm, struct sure_cpu_state *st)
{
	if (ioctl(fd, KVM_GET_REGS, &st->regs) < 0 || ioctl(fd, KVM_GET_SREGS, &st->sregs) < 0 ||
	    ioctl(fd, KVM_GET_FPU, &st->fpu) < 0)
		return -errno;
	st->pkru = 0;
	return kvm->pkru_offset ? get_pkru(fd, kvm->pkru_offset, &st->pkru) : 0;
}

int sure_cpu_restore(int fd, const struct sure_kvm *kvm, const struct sure_cpu_state *st)
{
	if (ioctl(fd, KVM_SET_CPUID2, kvm->cpuid) < 0)
		return -errno;
	/* The template may have been taken with an event or a fault half done:
	 * a clone starts with none of them, only the registers. */
	struct kvm_sregs sr = st->sregs;
	memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
	if (ioctl(fd, KVM_SET_SREGS, &sr) < 0 || ioctl(fd, KVM_SET_REGS, &st->regs) < 0 ||
	    ioctl(fd, KVM_SET_FPU, &st->fpu) < 0)
		return -errno;
	/* Not left at a new vCPU's 0 (all open): the template's own rights. */
	if (kvm->pkru_offset) {
		int rc = set_pkru(fd, kvm->pkru_offset, st->pkru);
		if (rc < 0)
			return rc;
	}
	sync_tsc(fd);
	return 0;
}
