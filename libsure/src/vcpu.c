/*
 * vcpu.c - the vCPU thread: KVM_RUN in a loop and the handling of every
 * exit. Only doorbell writes and the trap port are legal exits; anything
 * else the guest provokes is recorded as a fault and stops the instance.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cpu.h"
#include "instance.h"
#include "libsure.h"
#include "stats.h"
#include "sure_abi.h"
#include "util.h"

#define VCPU_STACK (256u << 10) /* the loop needs little; many VMs per process */
#define TRAP_FRAME_WORDS 7 /* vector, error code, rip, cs, rflags, rsp, ss */

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
/* Where vCPU threads may run (sure_vcpu_cpus); empty = anywhere. */
static cpu_set_t vcpu_cpus;
static int vcpu_cpus_set;
static int vcpu_nice; /* plain instances' vCPU threads take it when they start (0: as is) */
static pthread_mutex_t vcpu_cpus_lock = PTHREAD_MUTEX_INITIALIZER;
static int kick_sig;

static void kick_handler(int sig)
{
	/* Empty: its only job is to interrupt KVM_RUN (or a futex) with EINTR. */
	(void)sig;
}

static void kick_install(void)
{
	struct sigaction sa;

	/* A real-time signal nobody else uses; glibc keeps the first few. */
	kick_sig = SIGRTMIN + 6;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(kick_sig, &sa, NULL);
}

int sure_vcpu_create(struct sure_vcpu *v, int vm_fd, const struct sure_kvm *kvm)
{
	void *run;

	v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (v->fd < 0)
		return -errno;
	run = mmap(NULL, (size_t)kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		int rc = -errno;
		close(v->fd);
		v->fd = -1;
		return rc;
	}
	v->run = run;
	v->run_size = (size_t)kvm->vcpu_mmap_size;
	return 0;
}

