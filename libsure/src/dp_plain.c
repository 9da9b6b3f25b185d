/*
 * dp_plain.c - plain functions' instances in the data plane, with the
 * semantics of the TypeScript scheduler (runtime/scheduler/group.ts and
 * autoscale.ts's admit()): admission (429 over the concurrency limit, one
 * more instance asked for with SURE_DP_NEED, 503 when the queue is full,
 * FIFO queues), posting requests into an instance's free request slots (the
 * oldest first, more than one while waiting is shorter than a start, taken
 * back from behind one that turns out long), taking their answers, deaths
 * and timeouts (the request parked for the control plane's answer, those
 * behind it back to the queue), and idle instances that never went back to
 * sleep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"
#include "http_head.h"
#include "instance.h"
#include "util.h"

static void busy_link(struct sure_dataplane *dp, struct dp_inst *i)
{
	i->busy_prev = NULL;
	i->busy_next = dp->busy;
	if (dp->busy)
		dp->busy->busy_prev = i;
	dp->busy = i;
}

static void busy_unlink(struct sure_dataplane *dp, struct dp_inst *i)
{
	if (i->busy_prev)
		i->busy_prev->busy_next = i->busy_next;
	else
		dp->busy = i->busy_next;
	if (i->busy_next)
		i->busy_next->busy_prev = i->busy_prev;
	i->busy_next = i->busy_prev = NULL;
}

static void park(struct sure_dataplane *dp, struct dp_inst *i, struct dp_req *q, int rc);
static struct dp_req *dequeue(struct sure_dataplane *dp, struct dp_route *r);
static void drain(struct sure_dataplane *dp, struct dp_route *r);

/* Puts q at the head of its route's queue. */
static void queue_front(struct dp_route *r, struct dp_req *q)
{
	q->on = NULL;
	if (!q->queued_ns)
		q->queued_ns = sure_now_ns(); /* its deadline counts from here */
	q->next = r->qhead;
	r->qhead = q;
	if (!r->qtail)
		r->qtail = q;
	r->queued++;
}

/* q was posted to an instance that died or timed out before it ran: back to
 * the head of the queue, where it keeps its place. */
static void requeue(struct sure_dataplane *dp, struct dp_route *r, struct dp_req *q)
{
	dp->requeued++;
	queue_front(r, q);
}

/* q was withdrawn from behind a request that ran long, before it began: back
 * to the head of the queue, keeping its place and its queue time. */
static void give_back(struct sure_dataplane *dp, struct dp_route *r, struct dp_req *q)
{
	dp->withdrawn++;
	queue_front(r, q);
}

/* The oldest request posted to i leaves it. */
static struct dp_req *pop_oldest(struct dp_inst *i)
{
	struct dp_req *q = i->req[0];

	i->nreq--;
	memmove(&i->req[0], &i->req[1], i->nreq * sizeof(i->req[0]));
	i->req[i->nreq] = NULL;
	q->on = NULL;
	return q;
}

/* The next request posted to i is its oldest now: its run begins. */
static void begin_run(struct dp_inst *i, uint64_t now)
{
	i->posted_ns = now;
	i->deadline_ns = i->route->cfg.timeout_ms
				 ? now + (uint64_t)i->route->cfg.timeout_ms * 1000000ull
				 : UINT64_MAX;
}

