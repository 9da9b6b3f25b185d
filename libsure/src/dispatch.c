/*
 * dispatch.c - what the data plane does with each /invoke request, on the
 * server's thread, with the semantics of the TypeScript gateway and
 * scheduler (runtime/gateway/invoke.ts, runtime/scheduler/group.ts and
 * autoscale.ts's admit()):
 *
 *   take()   claims /invoke/<name> for a routed function (413 past its
 *            maxBody comes from the parser), else the request goes to Hono
 *   run()    request id and trace context into the head block; an idle
 *            instance (the most recently used) runs it at once, else
 *            admission (dp_plain.c)
 *   notify   the eventfd the instances' vCPU threads write: answered
 *            instances are finished, their requests answered in place from
 *            their slots' response areas (dp_plain.c)
 *   tick     timeouts (the instance is stopped) and queue deadlines
 *
 * A death (fault, timeout, protocol) parks the request and tells the control
 * plane (SURE_DP_DEAD): it reads the fault, symbolises it, logs it and
 * answers with the same error body as before (sure_dataplane_answer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dp_internal.h"
#include "http_head.h"
#include "instance.h"
#include "util.h"

static struct sure_dataplane *dp_of(void *ctx)
{
	return ctx;
}

/* ---- the server's callbacks ---- */

/* The instance reserved for the body in buf, taken off the reserved list. */
static struct dp_inst *unreserve(struct sure_dataplane *dp, const uint8_t *buf)
{
	for (struct dp_inst **pp = &dp->reserved, *i; buf && (i = *pp); pp = &i->busy_next) {
		if (sure_instance_req_buf(i->inst) != buf)
			continue;
		*pp = i->busy_next;
		i->busy_next = NULL;
		i->reserved = 0;
		return i;
	}
	return NULL;
}