void sure_vcpu_kick(struct sure_vcpu *v)
{
	if (!v->started)
		return;
	/* immediate_exit covers a thread about to enter KVM_RUN; the signal one inside it. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, kick_sig);
}

void sure_vcpu_destroy(struct sure_vcpu *v)
{
	if (v->started) {
		pthread_join(v->thread, NULL);
		v->started = 0;
		sure_stat_add(SURE_STAT_VCPU_THREADS, -1);
	}
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static uint64_t guest_rip(struct sure_instance *inst)
{
	struct kvm_regs regs;

	if (ioctl(inst->vcpu.fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return regs.rip;
}

static void bad_exit(struct sure_instance *inst, uint64_t code, uint64_t addr)
{
	sure_fault_record(&inst->fault, SURE_FAULT_BAD_EXIT, 0, code, addr, guest_rip(inst));
}

/* A trap stub reported an exception: read its frame off the trap stack. */
static void on_trap(struct sure_instance *inst)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t f[TRAP_FRAME_WORDS];

	if (ioctl(inst->vcpu.fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(inst->vcpu.fd, KVM_GET_SREGS, &sregs) < 0) {
		sure_fault_record(&inst->fault, SURE_FAULT_KVM, 0, (uint64_t)errno, 0, 0);
		return;
	}
	/* Only the stubs write this stack, but check before trusting rsp. */
	if (regs.rsp < SURE_KSTACK_GPA || regs.rsp > SURE_KSTACK_TOP - sizeof(f) ||
	    (regs.rsp & 7)) {
		bad_exit(inst, KVM_EXIT_IO, SURE_TRAP_PORT);
		return;
	}
	memcpy(f, inst->ram.map + regs.rsp, sizeof(f));
	if (f[0] >= 32) {
		bad_exit(inst, KVM_EXIT_IO, SURE_TRAP_PORT);
		return;
	}
	/* CR2 only means something for #PF; elsewhere it would be stale. */
	sure_fault_record(&inst->fault, SURE_FAULT_EXCEPTION, f[0], f[1], f[0] == 14 ? sregs.cr2 : 0,
			  f[2]);
}

/* Returns 1 to keep running the guest, 0 to stop. */
static int on_mmio(struct sure_instance *inst, struct kvm_run *run)
{
	uint64_t addr = run->mmio.phys_addr, data = 0;
	uint32_t len = run->mmio.len;

	if (addr < SURE_DOORBELL_GPA || addr >= SURE_DOORBELL_GPA + SURE_PAGE_SIZE ||
	    !run->mmio.is_write || len == 0 || len > sizeof(data)) {
		bad_exit(inst, KVM_EXIT_MMIO, addr);
		return 0;
	}
	memcpy(&data, run->mmio.data, len); /* x86: little endian, zero-extended */
	switch (addr - SURE_DOORBELL_GPA) {
	case SURE_DOORBELL_SLEEP:
		/* Creation may be waiting for ready without a NOTIFY: tell it too. */
		sure_channel_notify(&inst->ch);
		if (inst->att.ops && inst->att.ops->sleep)
			inst->att.ops->sleep(inst);
		else
			sure_channel_sleep(&inst->ch, (uint32_t)data);
		return 1;
	case SURE_DOORBELL_NOTIFY:
		sure_channel_notify(&inst->ch);
		return 1;
	case SURE_DOORBELL_SNAPSHOT:
		/* Only a template source stops here; in a clone this is at most a
		 * replay of the doorbell its template rang, and means nothing. */
		if (!inst->snap || __atomic_load_n(&inst->snapshot_taken, __ATOMIC_RELAXED))
			return 1;
		if (sure_cpu_save(inst->vcpu.fd, inst->kvm, inst->snap) < 0) {
			sure_fault_record(&inst->fault, SURE_FAULT_KVM, 0, (uint64_t)errno, 0, 0);
			return 0;
		}
		__atomic_store_n(&inst->snapshot_taken, 1, __ATOMIC_RELEASE);
		return 0;
	case SURE_DOORBELL_EXIT:
		sure_fault_record_exit(&inst->fault, data, guest_rip(inst), inst->ctrl->abort_reason,
				       sizeof(inst->ctrl->abort_reason));
		return 0;
	default:
		break;
	}
	/* The attachment's own doorbells (a chain's WAKE and BOGUS). */
	if (inst->att.ops) {
		for (uint32_t i = 0; i < inst->att.ops->ndoorbells; i++) {
			const struct sure_doorbell *d = &inst->att.ops->doorbells[i];
			if (addr - SURE_DOORBELL_GPA == d->offset)
				return d->ring(inst, data);
		}
	}
	bad_exit(inst, KVM_EXIT_MMIO, addr);
	return 0;
}

/* Returns 1 to keep running the guest, 0 to stop. */
static int on_exit(struct sure_instance *inst, struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		return on_mmio(inst, run);
	case KVM_EXIT_IO:
		if (run->io.port == SURE_TRAP_PORT && run->io.direction == KVM_EXIT_IO_OUT)
			on_trap(inst);
		else
			bad_exit(inst, KVM_EXIT_IO, run->io.port);
		return 0;
	case KVM_EXIT_SHUTDOWN:
		sure_fault_record(&inst->fault, SURE_FAULT_TRIPLE, 0, 0, 0, guest_rip(inst));
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		bad_exit(inst, KVM_EXIT_FAIL_ENTRY, run->fail_entry.hardware_entry_failure_reason);
		return 0;
	case KVM_EXIT_INTERNAL_ERROR:
		bad_exit(inst, KVM_EXIT_INTERNAL_ERROR, run->internal.suberror);
		return 0;
	default: /* HLT and everything else */
		bad_exit(inst, run->exit_reason, 0);
		return 0;
	}
}

