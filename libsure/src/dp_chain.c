/*
 * dp_chain.c - chains on the data plane, with the semantics of
 * runtime/chains/runtime.ts: the server's thread hands a request to step 0
 * through the gateway ring and answers it when a step hands it back.
 *
 *   attach   the control plane started the steps; their gateway doorbell
 *            (an eventfd the steps ring inside KVM) joins the data plane's
 *            epoll set, and the gateway says it always sleeps, so every
 *            hand-back rings it
 *   take()   a body of known length is received straight into extent 0 of
 *            a slot allocated for it (no copy); others land in the server's
 *            buffer and are copied in once (counted)
 *   answer   from the pool, after the same checks as the TypeScript pump:
 *            refusals, the response head, status, loops; faults park the
 *            request for the control plane's explained answer
 *   tick     timeouts: the step holding the request is stopped (its failure
 *            answers 504); a request no step holds is answered at once; and
 *            one look at the rings, in case a guest cleared the gateway's
 *            sleeping flag (it only delays its own chain's answers)
 *
 * Every step that dies or is stopped is reported (SURE_DP_STEP_DOWN) so the
 * control plane restarts it. Everything read from the pool was checked by
 * chain_gateway.c against host-private state before it arrives here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "chain.h"
#include "dp_internal.h"
#include "util.h"

#define COLLECT_BATCH 64u

/* The most a refusal's JSON body may be (sure_dataplane_chain_refuse). */
#define REFUSE_JSON_MAX 65536u

static void free_chain(struct dp_chain *dc)
{
	free(dc->refuse_json);
	free(dc->refuse_headers);
	free(dc->slot_req);
	free(dc->reserved);
	free(dc);
}

static struct dp_chain *chain_by_id(struct sure_dataplane *dp, uint32_t id)
{
	for (struct dp_chain *dc = dp->chains; dc; dc = dc->next)
		if (dc->id == id)
			return dc;
	return NULL;
}

/* The attached chain whose pool holds body (a slot take() gave out), and its slot. */
static struct dp_chain *reserved_slot(struct sure_dataplane *dp, const uint8_t *body,
				      uint32_t *slot)
{
	for (struct dp_chain *dc = dp->chains; body && dc; dc = dc->next) {
		if (!dc->nreserved)
			continue;
		for (uint32_t s = 0; s < dc->nslots; s++) {
			if (dc->reserved[s] &&
			    dc->c->bufs + (uint64_t)dc->c->m->slot[s].first[0] * dc->c->buf_size ==
				    body) {
				*slot = s;
				return dc;
			}
		}
	}
	return NULL;
}

static uint32_t request_bytes(const struct dp_chain *dc, uint64_t len)
{
	uint64_t n = len > dc->cfg.reserve ? len : dc->cfg.reserve;

	return n ? (uint32_t)n : 1;
}

void sure_dp_chain_take(struct sure_dataplane *dp, struct dp_route *r,
			const struct sure_http_req *req, uint64_t *max_body, uint8_t **body,
			uint64_t *body_cap)
{
	struct dp_chain *dc = r->chain;
	uint32_t slot;
	uint64_t off;

	(void)dp;
	*max_body = dc->cfg.max_body;
	if (dc->closing || dc->refuse_json || req->chunked || !req->has_length || !req->content_length ||
	    req->content_length > dc->cfg.max_body)
		return;
	/* No slot free: run() answers 503 pool_exhausted once the body is read. */
	if (sure_chain_alloc(dc->c, request_bytes(dc, req->content_length), &slot, &off) < 0)
		return;
	dc->reserved[slot] = 1;
	dc->nreserved++;
	*body = dc->c->bufs + off;
	*body_cap = sure_chain_extent_bytes(dc->c, slot);
}

int sure_dp_chain_cancel(struct sure_dataplane *dp, const uint8_t *body)
{
	uint32_t slot;
	struct dp_chain *dc = reserved_slot(dp, body, &slot);

	if (!dc)
		return 0;
	dc->reserved[slot] = 0;
	dc->nreserved--;
	sure_chain_free(dc->c, slot);
	return 1;
}

/* A step of the chain cannot start: q gets the control plane's answer
 * (sure_dataplane_chain_refuse) and is done. */