static int take(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		uint64_t *max_body, uint32_t *route, uint8_t **body, uint64_t *body_cap)
{
	struct sure_dataplane *dp = dp_of(ctx);
	uint32_t len = 0;
	int rc = 0;

	/* CloudEvents in structured or batch mode are unpacked by the Hono app. */
	const char *ct = sure_http_head_get(head, "content-type", &len);
	if (ct && len >= 22 && !strncasecmp(ct, "application/cloudevents", 23))
		return 0;
	/* A method /invoke does not serve (TRACE, CONNECT, any other token):
	 * the Hono app answers 405 naming the ones it does, as with --dataplane
	 * hono; no function ever sees one. */
	if (((const struct sure_head *)(const void *)head)->method == SURE_METHOD_OTHER)
		return 0;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = sure_dp_lookup(dp, req->name);
	if (r && r->live && !r->chain && r->cfg.is_private && !sure_dp_authorized(dp, head) &&
	    !sure_dp_forward_signed(dp, req, head)) {
		/* The Hono app answers it (401, the same body as with --dataplane hono). */
	} else if (r && r->live && r->chain && (r->chain->remote & 1u) &&
		   !sure_http_head_get(head, "x-sure-hop", &len)) {
		/* The chain's first step runs on another node: a new request is led
		 * from there, so forward() sends it there (dp_forward.c), or the
		 * Hono app does. Hops still come here. */
	} else if (r && r->live && r->chain) {
		*route = r->id;
		rc = 1;
		sure_dp_chain_take(dp, r, req, max_body, body, body_cap);
	} else if (r && r->live) {
		*max_body = r->cfg.max_body;
		*route = r->id;
		rc = 1;
		/* An idle instance (so nothing waits in the queue) receives the body
		 * straight into its request area: no copy. It is held while the body
		 * arrives, which the server's body timeout bounds. */
		if (r->nidle > 0 && (req->chunked || (req->has_length && req->content_length &&
						      req->content_length <= r->cfg.max_body))) {
			struct dp_inst *i = r->idle[--r->nidle];
			i->reserved = 1;
			i->busy_next = dp->reserved;
			dp->reserved = i;
			*body = sure_instance_req_buf(i->inst);
			*body_cap = r->cfg.max_body;
		}
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

static void run(void *ctx, struct sure_http_exchange *ex)
{
	struct sure_dataplane *dp = dp_of(ctx);

	pthread_mutex_lock(&dp->lock);
	struct dp_req *q = dp->free_reqs;
	if (q)
		dp->free_reqs = q->next;
	else
		q = calloc(1, sizeof(*q)); /* grows to the peak in flight, then reused */
	if (!q) {
		pthread_mutex_unlock(&dp->lock);
		sure_http_answer_error(ex, 503, "overloaded", "the node is out of memory", NULL);
		return;
	}
	memset(q, 0, sizeof(*q));
	q->ex = ex;
	ex->owner = q;
	struct dp_route *r = ex->route < dp->nroutes ? dp->routes[ex->route] : NULL;
	q->route = r;
	sure_dp_identify(dp, q, ex);
	/* A chain's request (or a body already in a chain's pool). */
	if (sure_dp_chain_run(dp, q)) {
		pthread_mutex_unlock(&dp->lock);
		return;
	}
	struct dp_inst *held = unreserve(dp, ex->body);
	if (held && (held->route != r || !r)) {
		/* Its route changed meanwhile: the body is in place all the same. */
		sure_dp_release(dp, held);
		held = NULL;
	}
	if (!r || !r->used) {
		q->route = NULL;
		sure_dp_set_traceparent(dp, q);
		sure_dp_error(dp, ex, NULL, 404, "not_found", "", NULL, "function %s is not deployed",
			      ex->req->name);
		q->ex = NULL;
		q->next = dp->free_reqs;
		dp->free_reqs = q;
		pthread_mutex_unlock(&dp->lock);
		return;
	}
	/* Never the node's token, its admin API's one credential, which a
	 * private function's callers send (one another node forwarded came
	 * signed instead, without it). */
	if (r->cfg.is_private)
		sure_http_head_drop(ex->head, "authorization");
	/* What the function sees: the node's request id (the parser kept room for it). */
	sure_http_head_add(ex->head, "x-request-id", 12, q->request_id, strlen(q->request_id));
	if (held) {
		sure_dp_start_on(dp, held, q);
	} else if (r->nidle > 0) {
		sure_dp_start_on(dp, r->idle[--r->nidle], q);
	} else {
		sure_dp_admit(dp, r, q);
	}
	pthread_mutex_unlock(&dp->lock);
}

static void cancel(void *ctx, struct sure_http_exchange *ex)
{
	struct sure_dataplane *dp = dp_of(ctx);

	pthread_mutex_lock(&dp->lock);
	struct dp_req *q = ex->owner;
	/* Queued, running or parked: it stays where it is, with nobody to answer. */
	if (q)
		q->ex = NULL;
	ex->owner = NULL;
	/* Before run(): an instance may hold its body. */
	struct dp_inst *held = q ? NULL : unreserve(dp, ex->body);
	if (held)
		sure_dp_release(dp, held);
	else if (!q)
		sure_dp_chain_cancel(dp, ex->body);
	pthread_mutex_unlock(&dp->lock);
}

/* How long the server polls for answers before it sleeps (http_server.h
 * idle). For instances, 30 us: longer only took the CPU from the clients
 * (warm echo, c16: 21-28k requests/s with 100 us against 30-35k with 30). A
 * chain's answer comes after its steps' wake-ups, each tens of us under PVM:
 * with 100 us the step another node runs added 6-18 us p50 to the split chain
 * at c1 instead of 93-172 (bench/split_chain_bench.ts), and the 3-step chain
 * at c32 went from 41.6-46.5k to 47.5-50.7k requests/s (SURE_DP_POLL_CHAIN_NS,
 * dp_internal.h; sure_dp_chains_idle says when a chain is worth it). */
#define POLL_INSTANCE_NS 30000ull

/* The server has nothing to do (http_server.h): a look at the busy
 * instances, and armed when it is about to sleep. While the server is awake,
 * answers come without NOTIFY's exit, which is the costliest part of an
 * invoke under PVM (a userspace exit, ~65 us in ../shared/platform.md). */
static int idle(void *ctx, int arm, struct sure_http_poll *poll)
{
	struct sure_dataplane *dp = ctx;
	uint64_t nap = 0;

	pthread_mutex_lock(&dp->lock);
	int any = sure_dp_look_busy(dp, arm);
	int chains = sure_dp_chains_idle(dp, arm, &nap);
	int outstanding = dp->busy != NULL || chains == 0;
	/* An instance answers within microseconds: it is looked for at once. */
	poll->nap_ns = dp->busy ? 0 : nap;
	pthread_mutex_unlock(&dp->lock);
	poll->for_ns = chains == 0 ? SURE_DP_POLL_CHAIN_NS : POLL_INSTANCE_NS;
	return any || chains > 0 ? 1 : outstanding || arm ? 0 : -1;
}

const struct sure_http_ops sure_dp_ops = {
	.take = take, .run = run, .cancel = cancel, .forward = sure_dp_forward, .idle = idle
};

void sure_dp_on_notify(void *arg)
{
	struct sure_dataplane *dp = arg;
	uint64_t n;

	/* One read takes the whole count (not a semaphore eventfd); a write after
	 * it raises a new edge. A second read would only say EAGAIN: a syscall
	 * per answer for nothing. */
	if (read(dp->notify_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another round took it; the busy list is looked at anyway. */
	}
	pthread_mutex_lock(&dp->lock);
	sure_dp_look_busy(dp, 0);
	pthread_mutex_unlock(&dp->lock);
}

void sure_dp_on_tick(void *arg, uint64_t now_ns)
{
	struct sure_dataplane *dp = arg;

	pthread_mutex_lock(&dp->lock);
	sure_dp_plain_tick(dp, now_ns);
	sure_dp_chain_tick(dp, now_ns);
	pthread_mutex_unlock(&dp->lock);
}
