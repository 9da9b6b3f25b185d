/*
 * test_vm.c - the VMM on real KVM, with a tiny hand-written guest (below)
 * that follows the sure_ctrl protocol and misbehaves on request: the first
 * request byte picks what it does. It is assembled into this test binary as
 * data and wrapped into an ELF image at run time, so the test does not
 * depend on the guest library. Then the same checks with real functions
 * linked against libsg (functions/echo/echo.c and a faulting one), built
 * here with the guest flags from the Makefile. Every test that runs a VM
 * skips (check.h's REQUIRE_KVM) when KVM is unusable; the timings that used
 * to be printed here are in bench_vm.c.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "build_fn.h"
#include "check.h"
#include "cpu.h"
#include "instance.h"
#include "kvm.h"
#include "libsure.h"
#include "run_fn.h"
#include "sure_abi.h"

/* The guest addresses sure_ctrl fields by absolute address: pin them. */
#undef CTRL /* <sys/ioctl.h> has a CTRL of its own */
#define CTRL(f) (SURE_CTRL_GPA + offsetof(struct sure_ctrl, f))
_Static_assert(CTRL(heap_start) == 0x8010, "layout");
_Static_assert(CTRL(heap_end) == 0x8018, "layout");
_Static_assert(CTRL(req_gva) == 0x8020, "layout");
_Static_assert(CTRL(resp_gva) == 0x8028, "layout");
_Static_assert(CTRL(req_seq) == 0x8040, "layout");
_Static_assert(CTRL(req_len) == 0x8044, "layout");
_Static_assert(CTRL(host_waiting) == 0x8048, "layout");
_Static_assert(CTRL(resp_seq) == 0x8080, "layout");
_Static_assert(CTRL(resp_len) == 0x8084, "layout");
_Static_assert(CTRL(resp_status) == 0x8088, "layout");
_Static_assert(CTRL(guest_state) == 0x808c, "layout");
_Static_assert(CTRL(ready) == 0x8090, "layout");
_Static_assert(CTRL(log_head) == 0x8094, "layout");
_Static_assert(CTRL(requests) == 0x80a0, "layout");
_Static_assert(CTRL(abort_reason) == 0x82c0, "layout");
_Static_assert(SURE_DOORBELL_GPA == 0x50000000, "layout");
_Static_assert(SURE_LOG_GPA == 0x9000, "layout");

/*
 * The guest. Requests: "N" null read, "L" loop forever, "B" bogus resp_len,
 * "X" EXIT doorbell (code 7), "U" ud2, "W" write to its own code, "K" read
 * a supervisor page, "P" port I/O, "D" write to an unknown doorbell, "H"
 * hlt, "E" jump into the (NX) heap, "S" touch the stack guard page, "G" log
 * a line then echo, "T" echo with status 404, "R" fill abort_reason with
 * 256 bytes (no NUL, a BEL at [1]) then EXIT (code 1), "M" SGDT, "I" SIDT,
 * "Z" SLDT, "O" SMSW, "J" STR (UMIP makes each fault), "Y" load FS with an LDT selector (there is no LDT: it faults);
 * "C" cli, "Q" wrmsr, "A" rdmsr, "F" lidt, "4" a CR3 load, "i" invlpg, "w" wbinvd, "V"
 * syscall, "8" int $0x80, "3" int3 (each faults at CPL3); anything else: echo.
 */