static void *vcpu_main(void *arg)
{
	struct sure_instance *inst = arg;
	struct kvm_run *run = inst->vcpu.run;
	sigset_t only_kick;

	/* A name that says what it is in top -H and in perf (15 characters at most). */
	char name[16];
	if (inst->att.ops)
		snprintf(name, sizeof(name), "%s%u", inst->att.ops->thread_name, inst->att.index);
	else
		snprintf(name, sizeof(name), "sure-vcpu");
	pthread_setname_np(pthread_self(), name);
	__atomic_store_n(&inst->vcpu.tid, (int)gettid(), __ATOMIC_RELEASE);
	pthread_mutex_lock(&vcpu_cpus_lock);
	if (vcpu_cpus_set)
		pthread_setaffinity_np(pthread_self(), sizeof(vcpu_cpus), &vcpu_cpus);
	int nice = inst->att.ops ? 0 : vcpu_nice; /* chain steps keep theirs: see sure_vcpu_nice */
	pthread_mutex_unlock(&vcpu_cpus_lock);
	/* Best effort: without CAP_SYS_NICE a raise is refused (EACCES) and the
	 * thread keeps the node's weight. Before the confinement, which forbids it. */
	if (nice)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), nice);

	/* Everything stays blocked (set by the creator) except the kick. */
	sigemptyset(&only_kick);
	sigaddset(&only_kick, kick_sig);
	pthread_sigmask(SIG_UNBLOCK, &only_kick, NULL);

	/* From here on the thread may only do what a vCPU thread does; a guest
	 * never runs in a thread that could do more. */
	int confined = sure_vcpu_confine();
	if (confined < 0)
		sure_fault_record(&inst->fault, SURE_FAULT_KVM, 0, (uint64_t)-confined, 0, 0);

	while (confined == 0 && !sure_channel_dead(&inst->ch)) {
		if (ioctl(inst->vcpu.fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue; /* a kick: the loop condition decides */
			sure_fault_record(&inst->fault, SURE_FAULT_KVM, 0, (uint64_t)errno, 0, 0);
			break;
		}
		if (!on_exit(inst, run))
			break;
	}
	/* Whatever ended the loop, nobody may wait for this guest any more. */
	sure_channel_kill(&inst->ch);
	/* A template source that stopped at its snapshot did not die: whatever
	 * waits for its seat (a chain step's rings) is for the clone that comes next. */
	if (inst->att.ops && inst->att.ops->stopped &&
	    !__atomic_load_n(&inst->snapshot_taken, __ATOMIC_ACQUIRE))
		inst->att.ops->stopped(inst);
	return NULL;
}

int sure_vcpu_start(struct sure_instance *inst)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	pthread_once(&kick_once, kick_install);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK);
	/* The thread inherits this mask: no process signal ever lands on a vCPU. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&inst->vcpu.thread, &attr, vcpu_main, inst);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc == 0) {
		inst->vcpu.started = 1;
		sure_stat_add(SURE_STAT_VCPU_THREADS, 1);
	}
	return rc;
}

uint32_t sure_vcpu_cpu_count(void)
{
	cpu_set_t set;
	int n;

	pthread_mutex_lock(&vcpu_cpus_lock);
	set = vcpu_cpus;
	n = vcpu_cpus_set ? CPU_COUNT(&set) : 0;
	pthread_mutex_unlock(&vcpu_cpus_lock);
	if (n == 0 && sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	return n > 0 ? (uint32_t)n : 1;
}

SURE_API int sure_vcpu_cpus(const uint8_t *cpus, uint32_t n)
{
	cpu_set_t set;
	uint32_t count = 0;

	if (n > CPU_SETSIZE || (n && !cpus))
		return -EINVAL;
	CPU_ZERO(&set);
	for (uint32_t i = 0; i < n; i++) {
		if (cpus[i]) {
			CPU_SET(i, &set);
			count++;
		}
	}
	pthread_mutex_lock(&vcpu_cpus_lock);
	vcpu_cpus = set;
	vcpu_cpus_set = count > 0;
	pthread_mutex_unlock(&vcpu_cpus_lock);
	return 0;
}

SURE_API int sure_vcpu_nice(int nice)
{
	if (nice < -20 || nice > 19)
		return -EINVAL;
	pthread_mutex_lock(&vcpu_cpus_lock);
	vcpu_nice = nice;
	pthread_mutex_unlock(&vcpu_cpus_lock);
	return 0;
}