static void refuse(struct sure_dataplane *dp, const struct dp_chain *dc, struct dp_req *q)
{
	sure_dp_set_traceparent(dp, q);
	sure_dp_done(dp, q, 0, (int)dc->refuse_status, "start_failed", 0, 0);
	if (q->ex)
		sure_dp_answer_json(dp, q->ex, q, (int)dc->refuse_status, dc->refuse_json,
				    dc->refuse_len, dc->refuse_headers);
	q->ex = NULL;
	sure_dp_req_free(dp, q);
}

int sure_dp_chain_run(struct sure_dataplane *dp, struct dp_req *q)
{
	struct sure_http_exchange *ex = q->ex;
	struct dp_route *r = q->route;
	uint32_t slot;
	uint64_t off;
	struct dp_chain *dc = reserved_slot(dp, ex->body, &slot);
	char extra[96];

	if (dc) {
		/* The body is in its slot already (whichever chain the route names now). */
		dc->reserved[slot] = 0;
		dc->nreserved--;
		if (dc->refuse_json) {
			/* A step stopped starting while the body arrived. */
			sure_chain_free(dc->c, slot);
			q->chain = dc;
			refuse(dp, dc, q);
			return 1;
		}
	} else if (r && r->chain) {
		dc = r->chain;
		snprintf(extra, sizeof(extra), ",\"chain\":\"%s\"", dc->cfg.name);
		q->chain = dc; /* its DONE event names the chain */
		if (dc->closing) {
			snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", dc->cfg.name);
			SURE_DP_FAIL(dp, q, 503, "overloaded", extra, "retry-after: 1\n",
				     "function %s is overloaded: all instances busy and the queue is full",
				     dc->cfg.name);
			return 1;
		}
		if (dc->refuse_json) {
			refuse(dp, dc, q);
			return 1;
		}
		if (sure_chain_alloc(dc->c, request_bytes(dc, ex->body_len), &slot, &off) < 0) {
			SURE_DP_FAIL(dp, q, 503, "pool_exhausted", extra, "retry-after: 1\n",
				     "chain %s has no free buffers for this request; retry shortly",
				     dc->cfg.name);
			return 1;
		}
	} else {
		return 0;
	}
	q->chain = dc;
	q->route = dc->route;
	q->slot = slot;
	/* What the steps see: the node's request id (the parser kept room for it). */
	sure_http_head_add(ex->head, "x-request-id", 12, q->request_id, strlen(q->request_id));
	sure_dp_copy_head(dc->c->heads + (uint64_t)slot * SURE_SLOT_HEAD_SIZE, ex->head);
	const uint8_t *extent = dc->c->bufs + (uint64_t)dc->c->m->slot[slot].first[0] *
						       dc->c->buf_size;
	if (ex->body_len && ex->body != extent)
		dp->copied_in += ex->body_len; /* sure_chain_submit copies it */
	/* Every step's own limits, held by the host (chain_admit.c). */
	uint32_t over = 0;
	int rc = sure_chain_admit(dc->c, &over);
	if (rc < 0) {
		sure_chain_free(dc->c, slot);
		sure_dp_refused(dp, q, over < dc->c->nsteps ? dc->c->m->step[over].name : dc->cfg.name,
				rc == -EDQUOT ? SURE_REASON_RATE : SURE_REASON_INFLIGHT, 0, 0);
		return 1;
	}
	/* A hop another node sent goes to the step it names; it answered any refusal. */
	rc = sure_dp_hop_in(dp, dc, q, slot);
	if (rc < 0)
		return 1;
	if (rc == 0)
		rc = sure_chain_submit(dc->c, slot, ex->body, (uint32_t)ex->body_len, q->trace);
	if (rc < 0) {
		sure_chain_free(dc->c, slot);
		snprintf(extra, sizeof(extra), ",\"chain\":\"%s\"", dc->cfg.name);
		SURE_DP_FAIL(dp, q, 503, "pool_exhausted", extra, "retry-after: 1\n",
			     "chain %s has no free buffers for this request; retry shortly",
			     dc->cfg.name);
		return 1;
	}
	dc->slot_req[slot] = q;
	dc->inflight++;
	dc->requests++;
	q->sent_ns = sure_now_ns();
	q->deadline_ns = q->sent_ns + (uint64_t)dc->cfg.timeout_ms * 1000000ull;
	return 1;
}

