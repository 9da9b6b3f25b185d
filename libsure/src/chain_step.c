/*
 * chain_step.c - the steps' side of a chain: the hooks it attaches to each
 * step's instance (struct sure_attach_ops), so that the instance code and
 * the vCPU loop never name chains, and the templates of its steps. The hooks
 * run on the step's vCPU thread with no chain lock held.
 */
#include "chain.h"

#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>

#include "fault.h"
#include "instance.h"
#include "sure_desc_fetch.h"
#include "template.h"
#include "util.h"

static struct sure_chain_seat *seat_of(struct sure_instance *inst)
{
	return inst->att.seat;
}

static int claim(void *p, struct sure_instance *inst)
{
	struct sure_chain_seat *seat = p;
	struct sure_chain *c = seat->chain;
	int rc = 0;

	pthread_mutex_lock(&c->seat_lock);
	if (seat->step >= c->nsteps)
		rc = -EINVAL;
	else if (seat->inst)
		rc = -EEXIST;
	else {
		seat->inst = inst;
		seat->slept = 0;
		seat->idle_since_ns = 0;
		/* A new instance counts from zero: fold from there. */
		seat->seen_handled = seat->seen_handoffs = seat->seen_copied = 0;
		/* And holds nothing yet, whatever the one before it last said. */
		sure_store(&c->nodes[seat->step].holding, 0);
	}
	pthread_mutex_unlock(&c->seat_lock);
	if (rc == 0)
		inst->wake_fd = c->wake_fd[seat->step]; /* it sleeps there (see step_sleep) */
	return rc;
}

static void release(void *p, struct sure_instance *inst)
{
	struct sure_chain_seat *seat = p;
	struct sure_chain *c = seat->chain;

	pthread_mutex_lock(&c->seat_lock);
	if (seat->inst == inst) {
		sure_chain_seat_fold(seat); /* its last counters count */
		seat->inst = NULL;
	}
	pthread_mutex_unlock(&c->seat_lock);
}

/* The chain's table read-only; of its pool, only what this step's views
 * show (its own node page and outgoing rings writable, sure_chain_abi.h). */
static uint32_t regions(void *p, struct sure_region *out)
{
	struct sure_chain_seat *seat = p;
	struct sure_chain *c = seat->chain;

	out[0] = (struct sure_region){
		.gpa = SURE_META_GPA, .host = c->meta.map, .size = c->meta.size, .writable = 0,
		.pkey = SURE_PKEY_CHAIN,
	};
	out[1] = (struct sure_region){
		.gpa = SURE_POOL_GPA, .host = c->pool.map, .size = c->pool.size, .writable = 1,
		.views = seat->views, .nviews = seat->nviews,
	};
	return 2;
}

/* How long a step polls before it sleeps when the chain's steps share CPUs:
 * a step that polls there holds the CPU the step it just handed to needs.
 * Measured on 2 cores (3 steps on the one CPU the vCPUs get): 2 us instead
 * of the 50 us default answered a 3-step chain ~1.5x faster at c1 and
 * ~1.1-1.25x at c32 (wrk, 64 B). */
#define SHARED_SPIN_US 2u

static void fill_ctrl(void *p, struct sure_ctrl *ctrl)
{
	struct sure_chain_seat *seat = p;

	ctrl->chain_meta_gva = SURE_META_GPA;
	ctrl->chain_step = seat->step;
	/* 0: the guest's 50 us, worth it when each step can have a CPU. */
	uint32_t cpus = sure_vcpu_cpu_count();
	ctrl->spin_us = cpus >= seat->chain->nsteps ? 0 : SHARED_SPIN_US;
	seat->defer_wake = cpus == 1 && seat->chain->nsteps > 1;
	ctrl->defer_wake = seat->defer_wake;
}

