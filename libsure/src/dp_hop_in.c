/*
 * dp_hop_in.c - the calls of dp_internal.h that start or end a hop: the
 * remote steps' addresses (attach), the hand-offs the steps here make to
 * steps other nodes run (collect), and hops other nodes send here (in), with
 * the answer that hands a request on to another node's step (answer_next).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_hop.h"
#include "dp_trace.h"
#include "http_head.h"

static int parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[32];
	const char *colon = strrchr(s, ':');
	char *end;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -EINVAL;
}

int sure_dp_hop_attach(struct dp_chain *dc, char *err, size_t errcap)
{
	dc->remote = 0;
	for (uint32_t i = 0; i < dc->c->nsteps && i < SURE_CHAIN_MAX_STEPS; i++) {
		const char *peer = dc->cfg.step_peer[i];
		if (!memchr(peer, 0, sizeof(dc->cfg.step_peer[i])) ||
		    !memchr(dc->cfg.step_node[i], 0, sizeof(dc->cfg.step_node[i])))
			return -EINVAL;
		if (!peer[0])
			continue;
		if (parse_addr(peer, &dc->peer[i]) < 0 || !dc->cfg.step_node[i][0]) {
			if (err && errcap)
				snprintf(err, errcap, "step %u: bad node address %s", i, peer);
			return -EINVAL;
		}
		dc->remote |= 1u << i;
	}
	return 0;
}

/* A peer: the request leaves this node's steps for step `to` of another one. */
static void answer_next(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			const struct sure_completion *cp, uint32_t to)
{
	struct sure_chain *c = dc->c;
	char err[256], line[64], tp[SURE_TRACEPARENT_LEN + 1];
	uint8_t trace[25];

	if (sure_http_resp_head_take(c->heads + (uint64_t)cp->slot * SURE_SLOT_HEAD_SIZE +
					     SURE_REQ_HEAD_CAP,
				     dp->resp_head, err, sizeof(err)) < 0) {
		char extra[96];
		snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", dc->cfg.name);
		sure_dp_hop_forget(dc, cp->slot);
		sure_chain_free(c, cp->slot);
		SURE_DP_FAIL(dp, q, 502, "bad_response_header", extra, NULL, "function %s: %s",
			     dc->cfg.name, err);
		return;
	}
	int n = snprintf(line, sizeof(line), "%u %u %u %u", cp->node, to, cp->status, cp->hops);
	sure_http_head_add(dp->resp_head, "x-sure-hop-next", 15, line, (size_t)n);
	sure_dp_hop_slot_trace(dc, q, cp->slot, trace);
	sure_dp_format_trace_context(tp, trace);
	sure_http_head_add(dp->resp_head, "traceparent", 11, tp, SURE_TRACEPARENT_LEN);
	sure_dp_hop_forget(dc, cp->slot);
	sure_dp_hop_seal(dp, q, dp->resp_head, 200, line, cp->len);
	sure_dp_done(dp, q, 0, 200, NULL, cp->len, 0);
	sure_http_answer(q->ex, 200, dp->resp_head, c->bufs + cp->offset, cp->len);
	q->ex = NULL;
	sure_dp_req_free(dp, q);
	sure_chain_free(c, cp->slot);
}

void sure_dp_hop_hand_off(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			  struct sure_completion *cp, uint32_t node)
{
	if (!q->ex) { /* the client left */
		sure_dp_hop_forget(dc, cp->slot);
		sure_chain_free(dc->c, cp->slot);
		sure_dp_req_free(dp, q);
		return;
	}
	if (cp->error == SURE_CE_LOOP) { /* handed on too often: 508 */
		sure_dp_hop_forget(dc, cp->slot);
		cp->status = 508;
		sure_dp_chain_answer(dp, dc, q, cp);
		return;
	}
	if (q->hop_in) {
		answer_next(dp, dc, q, cp, node);
		return;
	}
	uint8_t trace[25];
	sure_dp_hop_slot_trace(dc, q, cp->slot, trace);
	sure_dp_hop_start(dp, dc, q, cp, node, trace);
}