/* The control plane restarts the step (and answers token, if not 0). */
static void step_down(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		      uint32_t step, int rc, int park)
{
	struct sure_dp_event ev = {
		.kind = SURE_DP_STEP_DOWN, .route = dc->route->id, .chain = dc->id,
		.status = step, .rc = rc,
	};

	if (park && q && q->ex) {
		sure_dp_park(dp, q, &ev);
		return;
	}
	if (q) {
		memcpy(ev.trace_id, q->trace, 16);
		memcpy(ev.request_id, q->request_id, sizeof(ev.request_id));
	}
	sure_dp_event(dp, &ev);
}

static void timeout_answer(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q)
{
	char extra[128];

	snprintf(extra, sizeof(extra), ",\"function\":\"%s\",\"timeoutMs\":%u", dc->cfg.name,
		 dc->cfg.timeout_ms);
	SURE_DP_FAIL(dp, q, 504, "function_timeout", extra, NULL,
		     "function %s did not answer within %u ms", dc->cfg.name, dc->cfg.timeout_ms);
}

static void complete(struct sure_dataplane *dp, struct dp_chain *dc,
		     const struct sure_completion *cp);

/* A hand-off of request q, out at another node, by a step here (cp->node):
 * one that held it before and kept its capability. Failed as a bogus
 * descriptor, the sender counted and stopped; the hop ends, so the peer's
 * answer lands nowhere (a hop whose request ended some other way ends on its
 * own: hop_owns_slot, dp_hop.c). */
static void refuse_away(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			const struct sure_completion *cp)
{
	struct sure_completion bogus = *cp;

	bogus.error = SURE_CE_BOGUS;
	sure_dp_hop_cancel(dp, q);
	sure_chain_refuse_sender(dc->c, cp->node);
	complete(dp, dc, &bogus);
}

/* A step handed the request back (or the chain failed it). */
static void complete(struct sure_dataplane *dp, struct dp_chain *dc, const struct sure_completion *cp)
{
	struct sure_chain *c = dc->c;
	uint32_t slot = cp->slot;
	struct dp_req *q = slot < dc->nslots ? dc->slot_req[slot] : NULL;
	char extra[320];

	if (!q) /* not a request of ours: nothing to answer, nothing to keep */
		return;
	if (q->hop && (cp->error == SURE_CE_OK || cp->error == SURE_CE_LOOP)) {
		refuse_away(dp, dc, q, cp); /* out at another node, yet a step here handed it back */
		return;
	}
	dc->slot_req[slot] = NULL;
	dc->inflight--;
	sure_average8(&dc->latency_ns, sure_elapsed_ns(sure_now_ns(), q->sent_ns));
	uint32_t step = cp->node;
	const char *fn = step < c->nsteps ? c->m->step[step].name : dc->cfg.name;

	if (cp->error == SURE_CE_FAULT || cp->error == SURE_CE_BOGUS) {
		int why = q->timed_out		       ? -ETIMEDOUT
			  : cp->error == SURE_CE_BOGUS ? -EPROTO
						       : -EFAULT;
		sure_chain_free(c, slot);
		if (why == -EFAULT && q->ex) {
			/* A death: the control plane reads the step's fault and answers. */
			step_down(dp, dc, q, step, why, 1);
			return;
		}
		step_down(dp, dc, q, step, why, 0);
		if (!q->ex) {
			sure_dp_req_free(dp, q);
		} else if (why == -ETIMEDOUT) {
			timeout_answer(dp, dc, q);
		} else {
			snprintf(extra, sizeof(extra), ",\"chain\":\"%s\",\"function\":\"%s\"",
				 dc->cfg.name, fn);
			SURE_DP_FAIL(dp, q, 502, "bogus_descriptor", extra, NULL,
				     "function %s of chain %s handed on a bogus buffer descriptor and was stopped",
				     fn, dc->cfg.name);
		}
		return;
	}
	if (!q->ex) { /* the client left */
		sure_chain_free(c, slot);
		sure_dp_req_free(dp, q);
		return;
	}
	if (cp->error == SURE_CE_OK &&
	    sure_dp_refused(dp, q, fn, cp->reason, cp->rc,
			    step < c->nsteps ? dc->cfg.step_deadline_ms[step] : 0)) {
		sure_chain_free(c, slot);
		return;
	}
	sure_dp_chain_answer(dp, dc, q, cp);
}

