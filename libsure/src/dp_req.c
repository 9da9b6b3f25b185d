/*
 * dp_req.c - a request's life as plain functions and chains share it
 * (dp_internal.h): its id and trace context (runtime/gateway/trace.ts), its
 * DONE event, parking it for the control plane, the sidecar's refusals and
 * freeing it. Below dispatch.c, dp_plain.c, dp_chain.c and dp_hop.c, calling
 * none of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"
#include "dp_trace.h"
#include "http_head.h"
#include "util.h"

/* ---- ids and trace context ---- */

static uint64_t next_random(struct sure_dataplane *dp)
{
	/* xorshift128+: ids and spans need to be unique, not secret. */
	uint64_t s1 = dp->rng[0];
	const uint64_t s0 = dp->rng[1];
	dp->rng[0] = s0;
	s1 ^= s1 << 23;
	dp->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return dp->rng[1] + s0;
}

/* The request's trace context: the caller's trace, or a new one; the node's
 * own span is the parent the function sees. */
static void trace_for(struct sure_dataplane *dp, struct dp_req *q, const uint8_t *head)
{
	uint32_t len = 0;
	const char *v = sure_http_head_get(head, "traceparent", &len);
	uint8_t flags = 1;

	while (v && len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (v && len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (!v || sure_dp_parse_traceparent(v, len, q->trace, &flags) < 0) {
		uint64_t a = next_random(dp), b = next_random(dp) | 1;
		memcpy(q->trace, &a, 8);
		memcpy(q->trace + 8, &b, 8);
		flags = 1;
	}
	uint64_t span = next_random(dp) | 1;
	memcpy(q->trace + 16, &span, 8);
	q->trace[24] = flags;
}

/* What the node answers with: its own span of the request's trace. */
void sure_dp_set_traceparent(struct sure_dataplane *dp, const struct dp_req *q)
{
	sure_dp_format_trace_context(dp->traceparent, q->trace);
}

static void new_request_id(struct sure_dataplane *dp, char *out)
{
	static const uint8_t group[] = { 4, 2, 2, 2, 6 }; /* bytes between the dashes */
	uint8_t b[16];
	uint64_t a = next_random(dp), c = next_random(dp);
	const uint8_t *p = b;

	memcpy(b, &a, 8);
	memcpy(b + 8, &c, 8);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* a version 4 UUID, as crypto.randomUUID() */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	/* Written directly: this runs for every request that brings no id, and
	 * snprintf was the largest user-space cost left on that path. */
	for (size_t i = 0; i < sizeof(group); i++) {
		if (i)
			*out++ = '-';
		sure_dp_hex(out, p, group[i]);
		out += 2 * group[i];
		p += group[i];
	}
}

void sure_dp_identify(struct sure_dataplane *dp, struct dp_req *q, struct sure_http_exchange *ex)
{
	if (ex->req->id_len) {
		_Static_assert(sizeof(q->request_id) > SURE_HTTP_ID_MAX, "an id fits");
		memcpy(q->request_id, ex->req->request_id, ex->req->id_len);
		q->request_id[ex->req->id_len] = 0;
	} else
		new_request_id(dp, q->request_id);
	ex->request_id = q->request_id;
	trace_for(dp, q, ex->head);
}

/* ---- events and the end of a request ---- */

void sure_dp_done(struct sure_dataplane *dp, struct dp_req *q, uint32_t tag, int status,
		  const char *code, uint64_t out_bytes, int32_t rc)
{
	struct sure_dp_event ev = { 0 };
	struct sure_http_exchange *ex = q->ex;

	ev.kind = SURE_DP_DONE;
	ev.route = q->route->id;
	ev.tag = tag;
	ev.chain = q->chain ? q->chain->id : 0;
	ev.status = (uint32_t)status;
	ev.rc = rc;
	ev.wait_ns = q->wait_ns;
	if (ex) {
		ev.total_ns = sure_now_ns() - ex->started_ns;
		ev.bytes_in = ex->body_len;
		ev.method = ((const struct sure_head *)ex->head)->method;
	}
	ev.bytes_out = out_bytes;
	memcpy(ev.trace_id, q->trace, 16);
	if (code) /* ev is zeroed: the copy stays terminated */
		memcpy(ev.code, code, strnlen(code, sizeof(ev.code) - 1));
	memcpy(ev.request_id, q->request_id, sizeof(ev.request_id));
	/* The line first: the event says how far the log is once it is there. */
	if (q->chain)
		sure_dp_reqlog(dp, &ev, "chain", q->chain->cfg.name);
	else
		sure_dp_reqlog(dp, &ev, "function", q->route->cfg.name);
	sure_dp_event(dp, &ev);
	q->route->requests++;
}

void sure_dp_req_free(struct sure_dataplane *dp, struct dp_req *q)
{
	if (q->ex)
		q->ex->owner = NULL;
	free(q->hop_hdrs);
	q->hop_hdrs = NULL;
	q->next = dp->free_reqs;
	dp->free_reqs = q;
}

/* The instance died under q: it leaves the route; q waits for the control
 * plane's answer (it knows how to explain the fault). */
void sure_dp_park(struct sure_dataplane *dp, struct dp_req *q, struct sure_dp_event *ev)
{
	q->parked = 1;
	q->token = ++dp->next_token;
	q->on = NULL;
	q->next = dp->parked;
	dp->parked = q;
	ev->token = q->token;
	memcpy(ev->trace_id, q->trace, 16);
	memcpy(ev->request_id, q->request_id, sizeof(ev->request_id));
	if (q->ex)
		ev->total_ns = sure_now_ns() - q->ex->started_ns;
	sure_dp_event(dp, ev);
}

int sure_dp_refused(struct sure_dataplane *dp, struct dp_req *q, const char *fn, int reason,
		    int rc, uint32_t deadline_ms)
{
	char extra[320];

	snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", fn);
	if (reason == SURE_REASON_FAILED) {
		snprintf(extra, sizeof(extra), ",\"function\":\"%s\",\"rc\":%d,\"requestId\":\"%s\"",
			 fn, rc, q->request_id);
		SURE_DP_FAIL(dp, q, 500, "function_failed", extra, NULL,
			     "function %s: handle() returned %d", fn, rc);
	} else if (reason == SURE_REASON_RATE) {
		SURE_DP_FAIL(dp, q, 429, "rate_limited", extra, "retry-after: 1\n",
			     "function %s is over its rate limit; retry shortly", fn);
	} else if (reason == SURE_REASON_INFLIGHT) {
		SURE_DP_FAIL(dp, q, 429, "concurrency_limited", extra, "retry-after: 1\n",
			     "function %s is over its concurrency limit; retry shortly", fn);
	} else if (reason == SURE_REASON_DEADLINE) {
		snprintf(extra, sizeof(extra), ",\"function\":\"%s\",\"deadline\":%u", fn,
			 deadline_ms);
		SURE_DP_FAIL(dp, q, 504, "deadline_exceeded", extra, NULL,
			     "function %s did not start the request within its deadline of %u ms",
			     fn, deadline_ms);
	} else {
		return 0;
	}
	return 1;
}

/* ---- head blocks ---- */

void sure_dp_copy_head(uint8_t *dst, const uint8_t *head)
{
	const struct sure_head *h = (const struct sure_head *)head;
	uint32_t tend = (uint32_t)sizeof(*h) + h->nfields * (uint32_t)sizeof(h->field[0]);

	/* The table, then the strings at the same offsets (both blocks are SURE_REQ_HEAD_CAP). */
	memcpy(dst, head, tend);
	memcpy(dst + h->str_lo, head + h->str_lo, h->cap - h->str_lo);
}