int sure_dp_start_on(struct sure_dataplane *dp, struct dp_inst *i, struct dp_req *q)
{
	struct sure_http_exchange *ex = q->ex;
	struct sure_instance *inst = i->inst;
	int slot = sure_channel_free_slot(&inst->ch);

	if (slot < 0) { /* the callers look at depth first: not expected */
		queue_front(i->route, q);
		return 0;
	}
	uint32_t s = (uint32_t)slot;
	sure_dp_copy_head(sure_instance_slot_req_head(inst, s), ex->head);
	if (ex->body != sure_instance_slot_req(inst, s) && ex->body_len) {
		memcpy(sure_instance_slot_req(inst, s), ex->body, ex->body_len);
		dp->copied_in += ex->body_len;
	}
	sure_http_resp_head_reset(sure_instance_slot_resp_head(inst, s));
	sure_instance_set_trace(inst, q->trace);
	i->req[i->nreq++] = q;
	q->on = i;
	i->route->running++;
	if (i->nreq == 1) {
		begin_run(i, sure_now_ns());
		busy_link(dp, i);
	}
	int rc = sure_instance_post(inst, s, (uint32_t)ex->body_len, dp->notify_fd);
	if (rc == 0) {
		if (i->nreq > 1)
			dp->pipelined++;
		else
			i->woke = (uint8_t)inst->ch.woke_guest;
		return 1;
	}
	struct dp_route *r = i->route;
	i->req[--i->nreq] = NULL;
	q->on = NULL;
	r->running--;
	if (i->nreq == 0)
		busy_unlink(dp, i);
	if (rc == -EDQUOT) {
		/* Over the rate limit the node set (the host's check, whatever the
		 * guest's page says): refused like the sidecar refuses, and so is
		 * every request queued behind it; the instance keeps what it runs. */
		for (; q; q = dequeue(dp, r))
			sure_dp_refused(dp, q, r->cfg.name, SURE_REASON_RATE, 0, 0);
		if (i->nreq == 0) {
			i->idle_since_ns = sure_now_ns();
			r->idle[r->nidle++] = i;
		}
		return 0;
	}
	if (i->nreq == 0) {
		park(dp, i, q, rc == -EPIPE ? -EFAULT : rc);
		return -1;
	}
	/* It died (or says it is full) with requests in flight: the look at
	 * those finds out; this one waits for another instance. */
	requeue(dp, r, q);
	return 0;
}

/* The oldest queued request that can still run (deadline), or NULL. */
static struct dp_req *dequeue(struct sure_dataplane *dp, struct dp_route *r)
{
	while (r->qhead) {
		struct dp_req *q = r->qhead;
		r->qhead = q->next;
		if (!r->qhead)
			r->qtail = NULL;
		r->queued--;
		q->next = NULL;
		q->wait_ns = sure_now_ns() - q->queued_ns;
		if (!q->ex) { /* the client left while it waited */
			sure_dp_req_free(dp, q);
			continue;
		}
		if (r->cfg.deadline_ms && q->wait_ns > (uint64_t)r->cfg.deadline_ms * 1000000ull) {
			char extra[160];
			snprintf(extra, sizeof(extra), ",\"function\":\"%s\",\"deadline\":%u",
				 r->cfg.name, r->cfg.deadline_ms);
			SURE_DP_FAIL(dp, q, 504, "deadline_exceeded", extra, NULL,
			     "function %s did not start the request within its deadline of %u ms",
			     r->cfg.name, r->cfg.deadline_ms);
			continue;
		}
		return q;
	}
	return NULL;
}

/* What a start takes, as the host measured it (sure_dataplane_lend), or a
 * guess before any was. */
#define START_GUESS_NS 2000000ull /* before a start was measured: 2 ms */

static uint64_t start_estimate(const struct dp_route *r)
{
	return r->start_ns ? r->start_ns : START_GUESS_NS;
}

/* The function can have no instance but this one: every request waits for
 * it anyway. */
static int only_one(const struct dp_route *r)
{
	return r->instances == 1 && (!r->cfg.can_start || r->cfg.max_instances <= 1);
}

/* The request i runs has run for as long as a start takes, and another
 * instance could come: those waiting behind it had better wait for that. */
static int head_long(const struct dp_inst *i, uint64_t now_ns)
{
	return i->nreq && sure_elapsed_ns(now_ns, i->posted_ns) >= start_estimate(i->route) &&
	       !only_one(i->route);
}

/* A request is posted behind the one an instance runs only while waiting for
 * it is expected to be shorter than a start, the yardstick admission uses
 * too (worth_starting): the time an instance took per request once awake
 * (run_ns, without the wake-ups of sleeping ones) under what a start takes,
 * and the one it runs now running for less than that, unless the function
 * can have no other instance (then every request waits for that one
 * anyway). Then a burst is served in one wake-up of the guest, which then
 * sleeps, instead of one request per turnaround with the guest polling for
 * the next (warm echo, c16: the vCPUs spent 18-26 us per request polling,
 * 7-10 us with a chain step's ring); a slow function's requests are not
 * stuck behind one another, and one that turns out long gets nothing more
 * behind it while another instance could come (and those already there are
 * withdrawn: withdraw_behind). */