/* Every hand-off to step `node`, which another node runs: how many there were. */
static uint32_t collect_remote(struct sure_dataplane *dp, struct dp_chain *dc, uint32_t node)
{
	struct sure_completion done[64];
	uint32_t n, all = 0;

	do {
		n = sure_chain_collect_for(dc->c, node, done, 64);
		all += n;
		for (uint32_t k = 0; k < n; k++) {
			struct sure_completion *cp = &done[k];
			struct dp_req *q = dc->slot_req[cp->slot];
			if (!q)
				continue; /* not a request of this attachment */
			if (q->hop) { /* out at another node already: not the sender's to hand on */
				refuse_away(dp, dc, q, cp);
				continue;
			}
			sure_dp_hop_hand_off(dp, dc, q, cp, node);
		}
	} while (n == 64);
	return all;
}

/* Every hand-back to the gateway is finished: how many there were. */
static uint32_t collect(struct sure_dataplane *dp, struct dp_chain *dc)
{
	struct sure_completion done[COLLECT_BATCH];
	uint32_t n, all = 0;

	do {
		n = sure_chain_collect(dc->c, done, COLLECT_BATCH);
		for (uint32_t k = 0; k < n; k++)
			complete(dp, dc, &done[k]);
		all += n;
	} while (n == COLLECT_BATCH);
	return all;
}

/* collect(), and the hand-offs to the steps other nodes run: how many in all. */
static uint32_t collect_all(struct sure_dataplane *dp, struct dp_chain *dc)
{
	uint32_t n = collect(dp, dc);

	for (uint32_t r = 0; r < dc->c->nsteps; r++)
		if (dc->remote & (1u << r))
			n += collect_remote(dp, dc, r);
	return n;
}

void sure_dp_on_chains(void *arg)
{
	struct sure_dataplane *dp = arg;
	struct epoll_event evs[16];
	int n;

	/* Fewer than asked for: every ready doorbell was returned (and drained
	 * below), and one rung later raises a new edge; so only a full set calls
	 * for another look, not an empty epoll_wait per completion. */
	do {
		n = epoll_wait(dp->chain_ep, evs, 16, 0);
		if (n <= 0)
			break;
		pthread_mutex_lock(&dp->lock);
		for (int k = 0; k < n; k++) {
			/* (node + 1) << 32 | id: node 0 is the gateway's doorbell */
			struct dp_chain *dc = chain_by_id(dp, (uint32_t)evs[k].data.u64);
			uint32_t node = (uint32_t)(evs[k].data.u64 >> 32);
			if (!dc)
				continue; /* released meanwhile */
			/* Woken: the next hand-off rings again (sure_chain_sleeps),
			 * and this look finds all that came before it. */
			if (node == 0) {
				sure_chain_drain_fd(dc->c->wake_fd[SURE_NODE_GW]);
				sure_chain_sleeps(dc->c, SURE_NODE_GW);
				collect(dp, dc);
			} else if (node - 1 < dc->c->nsteps) {
				sure_chain_drain_fd(dc->c->wake_fd[node - 1]);
				sure_chain_sleeps(dc->c, node - 1);
				collect_remote(dp, dc, node - 1);
			}
		}
		pthread_mutex_unlock(&dp->lock);
	} while (n == 16);
}

void sure_dp_chain_tick(struct sure_dataplane *dp, uint64_t now_ns)
{
	sure_dp_hop_tick(dp, now_ns);
	for (struct dp_chain *dc = dp->chains; dc; dc = dc->next) {
		/* Steps that run with nothing to do are stopped there; the control
		 * plane restarts them (rc -EBUSY: a runaway). */
		uint32_t ran = sure_chain_runaways(dc->c);
		for (uint32_t s = 0; ran && s < dc->c->nsteps; s++)
			if (ran & (1u << s))
				step_down(dp, dc, NULL, s, -EBUSY, 0);
		if (!dc->inflight)
			continue;
		/* Hand-offs whose WAKE was deferred, from a step that has not slept
		 * since (a slow handler after a quick one): woken within a tick. */
		sure_chain_wake_deferred(dc->c);
		collect_all(dp, dc);
		for (uint32_t s = 0; s < dc->nslots; s++) {
			struct dp_req *q = dc->slot_req[s];
			if (!q || now_ns < q->deadline_ns)
				continue;
			/* One still queued for its step is taken back from it,
			 * unless its step takes it at this very moment. */
			uint32_t where = SURE_NODE_GW;
			int queued = sure_chain_take_back(dc->c, s, &where) == 1;
			int at = (int)where;
			if (!q->timed_out) {
				q->timed_out = 1;
				/* The step running it is stopped: the failure that
				 * follows answers 504. Where the request is comes from
				 * the pool, which a step can rewrite: if no failure
				 * comes within a second, it is answered below all the
				 * same. One still queued for its step is answered now:
				 * the step is busy with others, which stopping it would
				 * fail too. */
				q->deadline_ns = now_ns + 1000000000ull;
				if (!queued && at >= 0 && (uint32_t)at < dc->c->nsteps &&
				    !(dc->remote & (1u << at)) &&
				    sure_chain_expire_step(dc->c, (uint32_t)at, dc->cfg.timeout_ms) == 0)
					continue;
			}
			/* Nobody can answer it now (between steps, or its step is
			 * down): answer, and free the slot; its generation moves on,
			 * so a descriptor still queued for it is dropped as stale. */
			dc->slot_req[s] = NULL;
			dc->inflight--;
			sure_dp_hop_cancel(dp, q); /* at another node: its answer is too late */
			sure_chain_free(dc->c, s);
			if (at >= 0 && (uint32_t)at < dc->c->nsteps && !(dc->remote & (1u << at)))
				step_down(dp, dc, q, (uint32_t)at, -ENOENT, 0);
			timeout_answer(dp, dc, q);
		}
	}
}

