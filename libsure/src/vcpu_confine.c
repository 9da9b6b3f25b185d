/*
 * vcpu_confine.c - the seccomp filter every vCPU thread runs under (cpu.h's
 * neighbour vcpu.c installs it before the first KVM_RUN). A guest that
 * escaped KVM would land in a thread that may only do what a vCPU thread
 * does: KVM ioctls, futexes, writes to the eventfds it rings and waits on
 * (poll), its kick signal's return, the clock, memory that is never executable, and its own
 * exit. Everything else (open, socket, connect, execve, clone, ptrace,
 * process_vm_*, mmap or mprotect with PROT_EXEC, x32 calls, other
 * architectures) fails with EPERM: the thread keeps running, so a call we
 * missed shows up as an error, never as a dead VM.
 *
 * The filter is the thread's own (no TSYNC): the control plane's threads are
 * not confined by it.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "instance.h"

#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARCH_OFF offsetof(struct seccomp_data, arch)
#define ARG2_LO_OFF offsetof(struct seccomp_data, args[2]) /* little endian: the low word */

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define ALLOW_IF(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define DENY BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

int sure_vcpu_confine(void)
{
	static struct sock_filter prog[] = {
		LOAD(ARCH_OFF),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		DENY,
		LOAD(NR_OFF),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* x32 */, 0, 1),
		DENY,
		/* What the vCPU loop and its exits do. */
		ALLOW_IF(__NR_ioctl),
		ALLOW_IF(__NR_futex),
		ALLOW_IF(__NR_write), /* eventfd doorbells; a line on stderr */
		ALLOW_IF(__NR_read),
		ALLOW_IF(__NR_poll), /* a chain step's sleep on its doorbell's eventfd */
		ALLOW_IF(__NR_ppoll),
		ALLOW_IF(__NR_rt_sigreturn), /* the kick */
		ALLOW_IF(__NR_rt_sigprocmask),
		ALLOW_IF(__NR_clock_gettime), /* the vDSO's fallback */
		ALLOW_IF(__NR_clock_nanosleep),
		ALLOW_IF(__NR_nanosleep),
		ALLOW_IF(__NR_sched_yield),
		ALLOW_IF(__NR_gettid),
		ALLOW_IF(__NR_getpid),
		ALLOW_IF(__NR_tgkill), /* abort() on a broken invariant */
		/* malloc's and thread exit's memory calls. */
		ALLOW_IF(__NR_brk),
		ALLOW_IF(__NR_munmap),
		ALLOW_IF(__NR_madvise),
		ALLOW_IF(__NR_mremap),
		ALLOW_IF(__NR_exit),
		ALLOW_IF(__NR_exit_group),
		ALLOW_IF(__NR_rseq),
		/* mmap and mprotect, never with PROT_EXEC. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 0, 4), /* else: the last DENY */
		LOAD(ARG2_LO_OFF),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
		DENY,
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		DENY,
	};
	static const struct sock_fprog fprog = {
		.len = sizeof(prog) / sizeof(prog[0]),
		.filter = prog,
	};

	/* Required to install a filter without CAP_SYS_ADMIN; per thread. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}