static uint32_t depth(const struct dp_inst *i)
{
	const struct dp_route *r = i->route;
	uint32_t n = i->inst->ch.slots;

	if (n > 1) {
		int quick = r->run_ns && r->run_ns < start_estimate(r);
		if (!quick || head_long(i, sure_now_ns()))
			n = 1;
	}
	if (r->cfg.concurrency_limit && r->cfg.concurrency_limit < n)
		n = r->cfg.concurrency_limit;
	return n;
}

/* An instance is free (an answer, a lend): it takes queued requests up to its
 * depth; one with none goes on the idle stack (or back to the control plane
 * if it was reclaimed). */
void sure_dp_release(struct sure_dataplane *dp, struct dp_inst *i)
{
	struct dp_route *r = i->route;

	if (i->retire) {
		if (i->nreq)
			return; /* it finishes what it holds first */
		struct sure_dp_event ev = { .kind = SURE_DP_RETIRED, .route = r->id, .tag = i->tag };
		sure_dp_event(dp, &ev);
		sure_dp_inst_free(r, i);
		return;
	}
	while (i->nreq < depth(i) && i->inst->ch.slots > sure_channel_inflight(&i->inst->ch)) {
		struct dp_req *q = dequeue(dp, r);
		if (!q)
			break;
		int rc = sure_dp_start_on(dp, i, q);
		if (rc < 0)
			return; /* i is gone */
		if (rc == 0)
			break; /* refused, or back in the queue: i keeps what it has */
	}
	if (i->nreq == 0) {
		i->idle_since_ns = sure_now_ns();
		r->idle[r->nidle++] = i;
	}
}

/* Queued requests go to busy instances with room (pipelining): after
 * admission, so that what it counts and starts is as without. */
static void spread(struct sure_dataplane *dp, struct dp_route *r)
{
	for (struct dp_inst *i = r->insts, *next; i && r->qhead; i = next) {
		next = i->next;
		if (i->nreq > 0 && !i->reserved && !i->retire && i->nreq < depth(i))
			sure_dp_release(dp, i);
	}
}

/* Asks the control plane for one more instance (it answers with a lend, or
 * sure_dataplane_start_failed). */
static void need(struct sure_dataplane *dp, struct dp_route *r)
{
	struct sure_dp_event ev = { .kind = SURE_DP_NEED, .route = r->id };

	if (!r->need_ns)
		r->need_ns = sure_now_ns(); /* sure_dataplane_lend measures the start */
	r->starting++;
	sure_dp_event(dp, &ev);
}

/* A start is worth it only if the request would otherwise wait longer than
 * an instance takes to come: by the time a new one served, one that is
 * running would have. On a node with few CPUs, instances a quick function
 * does not need are vCPU threads polling for work on the CPUs the others
 * run on (warm echo at c16 on 2 cores: p99 4.4-5.3 ms with 10 instances,
 * 1.0-1.2 ms with 2, at ~1.1x the requests/s). So: start when none runs
 * or comes, when the oldest waiter has waited well past what a start takes,
 * or when the queue, at the recent service time per instance, would keep
 * this request waiting longer than a start. Before a first answer there is no
 * service time: a burst at a cold function starts one instance, then more
 * as its requests wait (the tick looks too, sure_dp_on_tick). */
/* How much longer than a start the oldest waiter may wait before one more
 * instance is started for it whatever the averages say (a request that runs
 * much longer than the others, or the first ones before any answered). Not
 * less: a vCPU thread that waits for its CPU here waits a 4 ms tick or two,
 * and starting instances for that only adds threads that wait too (10
 * instances again within seconds at c16 with no margin). */
#define STUCK_NS 10000000ull