/* ---- the control plane's calls (libsure.h) ---- */

/* The nodes the data plane consumes for: the gateway, the steps other nodes run. */
static int consumed(const struct dp_chain *dc, uint32_t n)
{
	return n == SURE_NODE_GW || (n < dc->c->nsteps && (dc->remote & (1u << n)));
}

/* Those nodes say they sleep, so that every push to them rings (except
 * while the server polls them, sure_dp_chains_idle). */
static void gateway_sleeps(struct dp_chain *dc, uint32_t on)
{
	struct sure_chain *c = dc->c;

	for (uint32_t n = 0; n < SURE_NODES; n++) {
		if (!consumed(dc, n))
			continue;
		sure_store(&c->sleeping[n], on);
		sure_store(&c->nodes[n].sleeping, on);
	}
	sure_fence();
}

/* Whether steps ring those nodes at once (sure_node_state.host): while the
 * chain is attached, yes; the gateway always is the host's. */
static void host_consumes(struct dp_chain *dc, uint32_t on)
{
	uint32_t takes = 0;

	for (uint32_t n = 0; n < SURE_NODES; n++)
		if (consumed(dc, n)) {
			sure_store(&dc->c->nodes[n].host, on || n == SURE_NODE_GW);
			if (n < dc->c->nsteps)
				takes |= 1u << n;
		}
	pthread_mutex_lock(&dc->c->lock);
	dc->c->host_takes = on ? takes : 0;
	pthread_mutex_unlock(&dc->c->lock);
}

/* A new sleep of each of them, counted before their flags go up: a step
 * that saw them awake and did not ring rings for this one. */
static void count_sleep(struct dp_chain *dc)
{
	for (uint32_t n = 0; n < SURE_NODES; n++)
		if (consumed(dc, n))
			sure_chain_sleeps(dc->c, n);
}

/* About how long until its next answer: its answer time over the
 * requests in flight here; 0 where that is unknown or the steps are remote
 * (split chains were tuned polling). */
static uint64_t next_answer_ns(const struct dp_chain *dc)
{
	uint32_t here = dc->inflight - dc->away;

	return dc->remote || !dc->latency_ns || !here ? 0 : dc->latency_ns / here;
}

/*
 * Whether an answer of a chain all of whose steps run here is due within a
 * spell of polling: its requests in flight answer, on average, one per
 * latency / in flight. One alone (c1) answers after its steps' wake-ups, each
 * a sleep exit on a shared CPU, well past the spell (a 3-step chain: ~200
 * us): polling for it only burnt the server's CPU, ~100 us a request, and
 * its answer came through the gateway's doorbell all the same. Chains with
 * steps on other nodes are always polled: their hops were measured to need
 * it (the comment on POLL_INSTANCE_NS, dispatch.c).
 */
static int answer_due(const struct dp_chain *dc)
{
	return next_answer_ns(dc) <= SURE_DP_POLL_CHAIN_NS;
}

/* Polling (arm 0) is what the server does between rounds for up to
 * SURE_DP_POLL_CHAIN_NS: the steps then hand back without a doorbell,
 * which is an exit for them (~24 us from a guest under PVM,
 * ../shared/platform.md) and a wake-up for this thread. Arming is Dekker
 * with the step's push (gate_chain.c): a new sleep counted, the flags
 * raised, a fence, a look. */