/* Lets the guests of vm_fd ring WAKE inside KVM (best effort: else it is an exit). */
static void bind_vm(void *p, int vm_fd)
{
	struct sure_chain *c = ((struct sure_chain_seat *)p)->chain;

	for (uint32_t n = 0; n < SURE_NODES; n++) {
		if (c->wake_fd[n] < 0)
			continue;
		struct kvm_ioeventfd io = {
			.datamatch = n,
			.addr = SURE_DOORBELL_GPA + SURE_DOORBELL_WAKE,
			.len = 8,
			.fd = c->wake_fd[n],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		/* Refused (no KVM_CAP_IOEVENTFD): WAKE stays an exit (on_wake). */
		ioctl(vm_fd, KVM_IOEVENTFD, &io);
	}
}

int sure_chain_step_has_work(struct sure_chain *c, uint32_t step)
{
	const struct sure_step_meta *s = &c->m->step[step];

	for (uint32_t i = 0; i < s->n_in && i < SURE_NODES; i++) {
		struct sure_ring *r = sure_chain_ring(c, s->in[i], step);
		if (sure_load(&r->head) != sure_load(sure_chain_tail(c, s->in[i], step)))
			return 1;
	}
	return 0;
}

/* Wakes the steps that sleep with work waiting in their rings: the hand-offs
 * whose WAKE a producer deferred (sure_ctrl.defer_wake). Any step's, so a
 * step that lies about its rings only wakes its own consumers. */
void sure_chain_wake_deferred(struct sure_chain *c)
{
	for (uint32_t s = 0; s < c->nsteps; s++)
		if (sure_load(&c->sleeping[s]) && sure_chain_step_has_work(c, s))
			sure_chain_wake_sleeper(c, s);
}

/* SLEEP: wait on the step's eventfd until one of its rings has work or it dies. */
static void step_sleep(struct sure_instance *inst)
{
	struct sure_chain_seat *seat = seat_of(inst);
	struct sure_chain *c = seat->chain;
	uint32_t step = seat->step;

	if (seat->defer_wake)
		sure_chain_wake_deferred(c); /* what this step handed on meanwhile */
	/* The host checks the rings itself: a guest that lies only hurts itself. */
	for (;;) {
		sure_chain_host_sleep(c, step); /* producers ring once for it */
		sure_store(&c->sleeping[step], 1);
		seat->slept = 1; /* started: chain_runaway.c looks at it from now on */
		sure_fence();
		if (sure_channel_dead(&inst->ch) || sure_chain_step_has_work(c, step))
			break;
		struct pollfd p = { .fd = c->wake_fd[step], .events = POLLIN };
		/* A kill writes this fd too (and the signal ends poll). A poll that
		 * fails otherwise (a filter that forgot it, say) must not turn the
		 * sleep into a spin that takes a CPU: 1 ms naps instead. */
		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			struct timespec nap = { 0, 1000000 };
			nanosleep(&nap, NULL);
		}
		sure_chain_drain_fd(c->wake_fd[step]);
	}
	sure_store(&c->sleeping[step], 0);
}

/* The step's instance stopped: fail every request it had taken (as the
 * rings show it, not as any step says). Those still queued for it were never
 * its to spoil: they wait in its rings for the instance the control plane
 * starts next (or for the chain's timeout). A stop takes a moment to reach a
 * running vCPU, and requests keep coming meanwhile. */
static void step_stopped(struct sure_instance *inst)
{
	struct sure_chain_seat *seat = seat_of(inst);
	struct sure_chain *c = seat->chain;

	pthread_mutex_lock(&c->lock);
	sure_chain_holders(c);
	for (uint32_t s = 0; s < c->nslots; s++)
		if (c->state[s] == SLOT_INFLIGHT && c->scan_node[s] == seat->step &&
		    !c->scan_queued[s])
			sure_chain_fail_slot(c, s, SURE_CE_FAULT, (uint16_t)seat->step, 502);
	pthread_mutex_unlock(&c->lock);
	sure_chain_wake_deferred(c);
	sure_chain_kick(c, SURE_NODE_GW);
}

/* WAKE that did not match an in-kernel doorbell (old host or a bad node). */
static int on_wake(struct sure_instance *inst, uint64_t node)
{
	struct sure_chain *c = seat_of(inst)->chain;

	if (node < c->nsteps || node == SURE_NODE_GW)
		sure_chain_kick(c, (uint32_t)node);
	/* else: nothing to wake: a confused guest, not worth a kill */
	return 1;
}

/*
 * BOGUS: data = sender | (position << 32) of the descriptor in ring(sender ->
 * reporter). A report is evidence only once the host has read that entry
 * itself: only the sender can write it, so a bogus or forged entry is the
 * sender's doing and the sender is stopped (and the request fails if the
 * sender held it). An entry that is good or stale, out of the ring's window,
 * or a sender that does not feed the reporter, makes the report unconfirmed:
 * nobody is stopped and nothing fails on a step's word.
 */