__asm__(".section .rodata.guest, \"a\"\n"
	".globl guest_blob, guest_blob_end, guest_start, guest_start_crash, guest_start_hang\n"
	"guest_blob:\n"
	"guest_start:\n"
	"	movl $1, 0x8090\n" /* ready */
	"	mfence\n"
	"	cmpl $0, 0x8048\n"
	"	je idle\n"
	"	movl $0, 0x50000008\n" /* NOTIFY: creation waits */
	"idle:\n"
	"	movl $1, 0x808c\n" /* IDLE */
	"	movl $20000, %ecx\n"
	"1:	movl 0x8040, %eax\n"
	"	cmpl 0x8080, %eax\n"
	"	jne handle\n"
	"	pause\n"
	"	decl %ecx\n"
	"	jnz 1b\n"
	"	movl $3, 0x808c\n" /* SLEEPING, fence, re-check, ring */
	"	mfence\n"
	"	movl 0x8040, %eax\n"
	"	cmpl 0x8080, %eax\n"
	"	jne handle\n"
	"	movl 0x8080, %eax\n"
	"	movl %eax, 0x50000000\n"
	"	jmp idle\n"
	"handle:\n"
	"	movl $2, 0x808c\n" /* BUSY */
	"	movl $200, %r8d\n"
	"	movq 0x8020, %rsi\n"
	"	cmpl $0, 0x8044\n"
	"	je echo\n"
	"	movzbl (%rsi), %edx\n"
	"	cmpb $'N', %dl\n	je do_null\n"
	"	cmpb $'L', %dl\n	je do_loop\n"
	"	cmpb $'B', %dl\n	je do_bogus\n"
	"	cmpb $'X', %dl\n	je do_exit\n"
	"	cmpb $'U', %dl\n	je do_ud\n"
	"	cmpb $'W', %dl\n	je do_wcode\n"
	"	cmpb $'K', %dl\n	je do_kern\n"
	"	cmpb $'P', %dl\n	je do_port\n"
	"	cmpb $'D', %dl\n	je do_bell\n"
	"	cmpb $'H', %dl\n	je do_hlt\n"
	"	cmpb $'E', %dl\n	je do_nx\n"
	"	cmpb $'S', %dl\n	je do_guard\n"
	"	cmpb $'G', %dl\n	je do_log\n"
	"	cmpb $'T', %dl\n	je do_404\n"
	"	cmpb $'R', %dl\n	je do_reason\n"
	"	cmpb $'M', %dl\n	je do_sgdt\n"
	"	cmpb $'I', %dl\n	je do_sidt\n"
	"	cmpb $'Z', %dl\n	je do_sldt\n"
	"	cmpb $'O', %dl\n	je do_smsw\n"
	"	cmpb $'J', %dl\n	je do_str\n"
	"	cmpb $'Y', %dl\n	je do_ldt\n"
	"	cmpb $'C', %dl\n	je do_cli\n"
	"	cmpb $'Q', %dl\n	je do_wrmsr\n"
	"	cmpb $'A', %dl\n	je do_rdmsr\n"
	"	cmpb $'F', %dl\n	je do_lidt\n"
	"	cmpb $'4', %dl\n	je do_cr3\n"
	"	cmpb $'V', %dl\n	je do_syscall\n"
	"	cmpb $'3', %dl\n	je do_int3\n"
	"	cmpb $'8', %dl\n	je do_int80\n"
	"	cmpb $'i', %dl\n	je do_invlpg\n"
	"	cmpb $'w', %dl\n	je do_wbinvd\n"
	"echo:\n"
	"	movl 0x8044, %ecx\n"
	"	movq 0x8028, %rdi\n"
	"	rep movsb\n"
	"	movl 0x8044, %ecx\n"
	"respond:\n" /* ecx = resp_len, eax = req_seq, r8d = status */
	"	movl %ecx, 0x8084\n"
	"	movl %r8d, 0x8088\n"
	"	incq 0x80a0\n"
	"	movl %eax, 0x8080\n" /* resp_seq: x86 stores are release stores */
	"	mfence\n"
	"	cmpl $0, 0x8048\n"
	"	je idle\n"
	"	movl $0, 0x50000008\n" /* NOTIFY */
	"	jmp idle\n"
	"do_null:	movq 0, %rax\n"
	"do_loop:	jmp do_loop\n"
	"do_bogus:	movl $0xffffffff, %ecx\n	jmp respond\n"
	"do_exit:	movl $7, 0x50000010\n	jmp do_loop\n"
	"do_ud:	ud2\n"
	"do_wcode:	movb $0, 0x400000\n"
	"do_kern:	movq 0x1000, %rax\n"
	"do_port:	outb %al, $0x80\n"
	"do_bell:	movl $0, 0x50000018\n"
	"do_hlt:	hlt\n"
	"do_nx:	movq 0x8010, %rdx\n	movb $0xc3, (%rdx)\n	jmp *%rdx\n"
	"do_guard:	movq 0x8018, %rdx\n	movb $1, (%rdx)\n"
	"do_log:\n" /* assumes log_head < ring size - 10: fine for a test */
	"	movl 0x8094, %edx\n"
	"	movabsq $0x6f6c206f6c6c6568, %r9\n" /* "hello lo" */
	"	movq %r9, 0x9000(%rdx)\n"
	"	movw $0x0a67, 0x9008(%rdx)\n" /* "g\n" */
	"	addl $10, %edx\n"
	"	movl %edx, 0x8094\n"
	"	jmp echo\n"
	"do_404:	movl $404, %r8d\n	jmp echo\n"
	"do_sgdt:	subq $16, %rsp\n	sgdt (%rsp)\n	addq $16, %rsp\n	jmp echo\n"
	"do_sidt:	subq $16, %rsp\n	sidt (%rsp)\n	addq $16, %rsp\n	jmp echo\n"
	"do_sldt:	sldt %dx\n	jmp echo\n"
	"do_smsw:	smsw %dx\n	jmp echo\n"
	"do_str:	str %dx\n	jmp echo\n"
	"do_ldt:	movw $7, %dx\n	movw %dx, %fs\n	jmp echo\n"
	"do_cli:	cli\n	jmp echo\n"
	"do_wrmsr:	movl $0xc0000082, %ecx\n	xorl %eax, %eax\n	xorl %edx, %edx\n	wrmsr\n	jmp echo\n"
	"do_rdmsr:	movl $0xc0000082, %ecx\n	rdmsr\n	jmp echo\n"
	"do_lidt:	subq $16, %rsp\n	movq $0, (%rsp)\n	movq $0, 8(%rsp)\n	lidt (%rsp)\n	jmp echo\n"
	"do_cr3:	xorl %edx, %edx\n	movq %rdx, %cr3\n	jmp echo\n"
	"do_syscall:	syscall\n	jmp echo\n"
	"do_int3:	int3\n	jmp echo\n"
	"do_int80:	int $0x80\n	jmp echo\n"
	"do_invlpg:	invlpg 0x400000\n	jmp echo\n"
	"do_wbinvd:	wbinvd\n	jmp echo\n"
	"do_reason:\n"
	"	movl $0x82c0, %edi\n"
	"	movl $256, %ecx\n"
	"	movb $'a', %al\n"
	"	rep stosb\n"
	"	movb $7, 0x82c1\n"
	"	movl $1, 0x50000010\n"
	"	jmp do_loop\n"
	"guest_start_crash:	movq 0, %rax\n"
	"guest_start_hang:	jmp guest_start_hang\n"
	"guest_blob_end:\n"
	".previous\n");
