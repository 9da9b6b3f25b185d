/*
 * bench_confine.c - what the vCPU threads' seccomp filter (src/vcpu_confine.c)
 * costs per system call: a thread makes the calls a vCPU thread makes most
 * (an ioctl that fails fast, as KVM_RUN's exits are ioctls; a futex wake; an
 * eventfd write) before and after confining itself, in the same run, and
 * prints ns per call and the difference. Needs no KVM.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "instance.h"

#define CALLS 200000
#define ROUNDS 5

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per call of each kind: [0] ioctl, [1] futex wake, [2] eventfd write. */
static void measure(int efd, double out[3])
{
	uint32_t word = 0;
	uint64_t one = 1, v;

	for (int k = 0; k < 3; k++) {
		double best = 1e18;
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			for (int i = 0; i < CALLS; i++) {
				if (k == 0)
					ioctl(efd, FIONREAD, &v); /* eventfds have no FIONREAD: -ENOTTY, fast */
				else if (k == 1)
					syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
				else if (write(efd, &one, sizeof(one)) < 0)
					return;
			}
			double ns = (now_ns() - t0) / CALLS;
			best = ns < best ? ns : best;
			if (k == 2 && read(efd, &v, sizeof(v)) < 0)
				return;
		}
		out[k] = best;
	}
}

static double before[3], after[3];
static int confined_rc;

static void *run(void *arg)
{
	int efd = *(int *)arg;

	measure(efd, before);
	confined_rc = sure_vcpu_confine();
	measure(efd, after);
	return NULL;
}

int main(void)
{
	static const char *names[3] = { "ioctl (fails fast)", "futex wake", "eventfd write" };
	int efd = eventfd(0, EFD_CLOEXEC);
	pthread_t t;

	if (efd < 0 || pthread_create(&t, NULL, run, &efd) || pthread_join(t, NULL)) {
		perror("bench_confine");
		return 1;
	}
	if (confined_rc < 0) {
		printf("bench_confine: the filter could not be installed (%d): not measured\n", confined_rc);
		return 0;
	}
	printf("vCPU thread seccomp filter, ns per system call (best of %d x %d calls, one thread)\n",
	       ROUNDS, CALLS);
	printf("%-20s %10s %10s %10s\n", "call", "unconfined", "confined", "added");
	for (int k = 0; k < 3; k++)
		printf("%-20s %10.1f %10.1f %10.1f\n", names[k], before[k], after[k], after[k] - before[k]);
	return 0;
}
