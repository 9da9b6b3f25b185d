/*
 * dp_events.c - the control plane's reader of the data plane's event ring
 * (libsure.h: sure_dataplane_events, _kick, _fold_done): waits, lingers so a
 * busy node's reader is woken per batch, and folds the DONE events of a run
 * into one per kind of answer, so that the reader's work per batch does not
 * grow with the requests in it. The ring is filled by sure_dp_event
 * (dp_state.c) on the data plane's thread.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "dp_internal.h"
#include "util.h"

/* How many of a run's folded records a DONE is compared with: a run holds
 * few kinds of answer (an instance's tag, a status), and a kind not seen
 * among the latest ones just starts a record of its own. */
#define FOLD_LOOK 32u

/* until := now + ms (CLOCK_MONOTONIC, the condition's clock). */
static void deadline_in(struct timespec *until, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_sec += ms / 1000;
	until->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

/* Waits on the ring's condition until done(dp) or the deadline (lock held). */
static void wait_events(struct sure_dataplane *dp, uint32_t ms, int (*done)(struct sure_dataplane *))
{
	struct timespec until;

	deadline_in(&until, ms);
	while (!done(dp) && !dp->ev_kick)
		if (pthread_cond_timedwait(&dp->ev_cond, &dp->lock, &until) == ETIMEDOUT)
			break;
}

static int any_event(struct sure_dataplane *dp)
{
	return dp->ev_len > 0;
}

static int batch_due(struct sure_dataplane *dp)
{
	return dp->ev_urgent > 0 || dp->ev_len >= dp->ev_want;
}

/* ---- folding ---- */

static int same_answer(const struct sure_dp_event *a, const struct sure_dp_event *b)
{
	return a->route == b->route && a->tag == b->tag && a->chain == b->chain &&
	       a->status == b->status && a->rc == b->rc && a->method == b->method &&
	       strncmp(a->code, b->code, sizeof(a->code)) == 0;
}

static void count_in_bucket(const struct sure_dataplane *dp, struct sure_dp_event *o, uint64_t ns)
{
	uint32_t i = 0;

	while (i < dp->fold_nbounds && ns > dp->fold_bounds[i])
		i++;
	o->buckets[i]++;
}

/* e as the first request of a folded record. */
static void fold_start(const struct sure_dataplane *dp, struct sure_dp_event *o,
		       const struct sure_dp_event *e)
{
	*o = *e;
	o->count = 1;
	memset(o->trace_id, 0, sizeof(o->trace_id));
	memset(o->request_id, 0, sizeof(o->request_id));
	memset(o->buckets, 0, sizeof(o->buckets));
	o->nbuckets = dp->fold_nbounds + 1;
	count_in_bucket(dp, o, e->total_ns);
}

static void fold_add(const struct sure_dataplane *dp, struct sure_dp_event *o,
		     const struct sure_dp_event *e)
{
	o->count++;
	o->total_ns += e->total_ns;
	o->wait_ns += e->wait_ns;
	o->bytes_in += e->bytes_in;
	o->bytes_out += e->bytes_out;
	count_in_bucket(dp, o, e->total_ns);
}

/* The record among out[from, n) that e folds into (the latest FOLD_LOOK), or NULL. */
static struct sure_dp_event *fold_target(struct sure_dp_event *out, uint32_t from, uint32_t n,
					 const struct sure_dp_event *e)
{
	uint32_t stop = n - from > FOLD_LOOK ? n - FOLD_LOOK : from;

	for (uint32_t k = n; k > stop; k--)
		if (same_answer(&out[k - 1], e))
			return &out[k - 1];
	return NULL;
}

SURE_API int sure_dataplane_fold_done(struct sure_dataplane *dp, const uint64_t *bounds_ns,
				      int32_t nbounds)
{
	if (!dp || nbounds < -1 || nbounds > SURE_DP_FOLD_BOUNDS || (nbounds > 0 && !bounds_ns))
		return -EINVAL;
	for (int32_t i = 1; i < nbounds; i++)
		if (bounds_ns[i] <= bounds_ns[i - 1])
			return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	dp->fold = nbounds >= 0;
	dp->fold_nbounds = nbounds > 0 ? (uint32_t)nbounds : 0;
	if (nbounds > 0)
		memcpy(dp->fold_bounds, bounds_ns, (size_t)nbounds * sizeof(*bounds_ns));
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

/* ---- the reader ---- */

SURE_API int sure_dataplane_events(struct sure_dataplane *dp, struct sure_dp_event *out,
				   uint32_t max, uint32_t timeout_ms, uint32_t linger_ms)
{
	uint32_t n = 0, run = 0; /* out[run, n): the folded records of the current run of DONEs */

	if (!dp || (!out && max))
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	if (timeout_ms) {
		wait_events(dp, timeout_ms, any_event);
		/* Lingers only as long as the last return is younger than
		 * linger_ms: an idle node hands its first event on at once, a
		 * busy one gathers. */
		uint64_t now = sure_now_ns(), since = now - dp->ev_last_ns;
		uint64_t linger = (uint64_t)linger_ms * 1000000u;
		if (linger && since < linger && dp->ev_len && max) {
			/* Folded, max records hold far more answers than max:
			 * the linger ends the wait, or half the ring's room. */
			dp->ev_want = dp->fold ? DP_EVENTS_DONE_MAX / 2 : max < DP_EVENTS ? max : DP_EVENTS;
			wait_events(dp, (uint32_t)((linger - since + 999999u) / 1000000u), batch_due);
			dp->ev_want = 0;
		}
	}
	dp->ev_kick = 0;
	dp->ev_last_ns = sure_now_ns();
	while (dp->ev_len) {
		const struct sure_dp_event *e = &dp->ev[dp->ev_head];
		int folds = dp->fold && e->kind == SURE_DP_DONE;
		struct sure_dp_event *into = folds ? fold_target(out, run, n, e) : NULL;

		if (into) {
			fold_add(dp, into, e);
		} else if (n == max) {
			break;
		} else if (folds) {
			fold_start(dp, &out[n++], e);
		} else {
			out[n] = *e;
			out[n].count = 1;
			out[n].nbuckets = 0;
			n++;
			/* Answers after another event are a run of their own,
			 * so the reader sees them in their order around it. */
			if (e->kind != SURE_DP_DONE)
				run = n;
		}
		dp->ev_urgent -= e->kind != SURE_DP_DONE;
		/* Their request log lines may go out once they are handled. */
		sure_dp_reqlog_taken(dp, dp->ev_head);
		dp->ev_head = (dp->ev_head + 1) % DP_EVENTS;
		dp->ev_len--;
	}
	pthread_mutex_unlock(&dp->lock);
	return (int)n;
}

SURE_API int sure_dataplane_events_kick(struct sure_dataplane *dp)
{
	if (!dp)
		return -EINVAL;
	pthread_mutex_lock(&dp->lock);
	dp->ev_kick = 1;
	pthread_cond_broadcast(&dp->ev_cond);
	pthread_mutex_unlock(&dp->lock);
	return 0;
}
