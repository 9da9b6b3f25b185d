/*
 * dataplane.c - the data plane's public API (libsure.h): the server it
 * runs and the routes and instances the control plane publishes to it (the
 * events it reads back are dp_events.c's). The per-request work is
 * dispatch.c's and dp_plain.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"
#include "instance.h"
#include "util.h"

/* ---- routes ---- */

SURE_API int sure_dataplane_set_token(struct sure_dataplane *dp, const char *token, uint32_t len)
{
	if (!dp || !token || len < 16 || len > DP_TOKEN_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)token[i]))
			return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	memcpy(dp->token, token, len);
	dp->token[len] = 0;
	dp->token_len = len;
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

SURE_API int sure_dataplane_set_hop_key(struct sure_dataplane *dp, const uint8_t *key, uint32_t len)
{
	if (!dp || (len && (!key || len < 16 || len > 1024)))
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	sure_hmac_key_init(&dp->hop_key, key, len);
	dp->hop_keyed = len != 0;
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

SURE_API int sure_dataplane_route(struct sure_dataplane *dp, const struct sure_route_config *cfg,
				  size_t size)
{
	if (!dp || !cfg || size != sizeof(*cfg))
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	int rc = sure_dp_route_locked(dp, cfg);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

static struct dp_route *route_at(struct sure_dataplane *dp, uint32_t route)
{
	return route < dp->nroutes ? dp->routes[route] : NULL;
}

SURE_API int sure_dataplane_unroute(struct sure_dataplane *dp, uint32_t route)
{
	if (!dp)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = route_at(dp, route);
	/* A chain attached under the name since is not the function's to withdraw. */
	if (r && !r->chain)
		r->live = 0;
	pthread_mutex_unlock(&dp->lock);
	return r ? 0 : -ENOENT;
}

/* ---- instances ---- */

SURE_API int sure_dataplane_lend(struct sure_dataplane *dp, uint32_t route,
				 struct sure_instance *inst, uint32_t tag, uint32_t need)
{
	if (!dp || !inst)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = route_at(dp, route);
	int rc = 0;
	if (!r) {
		rc = -ENOENT;
		goto out;
	}
	/* The idle stack holds every instance the route has, idle or busy: each
	 * may come back to it (sure_dp_release) without another check. Sized by
	 * the instances, not by how many are idle now, which overflowed it once
	 * more instances were lent while others were busy. */
	if (r->instances >= r->idle_cap) {
		uint32_t cap = r->idle_cap ? r->idle_cap * 2 : 8;
		struct dp_inst **idle = realloc(r->idle, cap * sizeof(*idle));
		if (!idle) {
			rc = -ENOMEM;
			goto out;
		}
		r->idle = idle;
		r->idle_cap = cap;
	}
	struct dp_inst *i = calloc(1, sizeof(*i));
	if (!i) {
		rc = -ENOMEM;
		goto out;
	}
	i->inst = inst;
	i->route = r;
	i->tag = tag;
	i->next = r->insts;
	if (r->insts)
		r->insts->prev = i;
	r->insts = i;
	r->instances++;
	if (need && r->starting)
		r->starting--;
	if (need && r->need_ns) {
		/* How long a start takes, NEED to lend (admission weighs it). */
		uint64_t now = sure_now_ns();
		sure_average8(&r->start_ns, sure_elapsed_ns(now, r->need_ns));
		r->need_ns = r->starting ? now : 0;
	}
	/* Straight to the oldest waiter, or onto the idle stack. */
	sure_dp_release(dp, i);
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

SURE_API int sure_dataplane_expect(struct sure_dataplane *dp, uint32_t route)
{
	if (!dp)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = route_at(dp, route);
	if (r)
		r->starting++;
	pthread_mutex_unlock(&dp->lock);
	return r ? 0 : -ENOENT;
}

static struct dp_inst *find_inst(struct dp_route *r, uint32_t tag)
{
	for (struct dp_inst *i = r->insts; i; i = i->next)
		if (i->tag == tag)
			return i;
	return NULL;
}

SURE_API int sure_dataplane_reclaim(struct sure_dataplane *dp, uint32_t route, uint32_t tag)
{
	if (!dp)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = route_at(dp, route);
	struct dp_inst *i = r ? find_inst(r, tag) : NULL;
	int rc = 0;
	if (!i) {
		rc = -ENOENT;
	} else if (i->nreq || i->reserved) {
		i->retire = 1;
		rc = -EBUSY;
	} else {
		sure_dp_idle_remove(r, i);
		sure_dp_inst_free(r, i);
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

SURE_API int sure_dataplane_start_failed(struct sure_dataplane *dp, uint32_t route,
					 uint32_t status, const char *json, uint32_t len,
					 const char *headers)
{
	if (!dp || !json)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = route_at(dp, route);
	if (!r) {
		pthread_mutex_unlock(&dp->lock);
		return -ENOENT;
	}
	if (r->starting)
		r->starting--;
	/* A failed start measures nothing; the next NEED's start counts from then. */
	r->need_ns = r->starting ? sure_now_ns() : 0;
	/* With nothing left that could ever serve them, the queued fail now. */
	if (r->instances + r->starting == 0)
		sure_dp_fail_queued(dp, r, (int)status, json, len, headers);
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

SURE_API int sure_dataplane_route_stats(struct sure_dataplane *dp, uint32_t route,
					struct sure_route_stats *out, size_t size)
{
	if (!dp || !out || size != sizeof(*out))
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = route_at(dp, route);
	if (!r) {
		pthread_mutex_unlock(&dp->lock);
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	out->instances = r->instances;
	out->idle = r->nidle;
	out->running = r->running;
	out->starting = r->starting;
	out->queued = r->queued;
	out->requests = r->requests;
	uint64_t now = sure_now_ns();
	/* Oldest idle first: the bottom of the stack. */
	for (uint32_t k = 0; k < r->nidle && k < 64; k++) {
		uint64_t ms = sure_elapsed_ns(now, r->idle[k]->idle_since_ns) / 1000000ull;
		out->idle_tags[k] = ((uint64_t)r->idle[k]->tag << 32) | (ms > UINT32_MAX ? UINT32_MAX : ms);
	}
	out->nidle_tags = r->nidle < 64 ? r->nidle : 64;
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

SURE_API int sure_dataplane_answer(struct sure_dataplane *dp, uint64_t token, uint32_t status,
				   const char *json, uint32_t len, const char *headers)
{
	if (!dp || !json || status < 100 || status > 599)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	int rc = sure_dp_answer_parked(dp, token, (int)status, json, len, headers);
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

/* ---- the server ---- */

SURE_API int sure_dataplane_start(const struct sure_dataplane_config *cfg, size_t size,
				  struct sure_dataplane **out)
{
	if (!cfg || !out || size != sizeof(*cfg) || !memchr(cfg->host, 0, sizeof(cfg->host)) ||
	    !memchr(cfg->upstream, 0, sizeof(cfg->upstream)) || cfg->port > 65535 ||
	    cfg->backend > SURE_DP_AF_XDP || cfg->io > SURE_DP_IO_URING)
		return -EINVAL;
	struct sure_dataplane *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->ev = calloc(DP_EVENTS, sizeof(*dp->ev));
	dp->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dp->chain_ep = epoll_create1(EPOLL_CLOEXEC);
	dp->hop_ep = epoll_create1(EPOLL_CLOEXEC);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dp->ev_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&dp->lock, NULL);
	dp->rng[0] = sure_random_u64() | 1;
	dp->rng[1] = sure_random_u64();
	dp->tick_ms = cfg->tick_ms ? cfg->tick_ms : 5;
	dp->vcpu_cpus = sure_vcpu_cpu_count();
	/* SURE_HOP_KEEPALIVE=0: a connection per hop, as before (for comparison). */
	const char *ka = getenv("SURE_HOP_KEEPALIVE");
	dp->hop_keepalive = !(ka && ka[0] == '0' && !ka[1]);
	int rc = sure_dp_reqlog_init(dp);
	if (rc < 0 || !dp->ev || dp->notify_fd < 0 || dp->chain_ep < 0 || dp->hop_ep < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	struct sure_http_server_config sc = {
		.host = cfg->host,
		.port = (uint16_t)cfg->port,
		.upstream = cfg->upstream,
		.max_conns = cfg->max_conns,
		.header_timeout_ms = cfg->header_timeout_ms,
		.body_timeout_ms = cfg->body_timeout_ms,
		.idle_timeout_ms = cfg->idle_timeout_ms,
		.write_timeout_ms = cfg->write_timeout_ms,
		.cpu_mask = cfg->cpu_mask,
		.io = cfg->io == SURE_DP_IO_URING ? SURE_HTTP_IO_URING : SURE_HTTP_IO_EPOLL,
		/* Connections are refused until the control plane has published
		 * its routes and its upstream listens (sure_dataplane_open). */
		.hold_accept = 1,
		/* The largest body a function takes: each route lowers it (sure_http_limit_body). */
		.max_body = (uint64_t)SURE_IO_MAX,
		.ops = &sure_dp_ops,
		.ctx = dp,
	};
	if (cfg->backend == SURE_DP_AF_XDP) {
		rc = sure_dp_zstack_open(dp, cfg, &sc);
		if (rc < 0)
			goto fail;
	}
	rc = sure_http_server_start(&sc, &dp->srv);
	if (rc < 0)
		goto fail;
	rc = sure_http_server_watch(dp->srv, dp->notify_fd, sure_dp_on_notify, dp);
	if (rc == 0)
		rc = sure_http_server_watch(dp->srv, dp->chain_ep, sure_dp_on_chains, dp);
	if (rc == 0)
		rc = sure_http_server_watch(dp->srv, dp->hop_ep, sure_dp_on_hops, dp);
	if (rc == 0)
		rc = sure_http_server_tick(dp->srv, dp->tick_ms, sure_dp_on_tick, dp);
	if (rc < 0) {
		sure_http_server_stop(dp->srv, 0);
		goto fail;
	}
	*out = dp;
	return 0;
fail:
	sure_dp_zstack_close(dp);
	if (dp->notify_fd >= 0)
		close(dp->notify_fd);
	if (dp->chain_ep >= 0)
		close(dp->chain_ep);
	if (dp->hop_ep >= 0)
		close(dp->hop_ep);
	sure_dp_forwards_free(dp);
	sure_dp_reqlog_free(dp);
	free(dp->ev);
	pthread_cond_destroy(&dp->ev_cond);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
	return rc;
}

SURE_API int sure_dataplane_open(struct sure_dataplane *dp)
{
	return dp ? sure_http_server_open(dp->srv) : -EINVAL;
}

SURE_API int sure_dataplane_port(struct sure_dataplane *dp)
{
	return dp ? sure_http_server_port(dp->srv) : -EINVAL;
}

SURE_API void sure_dataplane_stop(struct sure_dataplane *dp, uint32_t grace_ms)
{
	if (!dp)
		return;
	/* Requests still held are cancelled by the server before it returns. */
	sure_http_server_stop(dp->srv, grace_ms);
	pthread_mutex_lock(&dp->lock);
	sure_dp_hops_free(dp);
	/* After the hops: they close their sockets of it. */
	sure_dp_zstack_close(dp);
	sure_dp_chains_free(dp);
	for (uint32_t k = 0; k < dp->nroutes; k++) {
		struct dp_route *r = dp->routes[k];
		while (r->insts) {
			struct dp_inst *i = r->insts;
			if (i->nreq)
				sure_instance_expire(i->inst, 0);
			r->insts = i->next;
			__atomic_store_n(&i->inst->ch.notify_fd, -1, __ATOMIC_RELEASE);
			free(i);
		}
		for (struct dp_req *q = r->qhead, *n; q; q = n) {
			n = q->next;
			free(q);
		}
		free(r->idle);
		free(r);
	}
	for (struct dp_req *q = dp->free_reqs, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	for (struct dp_req *q = dp->parked, *n; q; q = n) {
		n = q->next;
		free(q->hop_hdrs);
		free(q);
	}
	pthread_mutex_unlock(&dp->lock);
	close(dp->notify_fd);
	close(dp->chain_ep);
	close(dp->hop_ep);
	sure_dp_forwards_free(dp);
	sure_dp_reqlog_free(dp); /* the last lines too: the server has stopped */
	free(dp->ev);
	pthread_cond_destroy(&dp->ev_cond);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}

SURE_API int sure_dataplane_stats(struct sure_dataplane *dp, struct sure_dataplane_stats *out,
				  size_t size)
{
	struct sure_http_server_stats s;

	if (!dp || !out || size != sizeof(*out))
		return -EINVAL;
	sure_http_server_stats(dp->srv, &s);
	pthread_mutex_lock(&dp->lock);
	*out = (struct sure_dataplane_stats){
		.conns_open = s.conns_open,
		.conns_accepted = s.conns_accepted,
		.conns_refused = s.conns_refused,
		.requests = s.requests,
		.tunnelled = s.tunnelled,
		.forwarded = s.forwarded,
		.forwards_refused = s.forwards_refused,
		.forward_failures = s.forward_failures,
		.forward_connects = s.forward_connects,
		.parse_errors = s.parse_errors,
		.timeouts = s.timeouts,
		.bytes_in = s.bytes_in,
		.bytes_out = s.bytes_out,
		.copied_in = dp->copied_in + s.copied_in,
		.copied_out = s.copied_out,
		.pipelined = dp->pipelined,
		.requeued = dp->requeued,
		.withdrawn = dp->withdrawn,
		.events_dropped = dp->events_dropped,
		.request_log_dropped = dp->reqlog.dropped,
		.io_uring = s.io_uring,
		.threads = s.threads,
		.cpu_mask = s.cpu_mask,
	};
	for (uint32_t k = 0; k < dp->nroutes; k++) {
		out->queued += dp->routes[k]->queued;
		out->running += dp->routes[k]->running;
	}
	for (struct dp_chain *dc = dp->chains; dc; dc = dc->next) {
		out->in_chains += dc->inflight;
		out->in_hops += dc->away;
	}
	for (struct dp_req *q = dp->parked; q; q = q->next)
		out->parked++;
	out->hops_out = dp->hops_out;
	out->hops_in = dp->hops_in;
	out->hop_failures = dp->hop_failures;
	out->hop_connects = dp->hop_connects;
	out->hop_keyed = (uint64_t)dp->hop_keyed;
	out->hops_refused = dp->hops_refused;
	sure_dp_zstack_stats(dp, out);
	pthread_mutex_unlock(&dp->lock);
	return 0;
}
