/*
 * dp_state.c - the data plane's shared records (dp_internal.h), below both
 * the control plane's calls (dataplane.c) and the request paths (dispatch.c,
 * dp_plain.c, dp_chain.c, dp_hop.c): the route table, lent instances
 * leaving it, and the event ring the control plane reads. Callers hold
 * dp->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"
#include "instance.h"

/* ---- routes ---- */

struct dp_route *sure_dp_lookup(struct sure_dataplane *dp, const char *name)
{
	for (uint32_t k = sure_dp_name_hash(name) % DP_HASH, n = 0; n < DP_HASH; n++, k = (k + 1) % DP_HASH) {
		int32_t v = dp->hash[k];
		if (v == 0)
			return NULL;
		struct dp_route *r = dp->routes[v - 1];
		if (!strcmp(r->cfg.name, name))
			return r;
	}
	return NULL;
}

static int valid_name(const char *n)
{
	size_t len = strnlen(n, 64);

	if (len == 0 || len > 63 || n[0] < 'a' || n[0] > 'z')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return 0;
	return 1;
}

int sure_dp_route_locked(struct sure_dataplane *dp, const struct sure_route_config *cfg)
{
	if (!valid_name(cfg->name) || !cfg->max_instances || !cfg->target_concurrency)
		return -EINVAL;
	struct dp_route *r = sure_dp_lookup(dp, cfg->name);
	if (!r) {
		if (dp->nroutes == DP_MAX_ROUTES)
			return -ENOSPC;
		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		r->id = dp->nroutes;
		dp->routes[dp->nroutes++] = r;
		uint32_t k = sure_dp_name_hash(cfg->name) % DP_HASH;
		while (dp->hash[k])
			k = (k + 1) % DP_HASH;
		dp->hash[k] = (int32_t)r->id + 1;
	}
	r->cfg = *cfg;
	r->cfg.name[63] = 0;
	r->live = r->used = 1;
	r->chain = NULL; /* a chain's attachment sets it after */
	return (int)r->id;
}

/* ---- instances ---- */

void sure_dp_idle_remove(struct dp_route *r, struct dp_inst *i)
{
	for (uint32_t k = 0; k < r->nidle; k++) {
		if (r->idle[k] == i) {
			memmove(&r->idle[k], &r->idle[k + 1], (r->nidle - k - 1) * sizeof(r->idle[0]));
			r->nidle--;
			return;
		}
	}
}

void sure_dp_inst_free(struct dp_route *r, struct dp_inst *i)
{
	if (i->prev)
		i->prev->next = i->next;
	else
		r->insts = i->next;
	if (i->next)
		i->next->prev = i->prev;
	r->instances--;
	__atomic_store_n(&i->inst->ch.notify_fd, -1, __ATOMIC_RELEASE);
	free(i);
}

/* ---- events ---- */

void sure_dp_event(struct sure_dataplane *dp, const struct sure_dp_event *ev)
{
	uint32_t limit = ev->kind == SURE_DP_DONE ? DP_EVENTS_DONE_MAX : DP_EVENTS;

	if (dp->ev_len >= limit) {
		dp->events_dropped++;
		return;
	}
	dp->ev[(dp->ev_head + dp->ev_len) % DP_EVENTS] = *ev;
	sure_dp_reqlog_queued(dp, (dp->ev_head + dp->ev_len) % DP_EVENTS);
	/* The reader wakes for the first event, then (lingering) only for one
	 * that is not DONE or for a full batch: a DONE in between costs no
	 * wake-up. With no waiter a signal is no syscall. */
	int urgent = ev->kind != SURE_DP_DONE;
	dp->ev_urgent += (uint32_t)urgent;
	if (dp->ev_len++ == 0 || urgent || dp->ev_len == dp->ev_want)
		pthread_cond_signal(&dp->ev_cond);
}