extern const uint8_t guest_blob[], guest_blob_end[], guest_start[], guest_start_crash[],
	guest_start_hang[];
extern const uint8_t sure_trap_blob[];

#define CODE_OFF 0x1000u
#define MEM_MIB 8
#define IO_CAP 4096

/* The sure ABI note the image checker wants: "sure", type 1, the ABI version. */
struct abi_note {
	Elf64_Nhdr nh;
	char name[8]; /* "sure\0" padded to 4 bytes */
	uint32_t version;
};

static uint8_t *image(const uint8_t *entry, size_t *len)
{
	size_t code = (size_t)(guest_blob_end - guest_blob);
	uint8_t *img = calloc(1, CODE_OFF + code);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	size_t note_off = sizeof(*eh) + 2 * sizeof(*ph);
	struct abi_note note = {
		.nh = { .n_namesz = 5, .n_descsz = 4, .n_type = 1 },
		.name = "sure",
		/* It speaks the single-request fields of the control page (ABI 6):
		 * images of an older release run on. */
		.version = 6,
	};

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = SURE_IMAGE_BASE + CODE_OFF + (uint64_t)(entry - guest_blob);
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_offset = 0;
	ph->p_vaddr = ph->p_paddr = SURE_IMAGE_BASE;
	ph->p_filesz = ph->p_memsz = CODE_OFF + code;
	ph->p_align = 0x1000;
	ph[1].p_type = PT_NOTE;
	ph[1].p_flags = PF_R;
	ph[1].p_offset = note_off;
	ph[1].p_vaddr = ph[1].p_paddr = SURE_IMAGE_BASE + note_off;
	ph[1].p_filesz = ph[1].p_memsz = sizeof(note);
	ph[1].p_align = 4;
	memcpy(img + note_off, &note, sizeof(note));
	memcpy(img + CODE_OFF, guest_blob, code);
	*len = CODE_OFF + code;
	return img;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The fault as an array: kind, vector, error code, address, rip. */
static int fault_of(struct sure_instance *inst, uint64_t f[5])
{
	struct sure_fault_info fi = { 0 };
	int rc = sure_instance_fault(inst, &fi, sizeof(fi));

	f[0] = fi.kind;
	f[1] = fi.vector;
	f[2] = fi.error_code;
	f[3] = fi.address;
	f[4] = fi.rip;
	return rc;
}

static struct sure_instance *create_with(const uint8_t *entry, uint32_t timeout_ms, int *rc,
					 char *err, size_t errcap)
{
	size_t len;
	uint8_t *img = image(entry, &len);
	struct sure_instance *inst = NULL;

	*rc = sure_instance_create(img, len, MEM_MIB, IO_CAP, timeout_ms, NULL, 0, &inst, err, errcap);
	free(img);
	return inst;
}

static struct sure_instance *create_echo(void)
{
	char err[256] = "";
	int rc;
	struct sure_instance *inst = create_with(guest_start, 2000, &rc, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "  create: %d %s\n", rc, err);
	return inst;
}

static void test_trap_port_matches_abi(void)
{
	/* trap.S cannot include sure_abi.h: its "out %al, $port" must agree. */
	CHECK_EQ(sure_trap_blob[0x200], 0xe6);
	CHECK_EQ(sure_trap_blob[0x201], SURE_TRAP_PORT);
}

static void test_probe(void)
{
	char err[256];

	/* The error paths of the probe itself: they need no KVM. */
	setenv("SURE_KVM_DEVICE", "/nonexistent/kvm", 1);
	CHECK_EQ(sure_kvm_probe(err, sizeof(err)), -ENOENT);
	CHECK(strcmp(err, "/nonexistent/kvm: No such file or directory") == 0);
	struct sure_instance *inst = NULL;
	int rc;
	inst = create_with(guest_start, 100, &rc, err, sizeof(err));
	CHECK_EQ(rc, -ENOENT);
	CHECK(inst == NULL);
	setenv("SURE_KVM_DEVICE", "/dev/null", 1);
	CHECK(sure_kvm_probe(err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a KVM device") != NULL);
	unsetenv("SURE_KVM_DEVICE");
}

static void test_echo(void)
{
	REQUIRE_KVM();
	struct sure_instance *inst = create_echo();
	CHECK(inst != NULL);
	if (!inst)
		return;
	CHECK_EQ(sure_instance_io_cap(inst), IO_CAP);
	CHECK_EQ(send(inst, "hello", 1000), 5);
	CHECK(memcmp(sure_instance_resp_buf(inst), "hello", 5) == 0);
	CHECK_EQ(sure_instance_status(inst), 200);
	CHECK_EQ(send(inst, "T-me", 1000), 4);
	CHECK_EQ(sure_instance_status(inst), 404);
	CHECK_EQ(sure_instance_invoke(inst, 0, 1000), 0);
	CHECK_EQ(sure_instance_invoke(inst, IO_CAP + 1, 1000), -E2BIG);
	CHECK_EQ(sure_instance_requests(inst), 3);
	/* Let the guest fall asleep (SLEEP doorbell), then wake it with a request. */
	usleep(20000);
	CHECK_EQ(send(inst, "again", 1000), 5);
	CHECK(memcmp(sure_instance_resp_buf(inst), "again", 5) == 0);
	uint64_t f[5];
	CHECK_EQ(fault_of(inst, f), 0);
	CHECK_EQ(f[0], SURE_FAULT_NONE);
	sure_instance_destroy(inst);
}

static void test_log(void)
{
	REQUIRE_KVM();
	struct sure_instance *inst = create_echo();
	if (!inst) {
		CHECK(0);
		return;
	}
	uint8_t buf[64];
	CHECK_EQ(sure_instance_read_log(inst, buf, sizeof(buf)), 0);
	CHECK_EQ(send(inst, "G", 1000), 1);
	CHECK_EQ(send(inst, "G", 1000), 1);
	CHECK_EQ(sure_instance_read_log(inst, buf, sizeof(buf)), 20);
	CHECK(memcmp(buf, "hello log\nhello log\n", 20) == 0);
	sure_instance_destroy(inst);
}

/* Sends `body` and expects the instance to die with the given fault. */
static void expect_fault(const char *body, int want_rc, uint64_t kind, uint64_t vector,
			 uint64_t code, uint64_t addr)
{
	struct sure_instance *inst = create_echo();
	uint64_t f[5];

	if (!inst) {
		CHECK(0);
		return;
	}
	int rc = send(inst, body, 300);
	CHECK_EQ(rc, want_rc);
	CHECK_EQ(fault_of(inst, f), 0);
	CHECK_EQ(f[0], kind);
	CHECK_EQ(f[1], vector);
	CHECK_EQ(f[2], code);
	CHECK_EQ(f[3], addr);
	if (kind == SURE_FAULT_EXCEPTION)
		CHECK(f[4] >= SURE_IMAGE_BASE + CODE_OFF);
	if (rc != want_rc)
		fprintf(stderr, "  body %s: fault %llu %llu %llx %llx rip %llx\n", body,
			(unsigned long long)f[0], (unsigned long long)f[1],
			(unsigned long long)f[2], (unsigned long long)f[3],
			(unsigned long long)f[4]);
	/* Dead stays dead. */
	CHECK_EQ(send(inst, "hi", 100), -EPIPE);
	sure_instance_destroy(inst);
}

static void test_faults(void)
{
	REQUIRE_KVM();
	uint64_t mem = (uint64_t)MEM_MIB << 20;
	uint64_t guard = mem - SURE_STACK_SIZE - SURE_PAGE_SIZE;

	/* #PF error codes: bit0 present, bit1 write, bit2 user, bit4 fetch. */
	expect_fault("N", -EFAULT, SURE_FAULT_EXCEPTION, 14, 0x4, 0);
	expect_fault("W", -EFAULT, SURE_FAULT_EXCEPTION, 14, 0x7, SURE_IMAGE_BASE);
	expect_fault("K", -EFAULT, SURE_FAULT_EXCEPTION, 14, 0x5, SURE_GDT_GPA);
	expect_fault("S", -EFAULT, SURE_FAULT_EXCEPTION, 14, 0x6, guard);
	expect_fault("U", -EFAULT, SURE_FAULT_EXCEPTION, 6, 0, 0);
	expect_fault("P", -EFAULT, SURE_FAULT_EXCEPTION, 13, 0, 0);
	expect_fault("H", -EFAULT, SURE_FAULT_EXCEPTION, 13, 0, 0);
	expect_fault("X", -EFAULT, SURE_FAULT_GUEST_EXIT, 0, 7, 0);
	expect_fault("D", -EFAULT, SURE_FAULT_BAD_EXIT, 0, 6 /* KVM_EXIT_MMIO */,
		     SURE_DOORBELL_GPA + 0x18);
	expect_fault("B", -EPROTO, SURE_FAULT_PROTOCOL, 0, 0xffffffff, 0);
}

/* The special registers the VMM sets, by construction on every host: no LDT,
 * CR4's SMEP, SMAP and UMIP wherever the vCPU offers them, write protection
 * and NX, the function at CPL3; and what a function tries with them faults. */
static void test_cpu_hardening(void)
{
	REQUIRE_KVM();
	const struct sure_kvm *kvm = NULL;
	char err[200];
	struct kvm_sregs sr;

	CHECK_EQ(sure_kvm_get(&kvm, err, sizeof(err)), 0);
	if (!kvm)
		return;
	uint64_t want = sure_cpu_cr4_protections(kvm);
	fprintf(stderr, "# CR4 protections this vCPU offers: SMEP %s, SMAP %s, UMIP %s\n",
		want & (1ull << 20) ? "on" : "not offered", want & (1ull << 21) ? "on" : "not offered",
		want & (1ull << 11) ? "on" : "not offered");
	struct sure_instance *inst = create_echo();
	if (!inst) {
		CHECK(0);
		return;
	}
	/* The guest sleeps in the host (outside KVM_RUN): its vCPU can be read. */
	CHECK_EQ(ioctl(inst->vcpu.fd, KVM_GET_SREGS, &sr), 0);
	CHECK(sr.ldt.unusable || !sr.ldt.present);
	CHECK_EQ(sr.cr4 & want, want);
	CHECK(sr.cr0 & (1ull << 16)); /* WP: read-only pages hold at CPL0 too */
	CHECK(sr.efer & (1ull << 11)); /* NXE */
	CHECK_EQ(sr.cs.dpl, 3);
	CHECK_EQ(sr.ss.dpl, 3);
	CHECK_EQ(sr.idt.limit, 32 * 16 - 1);
	/* Its vCPU thread runs under the seccomp filter (test_confine.c tests
	 * what the filter allows). */
	int tid = __atomic_load_n(&inst->vcpu.tid, __ATOMIC_ACQUIRE);
	char path[64], status[4096];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(status, 1, sizeof(status) - 1, f) : 0;
	if (f)
		fclose(f);
	status[n] = 0;
	CHECK(tid > 0 && strstr(status, "\nSeccomp:\t2\n") != NULL);
	sure_instance_destroy(inst);
	expect_fault("Y", -EFAULT, SURE_FAULT_EXCEPTION, 13, 0x4, 0);
	/* UMIP: every instruction that reads a descriptor-table register or CR0. */
	if (want & (1ull << 11))
		for (const char *ins = "MIZOJ"; *ins; ins++)
			expect_fault((char[]){ *ins, 0 }, -EFAULT, SURE_FAULT_EXCEPTION, 13, 0, 0);
}

/* Privileged and system instructions at the function's level (CPL3): each
 * stops the instance with an exception, none runs on or reaches the host:
 * cli, wrmsr, rdmsr, lidt, a CR3 load, invlpg and wbinvd are #GP on any x86;
 * syscall (no handler: a fetch at 0 here, #UD where SCE is off), int $0x80
 * (past the 32-vector IDT) and int3 end in whatever exception the vCPU
 * raises for them. */
static void test_privileged_instructions(void)
{
	REQUIRE_KVM();
	for (const char *ins = "CQAF4iwV83"; *ins; ins++) {
		struct sure_instance *inst = create_echo();
		uint64_t f[5];
		if (!inst) {
			CHECK(0);
			return;
		}
		CHECK_EQ(send(inst, (char[]){ *ins, 0 }, 300), -EFAULT);
		CHECK_EQ(fault_of(inst, f), 0);
		CHECK_EQ(f[0], SURE_FAULT_EXCEPTION);
		if (strchr("CQAF4iw", *ins))
			CHECK_EQ(f[1], 13);
		else
			CHECK(f[1] < 32);
		if (f[0] != SURE_FAULT_EXCEPTION)
			fprintf(stderr, "  %c: fault %llu vector %llu\n", *ins,
				(unsigned long long)f[0], (unsigned long long)f[1]);
		CHECK_EQ(send(inst, "hi", 100), -EPIPE); /* dead stays dead */
		sure_instance_destroy(inst);
	}
}

/* The reason a guest leaves before EXIT comes out bounded and printable. */
static void test_abort_reason(void)
{
	REQUIRE_KVM();
	struct sure_instance *inst = create_echo();
	struct sure_fault_info fi;

	if (!inst) {
		CHECK(0);
		return;
	}
	CHECK_EQ(send(inst, "R", 300), -EFAULT);
	CHECK_EQ(sure_instance_fault(inst, &fi, sizeof(fi)), 0);
	CHECK_EQ(fi.kind, SURE_FAULT_GUEST_EXIT);
	CHECK_EQ(fi.error_code, 1);
	CHECK_EQ(strnlen(fi.reason, sizeof(fi.reason)), SURE_FAULT_REASON_MAX - 1);
	CHECK(fi.reason[0] == 'a' && fi.reason[1] == '?' && fi.reason[254] == 'a');
	sure_instance_destroy(inst);

	/* An EXIT without a reason: an empty one, not a stale or made-up one. */
	inst = create_echo();
	if (!inst) {
		CHECK(0);
		return;
	}
	CHECK_EQ(send(inst, "X", 300), -EFAULT);
	CHECK_EQ(sure_instance_fault(inst, &fi, sizeof(fi)), 0);
	CHECK_EQ(fi.reason[0], 0);
	sure_instance_destroy(inst);
}

/* The nice value of thread tid (field 19 of its stat), or 99 if unreadable. */
static int thread_nice(int tid)
{
	char path[64], stat[1024];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(stat, 1, sizeof(stat) - 1, f) : 0;
	int nice = 99;

	if (f)
		fclose(f);
	stat[n] = 0;
	const char *p = strrchr(stat, ')'); /* the name may hold anything */
	for (int field = 2; p && field < 19; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%d", &nice);
	return nice;
}

/* sure_vcpu_nice: a plain instance's vCPU thread starts with it where the
 * process may raise it (root here), keeps the process's weight where not,
 * and 0 leaves it alone. */
static void test_vcpu_nice(void)
{
	REQUIRE_KVM();
	CHECK_EQ(sure_vcpu_nice(-21), -EINVAL);
	CHECK_EQ(sure_vcpu_nice(20), -EINVAL);
	int own = getpriority(PRIO_PROCESS, 0);
	for (int want = -10; want <= 0; want += 10) {
		CHECK_EQ(sure_vcpu_nice(want), 0);
		struct sure_instance *inst = create_echo();
		if (!inst) {
			CHECK(0);
			break;
		}
		CHECK_EQ(send(inst, "hi", 1000), 2);
		int tid = __atomic_load_n(&inst->vcpu.tid, __ATOMIC_ACQUIRE);
		int got = thread_nice(tid);
		if (want == 0)
			CHECK_EQ(got, own);
		else
			CHECK_EQ(got, geteuid() == 0 ? want : own);
		sure_instance_destroy(inst);
	}
	sure_vcpu_nice(0);
}

static void test_nx_heap(void)
{
	REQUIRE_KVM();
	struct sure_instance *inst = create_echo();
	uint64_t f[5];

	if (!inst) {
		CHECK(0);
		return;
	}
	CHECK_EQ(send(inst, "E", 300), -EFAULT);
	fault_of(inst, f);
	CHECK_EQ(f[0], SURE_FAULT_EXCEPTION);
	CHECK_EQ(f[1], 14);
	CHECK_EQ(f[2], 0x15); /* present, user, instruction fetch */
	CHECK_EQ(f[3], f[4]); /* it faulted fetching the heap page it jumped to */
	CHECK(f[3] >= SURE_IMAGE_BASE + CODE_OFF);
	sure_instance_destroy(inst);
}

static void test_timeout(void)
{
	REQUIRE_KVM();
	struct sure_instance *inst = create_echo();
	uint64_t f[5];

	if (!inst) {
		CHECK(0);
		return;
	}
	uint64_t t0 = now_ns();
	CHECK_EQ(send(inst, "L", 100), -ETIMEDOUT);
	uint64_t dt = now_ns() - t0;
	/* Never early; the upper bound only says it does not hang (emulated hosts are slow). */
	CHECK(dt >= 100000000ull && dt < 2000000000ull);
	fault_of(inst, f);
	CHECK_EQ(f[0], SURE_FAULT_TIMEOUT);
	CHECK_EQ(send(inst, "hi", 100), -EPIPE);
	t0 = now_ns();
	sure_instance_destroy(inst);
	dt = now_ns() - t0;
	CHECK(dt < 2000000000ull); /* the kick stops a vCPU that would spin forever */
	printf("# destroy after timeout took %llu us\n", (unsigned long long)(dt / 1000));
}

struct busy_arg {
	struct sure_instance *inst;
	int rc;
};

static void *busy_thread(void *p)
{
	struct busy_arg *a = p;
	a->rc = send(a->inst, "L", 300);
	return NULL;
}

static void test_busy(void)
{
	REQUIRE_KVM();
	struct busy_arg a = { .inst = create_echo() };
	pthread_t t;

	if (!a.inst) {
		CHECK(0);
		return;
	}
	pthread_create(&t, NULL, busy_thread, &a);
	usleep(50000);
	CHECK_EQ(sure_instance_invoke(a.inst, 1, 100), -EBUSY);
	pthread_join(t, NULL);
	CHECK_EQ(a.rc, -ETIMEDOUT);
	sure_instance_destroy(a.inst);
}

static void test_init_failures(void)
{
	REQUIRE_KVM();
	char err[256] = "";
	int rc;
	struct sure_instance *inst = create_with(guest_start_crash, 1000, &rc, err, sizeof(err));
	CHECK_EQ(rc, -EFAULT);
	CHECK(inst == NULL);
	CHECK(strstr(err, "exception 14") != NULL);
	uint64_t t0 = now_ns();
	inst = create_with(guest_start_hang, 100, &rc, err, sizeof(err));
	CHECK_EQ(rc, -ETIMEDOUT);
	CHECK(inst == NULL);
	CHECK(now_ns() - t0 < 2000000000ull);
	CHECK(strstr(err, "100 ms") != NULL);
	/* An image that does not fit is refused before any VM exists. */
	size_t len;
	uint8_t *img = image(guest_start, &len);
	rc = sure_instance_create(img, len, 4, IO_CAP, 100, NULL, 0, &inst, err, sizeof(err));
	CHECK_EQ(rc, -EINVAL);
	rc = sure_instance_create(img, len, MEM_MIB, 0, 100, NULL, 0, &inst, err, sizeof(err));
	CHECK_EQ(rc, -EINVAL);
	free(img);
}


static void test_no_leaks(void)
{
	REQUIRE_KVM();
	uint64_t before[3], after[3];
	int fds = check_count_dir("/proc/self/fd"), tasks = check_count_dir("/proc/self/task");
	char err[256];
	int rc;

	check_process_stats(before);
	for (int i = 0; i < 20; i++) {
		struct sure_instance *inst = create_echo();
		if (!inst) {
			CHECK(0);
			break;
		}
		if (i % 3 == 0)
			send(inst, "N", 300);
		else if (i % 3 == 1)
			send(inst, "L", 20);
		else
			send(inst, "hi", 300);
		sure_instance_destroy(inst);
		inst = create_with(guest_start_crash, 300, &rc, err, sizeof(err));
		CHECK(inst == NULL);
	}
	check_process_stats(after);
	CHECK_EQ(after[0], before[0]);
	CHECK_EQ(after[1], before[1]);
	CHECK_EQ(after[2], before[2]);
	CHECK_EQ(check_count_dir("/proc/self/fd"), fds);
	CHECK_EQ(check_count_dir("/proc/self/task"), tasks);
}

/* ---- real functions linked with the guest library (libsg.a) ---- */

static const char faulty_src[] = "#include <sure.h>\n"
				 "int handle(sure_req *req)\n"
				 "{\n"
				 "	if (req->len && req->body[0] == 'N')\n"
				 "		return *(volatile int *)0;\n"
				 "	if (req->len && req->body[0] == 'L')\n"
				 "		for (;;)\n"
				 "			__asm__ volatile(\"\" ::: \"memory\");\n"
				 "	sure_log(\"got %zu bytes\", req->len);\n"
				 "	return sure_write(req, req->body, req->len);\n"
				 "}\n";

static void test_libsg_echo(void)
{
	REQUIRE_KVM();
	char src[PATH_MAX + 64];
	size_t len = 0;
	snprintf(src, sizeof(src), "%s/../functions/echo/echo.c", libsure_dir);
	uint8_t *img = access(src, R_OK) == 0 ? build_function(src, &len) : NULL;
	CHECK(img != NULL);
	if (!img)
		return;
	struct sure_instance *inst = create_image(img, len);
	free(img);
	CHECK(inst != NULL);
	if (!inst)
		return;
	CHECK_EQ(send(inst, "hello", 1000), 5);
	CHECK(memcmp(sure_instance_resp_buf(inst), "hello", 5) == 0);
	CHECK_EQ(sure_instance_status(inst), 200);
	/* Back to back while the guest still spins. */
	for (int i = 0; i < 100; i++)
		CHECK_EQ(send(inst, "ping", 1000), 4);
	usleep(20000); /* asleep now: the next request goes through the SLEEP doorbell */
	CHECK_EQ(send(inst, "wake", 1000), 4);
	CHECK(memcmp(sure_instance_resp_buf(inst), "wake", 4) == 0);
	sure_instance_destroy(inst);
}

static void test_libsg_faults(void)
{
	REQUIRE_KVM();
	char src[PATH_MAX + 64];
	size_t len = 0;
	uint64_t f[5];
	snprintf(src, sizeof(src), "%s/faulty.c", tmp_dir);
	FILE *fp = fopen(src, "w");
	if (fp) {
		fputs(faulty_src, fp);
		fclose(fp);
	}
	uint8_t *img = build_function(src, &len);
	CHECK(img != NULL);
	if (!img)
		return;

	struct sure_instance *inst = create_image(img, len);
	CHECK(inst != NULL);
	if (inst) {
		uint8_t log[256];
		CHECK_EQ(send(inst, "hi", 1000), 2);
		CHECK_EQ(sure_instance_read_log(inst, log, sizeof(log)), 12);
		CHECK(memcmp(log, "got 2 bytes\n", 12) == 0);
		CHECK_EQ(send(inst, "N", 1000), -EFAULT);
		fault_of(inst, f);
		CHECK_EQ(f[0], SURE_FAULT_EXCEPTION);
		CHECK_EQ(f[1], 14);
		CHECK_EQ(f[3], 0);
		sure_instance_destroy(inst);
	}
	inst = create_image(img, len);
	CHECK(inst != NULL);
	if (inst) {
		CHECK_EQ(send(inst, "L", 100), -ETIMEDOUT);
		fault_of(inst, f);
		CHECK_EQ(f[0], SURE_FAULT_TIMEOUT);
		uint64_t t0 = now_ns();
		sure_instance_destroy(inst);
		CHECK(now_ns() - t0 < 2000000000ull);
	}
	free(img);
}

int main(void)
{
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("test_vm setup");
		return 1;
	}
	RUN(test_trap_port_matches_abi);
	RUN(test_probe);
	RUN(test_echo);
	RUN(test_log);
	RUN(test_faults);
	RUN(test_cpu_hardening);
	RUN(test_privileged_instructions);
	RUN(test_abort_reason);
	RUN(test_vcpu_nice);
	RUN(test_nx_heap);
	RUN(test_timeout);
	RUN(test_busy);
	RUN(test_init_failures);
	RUN(test_no_leaks);
	RUN(test_libsg_echo);
	RUN(test_libsg_faults);
	cleanup_tmp();
	return CHECK_DONE();
}