int sure_dp_chains_idle(struct sure_dataplane *dp, int arm, uint64_t *nap_ns)
{
	int any = 0, outstanding = 0;
	uint64_t nap = SURE_DP_NAP_MAX_NS;

	for (struct dp_chain *dc = dp->chains; dc; dc = dc->next) {
		if (!dc->inflight && !dc->awake)
			continue;
		if (arm && dc->awake) {
			count_sleep(dc);
			gateway_sleeps(dc, 1);
			dc->awake = 0;
		} else if (!arm && !dc->awake) {
			gateway_sleeps(dc, 0);
			dc->awake = 1;
		}
		any |= collect_all(dp, dc) > 0;
		/* One that is out on a hop comes back on its socket, not a ring. */
		if (dc->inflight > dc->away && answer_due(dc)) {
			outstanding = 1;
			if (next_answer_ns(dc) / 2 < nap)
				nap = next_answer_ns(dc) / 2;
		}
	}
	*nap_ns = outstanding ? nap : 0;
	return any ? 1 : outstanding ? 0 : -1;
}

/* The doorbells of those nodes in (add) or out of the data plane's epoll set. */
static int watch_nodes(struct sure_dataplane *dp, struct dp_chain *dc, int op)
{
	struct sure_chain *c = dc->c;

	for (uint32_t n = 0; n < SURE_NODES; n++) {
		if (!consumed(dc, n))
			continue;
		uint64_t tag = n == SURE_NODE_GW ? 0 : (uint64_t)(n + 1) << 32;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag | dc->id };
		if (epoll_ctl(dp->chain_ep, op, c->wake_fd[n], op == EPOLL_CTL_DEL ? NULL : &ev) < 0 &&
		    op == EPOLL_CTL_ADD) {
			int e = -errno;
			for (uint32_t k = 0; k < n; k++)
				if (consumed(dc, k))
					epoll_ctl(dp->chain_ep, EPOLL_CTL_DEL, c->wake_fd[k], NULL);
			return e;
		}
	}
	return 0;
}

SURE_API int sure_dataplane_attach_chain(struct sure_dataplane *dp, struct sure_chain *chain,
					 const struct sure_chain_route_config *cfg, size_t size)
{
	if (!dp || !chain || !cfg || size != sizeof(*cfg) || !memchr(cfg->name, 0, sizeof(cfg->name)) ||
	    !cfg->timeout_ms)
		return -EINVAL;
	struct sure_route_config rc = { .max_body = cfg->max_body, .max_instances = 1,
					.target_concurrency = 1 };
	memcpy(rc.name, cfg->name, sizeof(rc.name));
	struct dp_chain *dc = calloc(1, sizeof(*dc));
	if (dc) {
		dc->slot_req = calloc(chain->nslots, sizeof(*dc->slot_req));
		dc->reserved = calloc(chain->nslots, 1);
	}
	if (!dc || !dc->slot_req || !dc->reserved) {
		if (dc) {
			free(dc->slot_req);
			free(dc->reserved);
		}
		free(dc);
		return -ENOMEM;
	}
	dc->c = chain;
	dc->cfg = *cfg;
	dc->nslots = chain->nslots;
	/* Never more than one extent: the body is received into extent 0. */
	uint64_t extent = (uint64_t)(chain->nbuf / 2) * chain->buf_size;
	if (!dc->cfg.max_body || dc->cfg.max_body > extent)
		dc->cfg.max_body = extent;
	int hop = sure_dp_hop_attach(dc, NULL, 0);
	if (hop < 0) {
		free(dc->slot_req);
		free(dc->reserved);
		free(dc);
		return hop;
	}
	pthread_mutex_lock(&dp->lock);
	dc->id = ++dp->next_chain_id;
	int route = sure_dp_route_locked(dp, &rc); /* checks the name */
	int watched = route < 0 ? route : watch_nodes(dp, dc, EPOLL_CTL_ADD);
	if (watched < 0) {
		int e = watched;
		pthread_mutex_unlock(&dp->lock);
		free(dc->slot_req);
		free(dc->reserved);
		free(dc);
		return e;
	}
	dc->route = dp->routes[route];
	dc->route->chain = dc;
	dc->next = dp->chains;
	dp->chains = dc;
	host_consumes(dc, 1);
	gateway_sleeps(dc, 1);
	pthread_mutex_unlock(&dp->lock);
	return (int)dc->id;
}

