/*
 * shells.c - empty VMs made ahead of time.
 *
 * KVM_CREATE_VM is the most expensive step of starting an instance, and it
 * gets slower with every mapping in the process (measured: 0.15 ms with a
 * few hundred VMAs, ~0.9 ms with 5000 plain anonymous mappings and no other
 * VM, ~1 ms with 1000 instances alive; we think it is the MMU notifier KVM
 * registers, not verified). A shell is such a VM with nothing in it yet; a
 * background thread at the lowest priority keeps a few ready. Only the VM:
 * the vCPU costs 0.04 ms and is made after the memory slots.
 *
 * The ready VMs sit in an array of atomically exchanged fds, so taking one
 * never waits for the (low priority) refill thread; the refill thread
 * sleeps on a futex word that takers bump. Disabled until sure_vm_shells().
 */
#include "shells.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libsure.h"
#include "util.h"
#include "vm.h"

#define SHELLS_MAX 64u
/* A refill that starts at once slows the instance that just took a shell
 * (measured with 1000 VMs: its first memory slot took ~1 ms instead of
 * 0.03 ms, a whole clone 1.3 ms instead of 0.5 ms): let it set up first. */
#define REFILL_DELAY_NS 2000000ull

static int ready_fd[SHELLS_MAX] = { [0 ... SHELLS_MAX - 1] = -1 };
static uint32_t target; /* how many to keep ready */
static uint32_t demand; /* futex word: bumped by takers and by sure_vm_shells */
static uint32_t refiller_started;
static uint64_t taken; /* shells handed out so far */
static const struct sure_kvm *shell_kvm;

static uint32_t count_ready(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < SHELLS_MAX; i++)
		n += __atomic_load_n(&ready_fd[i], __ATOMIC_RELAXED) >= 0;
	return n;
}

/* Puts fd into a free place; 0, or -ENOSPC (then the caller closes it). */
static int put(int fd)
{
	for (uint32_t i = 0; i < __atomic_load_n(&target, __ATOMIC_RELAXED); i++) {
		int empty = -1;
		if (__atomic_compare_exchange_n(&ready_fd[i], &empty, fd, 0, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return 0;
	}
	return -ENOSPC;
}

static void poke(void)
{
	__atomic_add_fetch(&demand, 1, __ATOMIC_RELEASE);
	sure_futex_wake(&demand);
}

static void *refill_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sure-shells");
	/* Lowest CFS weight: it yields to requests, but is never starved for good. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	for (;;) {
		uint32_t seen = __atomic_load_n(&demand, __ATOMIC_ACQUIRE);
		if (count_ready() >= __atomic_load_n(&target, __ATOMIC_RELAXED)) {
			sure_futex_wait(&demand, seen, UINT64_MAX);
			continue;
		}
		struct timespec pause = { 0, (long)REFILL_DELAY_NS };
		nanosleep(&pause, NULL);
		int fd = sure_vm_create(shell_kvm, NULL, 0);
		if (fd < 0) {
			/* Out of fds or memory: try again when someone takes one. */
			sure_futex_wait(&demand, __atomic_load_n(&demand, __ATOMIC_ACQUIRE),
					UINT64_MAX);
			continue;
		}
		if (put(fd) < 0)
			close(fd);
	}
	return NULL;
}

static int start_refiller(void)
{
	uint32_t no = 0;
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	if (!__atomic_compare_exchange_n(&refiller_started, &no, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return 0;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256u << 10);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&t, &attr, refill_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc < 0)
		__atomic_store_n(&refiller_started, 0, __ATOMIC_RELEASE);
	return rc;
}

SURE_API int sure_vm_shells(uint32_t n)
{
	char err[8];
	const struct sure_kvm *kvm;
	int rc = sure_kvm_get(&kvm, err, sizeof(err));

	if (rc < 0)
		return rc;
	if (n > SHELLS_MAX)
		return -EINVAL;
	shell_kvm = kvm;
	__atomic_store_n(&target, n, __ATOMIC_RELEASE);
	/* Fewer wanted: close the ready ones beyond the new target. */
	for (uint32_t i = n; i < SHELLS_MAX; i++) {
		int fd = __atomic_exchange_n(&ready_fd[i], -1, __ATOMIC_ACQ_REL);
		if (fd >= 0)
			close(fd);
	}
	if (n > 0) {
		rc = start_refiller();
		poke();
	}
	return rc;
}

SURE_API uint32_t sure_vm_shells_ready(void)
{
	return count_ready();
}

int sure_shell_take(void)
{
	for (uint32_t i = 0; i < SHELLS_MAX; i++) {
		if (__atomic_load_n(&ready_fd[i], __ATOMIC_RELAXED) < 0)
			continue;
		int fd = __atomic_exchange_n(&ready_fd[i], -1, __ATOMIC_ACQUIRE);
		if (fd >= 0) {
			__atomic_add_fetch(&taken, 1, __ATOMIC_RELAXED);
			poke();
			return fd;
		}
	}
	return -EAGAIN;
}

uint64_t sure_shells_taken(void)
{
	return __atomic_load_n(&taken, __ATOMIC_RELAXED);
}
