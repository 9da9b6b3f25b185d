/*
 * dp_chain_answer.c - the answer to a chain's request, from its slot: the
 * response head its steps wrote (checked) and the headers of steps other
 * nodes ran, the status, and the body written to the client straight from
 * the pool. Shared by a completion at the gateway (dp_chain.c) and the
 * answer of a hop another node asked for (dp_hop.c).
 */
#include <errno.h>
#include <stdio.h>

#include "chain.h"
#include "dp_internal.h"
#include "http_head.h"

void sure_dp_chain_answer(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			  const struct sure_completion *cp)
{
	struct sure_chain *c = dc->c;
	uint32_t slot = cp->slot;
	char extra[320], err[256];

	if (cp->error == SURE_CE_LOOP) {
		/* Nothing a step made is the answer: the node says why. rc 1 marks
		 * the loop for the control plane's count. */
		snprintf(extra, sizeof(extra), ",\"chain\":\"%s\",\"maxHops\":%u", dc->cfg.name,
			 SURE_MAX_HOPS);
		sure_dp_set_traceparent(dp, q);
		sure_dp_done(dp, q, 0, 508, "loop_detected", 0, 1);
		sure_dp_error(dp, q->ex, q, 508, "loop_detected", extra, NULL,
			      "chain %s handed the request on more than %u times: its routes loop",
			      dc->cfg.name, SURE_MAX_HOPS);
		q->ex = NULL;
		sure_dp_req_free(dp, q);
		sure_chain_free(c, slot);
		return;
	}
	snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", dc->cfg.name);
	int status = cp->status;
	int rc = sure_http_resp_head_take(c->heads + (uint64_t)slot * SURE_SLOT_HEAD_SIZE +
						  SURE_REQ_HEAD_CAP,
					  dp->resp_head, err, sizeof(err));
	/* What the steps other nodes ran set (their nodes checked them). */
	const struct sure_head *more = (const struct sure_head *)q->hop_hdrs;
	for (uint32_t k = 0; rc >= 0 && more && k < more->nfields; k++) {
		const struct sure_head_field *f = &more->field[k];
		if (sure_http_head_add(dp->resp_head, (const char *)q->hop_hdrs + f->name.off,
				       f->name.len, (const char *)q->hop_hdrs + f->value.off,
				       f->value.len) < 0) {
			snprintf(err, sizeof(err), "the response headers of its steps do not fit");
			rc = -E2BIG;
		}
	}
	if (rc < 0) {
		SURE_DP_FAIL(dp, q, 502, "bad_response_header", extra, NULL, "function %s: %s",
			     dc->cfg.name, err);
	} else if (status < 200 || status > 599) {
		SURE_DP_FAIL(dp, q, 500, "internal_error", "", NULL,
			     "function %s answered with invalid HTTP status %d", dc->cfg.name,
			     status);
	} else {
		sure_dp_set_traceparent(dp, q);
		sure_http_head_add(dp->resp_head, "traceparent", 11, dp->traceparent, 55);
		sure_dp_hop_seal(dp, q, dp->resp_head, status, NULL, cp->len);
		sure_dp_done(dp, q, 0, status, NULL, cp->len, 0);
		/* Written from the pool; what the socket does not take now is
		 * copied by the server, so the slot is free to go. */
		sure_http_answer(q->ex, status, dp->resp_head, c->bufs + cp->offset, cp->len);
		q->ex = NULL;
		sure_dp_req_free(dp, q);
	}
	sure_chain_free(c, slot);
}