static int worth_starting(const struct dp_route *r, uint32_t vcpu_cpus, uint64_t now_ns)
{
	uint64_t start = start_estimate(r);

	if (r->instances + r->starting == 0)
		return 1;
	if (r->instances == 0) /* the wait is for the one coming: another comes no sooner */
		return 0;
	if (r->qhead && sure_elapsed_ns(now_ns, r->qhead->queued_ns) > start + STUCK_NS)
		return 1;
	/* A guest computes and nothing else while it runs a request: past two
	 * per CPU the vCPUs have, an instance adds no throughput, only one more
	 * vCPU thread waiting for those CPUs (which makes the service times
	 * longer, which would call for more). */
	if (r->instances + r->starting >= 2 * vcpu_cpus || r->service_ns == 0)
		return 0;
	return ((uint64_t)r->queued + 1) * r->service_ns / r->instances > start;
}

/* The start half of admit() (autoscale.ts): one more instance while
 * instances x targetConcurrency < requests in flight (counting `arriving`,
 * the request being admitted, if any), up to maxInstances, if worth it. */
static int wants_start(const struct sure_dataplane *dp, const struct dp_route *r,
		       uint32_t arriving, uint64_t now_ns)
{
	const struct sure_route_config *c = &r->cfg;
	uint32_t supply = r->instances + r->starting;
	uint64_t in_flight = (uint64_t)r->running + r->queued + arriving;

	return c->can_start && supply < c->max_instances &&
	       (uint64_t)supply * c->target_concurrency < in_flight &&
	       worth_starting(r, dp->vcpu_cpus, now_ns);
}

/* Idle instances take what waits in the route's queue, then busy ones with
 * room do (after requests came back to the queue from a dead instance). */
static void drain(struct sure_dataplane *dp, struct dp_route *r)
{
	while (r->qhead && r->nidle > 0)
		sure_dp_release(dp, r->idle[--r->nidle]);
	spread(dp, r);
}

/* The instance died under q (or q timed out on it): q waits for the control
 * plane's answer; what it held behind q never ran, and goes back to the head
 * of the queue in order. */
static void park(struct sure_dataplane *dp, struct dp_inst *i, struct dp_req *q, int rc)
{
	struct dp_route *r = i->route;
	struct sure_dp_event ev = { .kind = SURE_DP_DEAD, .route = r->id, .tag = i->tag, .rc = rc };

	sure_dp_park(dp, q, &ev);
	if (i->nreq)
		busy_unlink(dp, i);
	while (i->nreq) {
		r->running--;
		requeue(dp, r, i->req[--i->nreq]);
	}
	sure_dp_inst_free(r, i);
	/* Those still waiting need someone else, if nobody else is coming. */
	if (r->queued > 0 && r->instances + r->starting == 0 && r->cfg.can_start)
		need(dp, r);
	drain(dp, r);
}

/* The guest answered its oldest request (len >= 0), whose areas are in slot
 * `slot`, or the instance died (< 0). 1 if i is gone (died), else 0. */