static int from_peer(const struct dp_chain *dc, const struct sockaddr *sa)
{
	if (!sa || sa->sa_family != AF_INET)
		return 0;
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	for (uint32_t i = 0; i < dc->c->nsteps; i++)
		if ((dc->remote & (1u << i)) && dc->peer[i].sin_addr.s_addr == in->sin_addr.s_addr)
			return 1;
	return 0;
}

/* Whether the hop carries the MAC of what it asks for under the nodes' key
 * (checked before anything else of it is read: a sender without the key
 * learns nothing of the chain's routes). */
static int mac_ok(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		  const char *hop, uint32_t hop_len)
{
	struct sure_http_exchange *ex = q->ex;
	uint32_t len = 0;
	const char *got = sure_http_head_get(ex->head, "x-sure-hop-mac", &len);
	char want[SURE_HOP_MAC_HEX + 1];

	if (!got || len != SURE_HOP_MAC_HEX)
		return 0;
	sure_dp_hop_mac(&dp->hop_key, dc->cfg.name, hop, hop_len, q->request_id, ex->head,
			ex->body_len, want);
	return sure_equal_ct((const uint8_t *)got, (const uint8_t *)want, SURE_HOP_MAC_HEX);
}

int sure_dp_hop_in(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		   uint32_t slot)
{
	struct sure_http_exchange *ex = q->ex;
	struct sure_chain *c = dc->c;
	uint32_t len = 0, v[4];
	const char *hop = sure_http_head_get(ex->head, "x-sure-hop", &len);
	char extra[128];

	if (!hop)
		return 0;
	snprintf(extra, sizeof(extra), ",\"chain\":\"%s\"", dc->cfg.name);
	const char *refused = NULL;
	if (!from_peer(dc, ex->peer))
		refused = "takes x-sure-hop only from the nodes that run its other steps";
	else if (dp->hop_keyed && !mac_ok(dp, dc, q, hop, len))
		refused = "takes x-sure-hop only with an x-sure-hop-mac made with the hop key";
	if (refused) {
		dp->hops_refused++;
		sure_chain_free(c, slot);
		SURE_DP_FAIL(dp, q, 403, "forbidden", extra, NULL, "chain %s %s", dc->cfg.name,
			     refused);
		return -1;
	}
	q->hop_in = 1; /* from a chain's node (with the key's MAC): answered as a hop, sealed */
	/* "<from> <to> <status> <hops>", digits and single spaces only */
	int ok = sure_hop_numbers((const uint8_t *)hop, len, v, 4) == 0;
	if (!ok || v[0] >= c->nsteps || v[1] >= c->nsteps || !(dc->remote & (1u << v[0])) ||
	    (dc->remote & (1u << v[1])) || !sure_chain_edge(c, v[0], v[1]) || v[2] > 599 ||
	    v[3] > SURE_MAX_HOPS + 1) {
		sure_chain_free(c, slot);
		SURE_DP_FAIL(dp, q, 400, "bad_hop", extra, NULL,
			     "chain %s: x-sure-hop names no hand-off this node runs", dc->cfg.name);
		return -1;
	}
	/* The sender's span is the parent of the steps here. */
	const char *tp = sure_http_head_get(ex->head, "traceparent", &len);
	uint8_t ctx[25];
	if (tp && sure_dp_parse_trace_context(tp, len, ctx) == 0)
		memcpy(q->trace, ctx, 25);
	dp->hops_in++;
	struct sure_chain_hop h = {
		.from = v[0], .to = v[1], .status = (uint16_t)v[2], .hops = (uint16_t)v[3], .fresh = 1,
	};
	int rc = sure_chain_push(c, slot, ex->body, (uint32_t)ex->body_len, q->trace, &h);
	if (rc < 0) {
		sure_chain_free(c, slot);
		SURE_DP_FAIL(dp, q, 503, "pool_exhausted", extra, "retry-after: 1\n",
			     "chain %s has no free buffers for this request; retry shortly",
			     dc->cfg.name);
		return -1;
	}
	return 1;
}