static int on_bogus(struct sure_instance *inst, uint64_t data)
{
	struct sure_chain_seat *seat = seat_of(inst);
	struct sure_chain *c = seat->chain;
	uint32_t sender = (uint32_t)(data & 0xffff), pos = (uint32_t)(data >> 32);
	uint32_t reporter = seat->step;
	const struct sure_step_meta *m = &c->m->step[reporter];
	int feeds = 0, guilty = 0;

	for (uint32_t k = 0; k < m->n_in && k < SURE_NODES; k++)
		feeds |= m->in[k] == sender;
	pthread_mutex_lock(&c->lock);
	if (feeds && sender < c->nsteps) {
		struct sure_ring *r = sure_chain_ring(c, sender, reporter);
		uint32_t head = sure_load(&r->head);
		if (head - pos - 1 < SURE_RING_SLOTS) { /* published, not yet overwritten */
			struct sure_desc d;
			sure_desc_fetch(&d, &r->d[pos % SURE_RING_SLOTS]);
			enum sure_desc_verdict v = sure_chain_judge(c, sender, reporter, &d);
			guilty = v == SURE_DESC_FORGED || v == SURE_DESC_BOGUS;
			if (v == SURE_DESC_BOGUS && d.slot < c->nslots)
				sure_chain_fail_slot(c, d.slot, SURE_CE_BOGUS, (uint16_t)sender, 502);
		}
	}
	if (guilty)
		c->bogus++;
	else
		c->unconfirmed++;
	pthread_mutex_unlock(&c->lock);
	if (guilty)
		sure_chain_stop_steps(c, 1u << sender);
	sure_chain_kick(c, SURE_NODE_GW);
	return 1;
}

static const struct sure_doorbell step_doorbells[] = {
	{ SURE_DOORBELL_WAKE, on_wake },
	{ SURE_DOORBELL_BOGUS, on_bogus },
};

/* A step's sidecar can have seen each request the chain took at most once per hop. */
static uint64_t step_requests_bound(void *p)
{
	struct sure_chain *c = ((struct sure_chain_seat *)p)->chain;

	return (__atomic_load_n(&c->submitted, __ATOMIC_RELAXED) + 1) * (SURE_MAX_HOPS + 1);
}

static const struct sure_attach_ops step_ops = {
	.thread_name = "sure-step",
	.io_cap = SURE_CHAIN_IO_CAP,
	.claim = claim,
	.release = release,
	.regions = regions,
	.fill_ctrl = fill_ctrl,
	.bind_vm = bind_vm,
	.sleep = step_sleep,
	.stopped = step_stopped,
	.doorbells = step_doorbells,
	.ndoorbells = sizeof(step_doorbells) / sizeof(step_doorbells[0]),
	.requests_bound = step_requests_bound,
};

void sure_chain_stop_steps(struct sure_chain *c, uint32_t mask)
{
	pthread_mutex_lock(&c->seat_lock);
	for (uint32_t s = 0; s < c->nsteps; s++)
		if ((mask & (1u << s)) && c->seat[s].inst)
			sure_instance_kill_bogus(c->seat[s].inst);
	pthread_mutex_unlock(&c->seat_lock);
}

int sure_chain_expire_step(struct sure_chain *c, uint32_t step, uint32_t timeout_ms)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&c->seat_lock);
	if (step < c->nsteps && c->seat[step].inst) {
		/* Its fault says why (as sure_instance_expire), without ending a
		 * plain request: a step has none. */
		sure_fault_record(&c->seat[step].inst->fault, SURE_FAULT_TIMEOUT, 0, timeout_ms, 0, 0);
		sure_instance_kill(c->seat[step].inst);
		rc = 0;
	}
	pthread_mutex_unlock(&c->seat_lock);
	return rc;
}

SURE_API int sure_chain_template_create(struct sure_chain *chain, uint32_t step,
					const uint8_t *img, size_t len, uint32_t mem_mib,
					uint32_t init_timeout_ms, const uint8_t *env,
					uint32_t env_len, struct sure_template **out, char *err,
					size_t errcap)
{
	if (err && errcap)
		err[0] = 0;
	if (!chain)
		return sure_errf(err, errcap, -EINVAL, "missing chain");
	if (step >= chain->nsteps)
		return sure_errf(err, errcap, -EINVAL, "no step %u in this chain", step);
	struct sure_attachment att = { .ops = &step_ops, .seat = &chain->seat[step], .index = step };
	return sure_template_make(img, len, mem_mib, SURE_CHAIN_IO_CAP, init_timeout_ms, env,
				  env_len, &att, out, err, errcap);
}