static int finish(struct sure_dataplane *dp, struct dp_inst *i, uint32_t slot, int rc)
{
	struct dp_route *r = i->route;
	struct sure_instance *inst = i->inst;
	struct dp_req *q = pop_oldest(i);
	uint64_t now = sure_now_ns();
	char err[256];

	r->running--;
	if (rc >= 0 && sure_instance_resp_reason(inst) == SURE_REASON_WITHDRAWN) {
		/* Withdrawn (withdraw_behind) and it never ran: it waits for
		 * another instance, and this one goes on with what it has. */
		give_back(dp, r, q);
		i->woke = 0;
		if (i->nreq)
			begin_run(i, now);
		else
			busy_unlink(dp, i);
		sure_dp_release(dp, i);
		drain(dp, r);
		return 0;
	}
	uint64_t took = sure_elapsed_ns(now, i->posted_ns);
	sure_average8(&r->service_ns, took);
	if (rc >= 0) {
		/* Less the wake-up: from when its vCPU thread came back, if the post woke it. */
		uint64_t from = i->posted_ns;
		uint64_t back = __atomic_load_n(&inst->ch.resumed_ns, __ATOMIC_ACQUIRE);
		if (i->woke && back > from)
			from = back;
		sure_average8(&r->run_ns, sure_elapsed_ns(now, from));
	}
	i->woke = 0;
	if (i->nreq)
		begin_run(i, now); /* the guest went on to the next at once */
	else
		busy_unlink(dp, i);
	if (rc < 0) {
		park(dp, i, q, rc);
		return 1;
	}
	if (!q->ex) { /* the client left: the answer has nowhere to go */
		sure_dp_req_free(dp, q);
		sure_dp_release(dp, i);
		return 0;
	}
	int status = sure_instance_status(inst);
	char extra[320];
	snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", r->cfg.name);
	if (sure_dp_refused(dp, q, r->cfg.name, sure_instance_resp_reason(inst),
			    sure_instance_resp_rc(inst), r->cfg.deadline_ms)) {
		/* answered */
	} else if (sure_http_resp_head_take(sure_instance_slot_resp_head(inst, slot),
					    dp->resp_head, err, sizeof(err)) < 0) {
		SURE_DP_FAIL(dp, q, 502, "bad_response_header", extra, NULL, "function %s: %s",
		     r->cfg.name, err);
	} else if (status < 200 || status > 599) {
		SURE_DP_FAIL(dp, q, 500, "internal_error", "", NULL,
		     "function %s answered with invalid HTTP status %d", r->cfg.name, status);
	} else {
		sure_dp_set_traceparent(dp, q);
		sure_http_head_add(dp->resp_head, "traceparent", 11, dp->traceparent, 55);
		sure_dp_done(dp, q, i->tag, status, NULL, (uint64_t)rc, 0);
		sure_http_answer(q->ex, status, dp->resp_head, sure_instance_slot_resp(inst, slot),
				 (uint64_t)rc);
		q->ex = NULL; /* answered: the server freed it */
		sure_dp_req_free(dp, q);
	}
	sure_dp_release(dp, i);
	return 0;
}

void sure_dp_admit(struct sure_dataplane *dp, struct dp_route *r, struct dp_req *q)
{
	const struct sure_route_config *c = &r->cfg;
	uint32_t supply = r->instances + r->starting;
	uint64_t in_flight = (uint64_t)r->running + r->queued + 1;
	char extra[160];

	snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", c->name);
	if (c->concurrency_limit && in_flight > (uint64_t)c->concurrency_limit * c->max_instances) {
		SURE_DP_FAIL(dp, q, 429, "concurrency_limited", extra, "retry-after: 1\n",
		     "function %s is over its concurrency limit; retry shortly", c->name);
		return;
	}
	int start = wants_start(dp, r, 1, sure_now_ns());
	if (!start && r->queued >= c->max_queue) {
		SURE_DP_FAIL(dp, q, 503, "overloaded", extra, "retry-after: 1\n",
		     "function %s is overloaded: all instances busy and the queue is full", c->name);
		return;
	}
	if (!start && supply == 0) {
		SURE_DP_FAIL(dp, q, 500, "internal_error", "", NULL, "function %s is being replaced",
		     c->name);
		return;
	}
	if (start)
		need(dp, r);
	q->queued_ns = sure_now_ns();
	q->next = NULL;
	if (r->qtail)
		r->qtail->next = q;
	else
		r->qhead = q;
	r->qtail = q;
	r->queued++;
	spread(dp, r);
}

int sure_dp_look_busy(struct sure_dataplane *dp, int arm)
{
	int any = 0;

	for (struct dp_inst *i = dp->busy, *next; i; i = next) {
		next = i->busy_next;
		/* Every answer it has: a guest answers a burst in one go. */
		while (i->nreq) {
			uint32_t slot;
			int rc = sure_instance_poll(i->inst, arm, &slot);
			if (rc == -EAGAIN)
				break;
			any = 1;
			if (finish(dp, i, slot, rc))
				break;
		}
	}
	return any;
}

/* The request i runs turned out long (head_long): those posted behind it
 * that the guest did not begin go back to the head of the queue, in order,
 * for an idle instance or one admission starts; those it may have begun
 * stay, and their answer says (finish). A guest before ABI 8 cannot give
 * them back: they wait. */
static void withdraw_behind(struct sure_dataplane *dp, struct dp_inst *i)
{
	struct dp_route *r = i->route;
	int gone = sure_instance_withdraw(i->inst, 1);

	if (gone <= 0)
		return;
	for (; gone > 0 && i->nreq > 1; gone--) {
		struct dp_req *q = i->req[--i->nreq];
		i->req[i->nreq] = NULL;
		r->running--;
		give_back(dp, r, q);
	}
	drain(dp, r);
}

