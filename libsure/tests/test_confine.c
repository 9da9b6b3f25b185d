/*
 * test_confine.c - the seccomp filter of vCPU threads (src/vcpu_confine.c),
 * applied to a thread of this test: what a vCPU thread does still works,
 * what an escaped guest would want next fails with EPERM (every x86-64
 * system call number below 512 outside its list, and x32's), and other threads
 * are not confined. (test_vm.c checks that real vCPU threads run under it.)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "instance.h"

static int efd = -1;
static int results[16];
/* Every x86-64 system call number outside the filter's list that did not
 * fail with EPERM (the whole class, not a few examples), and x32's. */
static long not_denied[64];
static int n_not_denied;

/* The calls vcpu_confine.c allows (mmap and mprotect: only without PROT_EXEC). */
static int allowed(long nr)
{
	static const long list[] = {
		SYS_ioctl, SYS_futex, SYS_write, SYS_read, SYS_poll, SYS_ppoll, SYS_rt_sigreturn,
		SYS_rt_sigprocmask,
		SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_sched_yield, SYS_gettid,
		SYS_getpid, SYS_tgkill, SYS_brk, SYS_munmap, SYS_madvise, SYS_mremap, SYS_exit,
		SYS_exit_group, SYS_rseq, SYS_mmap, SYS_mprotect,
	};
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (list[i] == nr)
			return 1;
	return 0;
}

/* Denied calls never run, so their arguments (all 0) do not matter. Linux
 * numbers its x86-64 calls 0-334 (rseq) and from 424 (pidfd_send_signal) on;
 * the gap in between is no Linux call, and some hypervisors take numbers
 * there before the kernel's entry (where seccomp runs) sees them: on PVM
 * hosts 335 raises SIGILL with or without a filter. */
static void try_every_other_call(void)
{
	for (long nr = 0; nr < 512; nr++) {
		if (allowed(nr) || (nr > SYS_rseq && nr < 424))
			continue;
		long rc = syscall(nr, 0, 0, 0, 0, 0, 0);
		if ((rc != -1 || errno != EPERM) && n_not_denied < 64)
			not_denied[n_not_denied++] = nr;
	}
	/* x32's numbering of read: denied as a whole ABI. */
	long rc = syscall(0x40000000L | SYS_read, -1, 0, 0);
	if ((rc != -1 || errno != EPERM) && n_not_denied < 64)
		not_denied[n_not_denied++] = 0x40000000L | SYS_read;
}

enum { R_CONFINE, R_WRITE, R_POLL, R_FUTEX, R_MMAP_RW, R_OPEN, R_SOCKET, R_EXEC, R_MMAP_X,
       R_MPROTECT_X, R_CLONE, R_KILL, R_N };

static int err_of(long rc)
{
	return rc < 0 ? errno : 0;
}

static void *confined(void *arg)
{
	uint64_t one = 1;
	uint32_t word = 0;

	(void)arg;
	results[R_CONFINE] = sure_vcpu_confine();
	results[R_WRITE] = err_of(write(efd, &one, sizeof(one)));
	/* A chain step sleeps in poll on its doorbell's eventfd (chain_step.c). */
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	long n = poll(&pfd, 1, 1000);
	results[R_POLL] = n == 1 ? 0 : n < 0 ? errno : ETIMEDOUT;
	results[R_FUTEX] = err_of(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	results[R_MMAP_RW] = p == MAP_FAILED ? errno : 0;
	results[R_OPEN] = err_of(open("/proc/self/status", O_RDONLY));
	results[R_SOCKET] = err_of(socket(AF_INET, SOCK_STREAM, 0));
	char *argv[] = { "/bin/true", NULL };
	results[R_EXEC] = err_of(execve("/bin/true", argv, NULL));
	void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	results[R_MMAP_X] = x == MAP_FAILED ? errno : 0;
	results[R_MPROTECT_X] = p == MAP_FAILED ? -1 : err_of(mprotect(p, 4096, PROT_READ | PROT_EXEC));
	results[R_CLONE] = err_of(syscall(SYS_clone, 0, NULL, NULL, NULL, 0));
	results[R_KILL] = err_of(syscall(SYS_kill, getpid(), 0));
	if (p != MAP_FAILED)
		munmap(p, 4096);
	try_every_other_call();
	return NULL;
}

static void test_filter(void)
{
	pthread_t t;

	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_EQ(pthread_create(&t, NULL, confined, NULL), 0);
	CHECK_EQ(pthread_join(t, NULL), 0); /* it exits normally */
	CHECK_EQ(results[R_CONFINE], 0);
	/* What a vCPU thread does. */
	CHECK_EQ(results[R_WRITE], 0);
	CHECK_EQ(results[R_POLL], 0);
	CHECK_EQ(results[R_FUTEX], 0);
	CHECK_EQ(results[R_MMAP_RW], 0);
	/* What an escape would want. */
	CHECK_EQ(results[R_OPEN], EPERM);
	CHECK_EQ(results[R_SOCKET], EPERM);
	CHECK_EQ(results[R_EXEC], EPERM);
	CHECK_EQ(results[R_MMAP_X], EPERM);
	CHECK_EQ(results[R_MPROTECT_X], EPERM);
	CHECK_EQ(results[R_CLONE], EPERM);
	CHECK_EQ(results[R_KILL], EPERM);
	CHECK_EQ(n_not_denied, 0);
	for (int i = 0; i < n_not_denied; i++)
		fprintf(stderr, "  system call %ld was not denied\n", not_denied[i]);
	/* This thread is not confined. */
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	close(efd);
}

int main(void)
{
	RUN(test_filter);
	return CHECK_DONE();
}