SURE_API int sure_dataplane_close_chain(struct sure_dataplane *dp, uint32_t id)
{
	if (!dp)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_chain *dc = chain_by_id(dp, id);
	if (dc) {
		dc->closing = 1;
		if (dc->route->chain == dc)
			dc->route->live = 0;
	}
	pthread_mutex_unlock(&dp->lock);
	return dc ? 0 : -ENOENT;
}

SURE_API int sure_dataplane_release_chain(struct sure_dataplane *dp, uint32_t id)
{
	if (!dp)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_chain **pp = &dp->chains, *dc;
	while ((dc = *pp) && dc->id != id)
		pp = &dc->next;
	if (!dc || dc->nreserved) {
		pthread_mutex_unlock(&dp->lock);
		return dc ? -EBUSY : -ENOENT;
	}
	dc->closing = 1;
	collect(dp, dc); /* what finished meanwhile is answered as it is */
	for (uint32_t s = 0; s < dc->nslots; s++) {
		struct dp_req *q = dc->slot_req[s];
		if (!q)
			continue;
		dc->slot_req[s] = NULL;
		sure_dp_hop_cancel(dp, q);
		sure_chain_free(dc->c, s);
		timeout_answer(dp, dc, q);
	}
	/* Requests it left parked keep their answer; they only name the chain's id. */
	for (struct dp_req *q = dp->parked; q; q = q->next)
		if (q->chain == dc)
			q->chain = NULL;
	watch_nodes(dp, dc, EPOLL_CTL_DEL);
	gateway_sleeps(dc, 0);
	host_consumes(dc, 0);
	if (dc->route->chain == dc) {
		dc->route->chain = NULL;
		dc->route->live = 0;
	}
	*pp = dc->next;
	pthread_mutex_unlock(&dp->lock);
	free_chain(dc);
	return 0;
}

SURE_API int sure_dataplane_chain_refuse(struct sure_dataplane *dp, uint32_t id, uint32_t status,
					 const char *json, uint32_t len, const char *headers)
{
	char *j = NULL, *h = NULL;

	if (!dp || (json && (status < 400 || status > 599 || len == 0 || len > REFUSE_JSON_MAX)))
		return -EINVAL;
	if (json) {
		size_t hl = headers ? strlen(headers) : 0;
		j = malloc(len);
		h = malloc(hl + 1);
		if (!j || !h) {
			free(j);
			free(h);
			return -ENOMEM;
		}
		memcpy(j, json, len);
		memcpy(h, headers ? headers : "", hl + 1);
	}
	pthread_mutex_lock(&dp->lock);
	struct dp_chain *dc = chain_by_id(dp, id);
	if (dc) {
		char *oj = dc->refuse_json, *oh = dc->refuse_headers;
		dc->refuse_json = j;
		dc->refuse_headers = h;
		dc->refuse_len = json ? len : 0;
		dc->refuse_status = json ? status : 0;
		j = oj;
		h = oh;
	}
	pthread_mutex_unlock(&dp->lock);
	free(j);
	free(h);
	return dc ? 0 : -ENOENT;
}

SURE_API int sure_dataplane_chain_stats(struct sure_dataplane *dp, uint32_t id,
					struct sure_route_stats *out, size_t size)
{
	if (!dp || !out || size != sizeof(*out))
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_chain *dc = chain_by_id(dp, id);
	if (dc) {
		memset(out, 0, sizeof(*out));
		out->running = dc->inflight + dc->nreserved;
		out->requests = dc->requests;
	}
	pthread_mutex_unlock(&dp->lock);
	return dc ? 0 : -ENOENT;
}

void sure_dp_chains_free(struct sure_dataplane *dp)
{
	while (dp->chains) {
		struct dp_chain *dc = dp->chains;
		dp->chains = dc->next;
		for (uint32_t s = 0; s < dc->nslots; s++) {
			if (dc->slot_req[s])
				free(dc->slot_req[s]->hop_hdrs);
			free(dc->slot_req[s]);
		}
		for (struct dp_req *q = dp->parked; q; q = q->next)
			if (q->chain == dc)
				q->chain = NULL;
		gateway_sleeps(dc, 0);
		host_consumes(dc, 0);
		free_chain(dc);
	}
}