/* Idle instances that did not go back to sleep after their answer: each is
 * stopped and handed back (SURE_DP_RUNAWAY), so none burns a CPU while it
 * is listed idle, and no request is ever given to one. */
static void stop_runaways(struct sure_dataplane *dp, uint64_t now_ns)
{
	const uint64_t bound = (uint64_t)SURE_RUNAWAY_MS * 1000000u;

	for (uint32_t k = 0; k < dp->nroutes; k++) {
		struct dp_route *r = dp->routes[k];
		for (uint32_t n = 0; n < r->nidle;) {
			struct dp_inst *i = r->idle[n];
			if (sure_elapsed_ns(now_ns, i->idle_since_ns) < bound || sure_instance_sleeping(i->inst) == 1) {
				n++;
				continue;
			}
			memmove(&r->idle[n], &r->idle[n + 1], (r->nidle - n - 1) * sizeof(r->idle[0]));
			r->nidle--;
			sure_instance_stop(i->inst);
			struct sure_dp_event ev = { .kind = SURE_DP_RUNAWAY, .route = r->id, .tag = i->tag };
			sure_dp_event(dp, &ev);
			sure_dp_inst_free(r, i);
		}
	}
}

void sure_dp_plain_tick(struct sure_dataplane *dp, uint64_t now_ns)
{
	if (now_ns >= dp->next_runaway_ns) {
		dp->next_runaway_ns = now_ns + 100000000u; /* every 100 ms */
		stop_runaways(dp, now_ns);
	}
	for (struct dp_inst *i = dp->busy, *next; i; i = next) {
		next = i->busy_next;
		if (now_ns < i->deadline_ns) {
			if (i->nreq > 1 && head_long(i, now_ns))
				withdraw_behind(dp, i);
			continue;
		}
		/* An answer that came just in time counts. */
		uint32_t slot;
		int rc = sure_instance_poll(i->inst, 0, &slot);
		if (rc == -EAGAIN) {
			sure_instance_expire(i->inst, i->route->cfg.timeout_ms);
			rc = -ETIMEDOUT;
		}
		finish(dp, i, slot, rc);
	}
	/* A queue that admission let wait (worth_starting) behind requests
	 * that run on longer than usual: once its oldest has waited well past a
	 * start (STUCK_NS), one more instance, as sure_dp_admit would give an
	 * arriving request; without arrivals only this looks. */
	dp->vcpu_cpus = sure_vcpu_cpu_count(); /* a lock, maybe a syscall: per tick */
	for (uint32_t k = 0; k < dp->nroutes; k++) {
		struct dp_route *r = dp->routes[k];
		if (r->qhead && r->starting == 0 && wants_start(dp, r, 0, now_ns))
			need(dp, r);
	}
}

void sure_dp_fail_queued(struct sure_dataplane *dp, struct dp_route *r, int status,
			 const char *json, uint32_t len, const char *headers)
{
	for (struct dp_req *q; (q = r->qhead);) {
		r->qhead = q->next;
		r->queued--;
		if (q->ex) {
			sure_dp_set_traceparent(dp, q);
			sure_dp_done(dp, q, 0, status, "start_failed", 0, 0);
			sure_dp_answer_json(dp, q->ex, q, status, json, len, headers);
			q->ex = NULL;
		}
		sure_dp_req_free(dp, q);
	}
	r->qtail = NULL;
}

int sure_dp_answer_parked(struct sure_dataplane *dp, uint64_t token, int status,
			  const char *json, uint32_t len, const char *headers)
{
	for (struct dp_req **pp = &dp->parked, *q; (q = *pp); pp = &q->next) {
		if (q->token != token)
			continue;
		*pp = q->next;
		int rc = q->ex ? 0 : -ENOENT;
		sure_dp_set_traceparent(dp, q);
		if (q->ex)
			sure_dp_answer_json(dp, q->ex, q, status, json, len, headers);
		q->ex = NULL;
		sure_dp_req_free(dp, q);
		return rc;
	}
	return -ENOENT;
}
