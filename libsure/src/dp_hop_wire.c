/*
 * dp_hop_wire.c - what a hop says (dp_hop.h): the HTTP/1.1 request head an
 * origin sends to the node that runs the next step, and the trace context it
 * carries.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dp_hop.h"
#include "dp_trace.h"

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

void sure_dp_hop_slot_trace(struct dp_chain *dc, struct dp_req *q, uint32_t slot, uint8_t *out)
{
	const struct sure_trace *t = &dc->c->trace[slot]; /* host-private */

	memcpy(out, t->trace_id, 16);
	memcpy(out + 16, t->parent_id, 8);
	out[24] = t->flags;
	if (all_zero(out, 16) || all_zero(out + 16, 8))
		memcpy(out, q->trace, 25);
}

static int head_out(struct dp_hop *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int head_out(struct dp_hop *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(h->out + h->out_len, DP_HOP_OUT_CAP - h->out_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= DP_HOP_OUT_CAP - h->out_len)
		return -E2BIG;
	h->out_len += (size_t)n;
	return 0;
}

/* Headers of the client's request a hop does not pass on (framing, hop-by-hop, the node's own). */
static int not_passed(const char *n, uint32_t len)
{
	static const char *const names[] = {
		"host", "content-length", "transfer-encoding", "connection", "keep-alive", "expect",
		"te", "trailer", "upgrade", "traceparent", "x-request-id", "x-sure-hop",
		"x-sure-hop-next", "x-sure-hop-mac",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(n, names[i], len))
			return 1;
	return 0;
}

int sure_dp_hop_build_request(struct dp_hop *h, struct dp_req *q, const struct sure_completion *cp,
			      uint32_t to, const uint8_t *trace)
{
	const uint8_t *blk = q->ex->head;
	const struct sure_head *hd = (const struct sure_head *)blk;
	struct dp_chain *dc = h->dc;
	char tp[SURE_TRACEPARENT_LEN + 1], hop[48];
	int rc, hop_len;

	uint32_t mlen;
	const char *method = sure_dp_hop_method(blk, &mlen);

	sure_dp_format_trace_context(tp, trace);
	hop_len = snprintf(hop, sizeof(hop), "%u %u %u %u", cp->node, to, cp->status, cp->hops);
	rc = head_out(h, "%.*s /invoke/%s%.*s%s%.*s HTTP/1.1\r\nhost: %s\r\nx-request-id: %s\r\n"
			 "x-sure-hop: %s\r\ntraceparent: %s\r\n",
		      (int)mlen, method, dc->cfg.name, (int)hd->path.len, (const char *)blk + hd->path.off,
		      hd->query.len ? "?" : "", (int)hd->query.len, (const char *)blk + hd->query.off,
		      dc->cfg.step_peer[to], q->request_id, hop, tp);
	if (rc == 0 && h->dp->hop_keyed) {
		_Static_assert(sizeof(h->mac) == SURE_HOP_MAC_HEX + 1, "a MAC fits");
		sure_dp_hop_mac(&h->dp->hop_key, dc->cfg.name, hop, (uint32_t)hop_len, q->request_id,
				blk, cp->len, h->mac);
		rc = head_out(h, "x-sure-hop-mac: %s\r\n", h->mac);
	}
	for (uint32_t i = 0; rc == 0 && i < hd->nfields; i++) {
		const struct sure_head_field *f = &hd->field[i];
		if (not_passed((const char *)blk + f->name.off, f->name.len))
			continue;
		rc = head_out(h, "%.*s: %.*s\r\n", (int)f->name.len, (const char *)blk + f->name.off,
			      (int)f->value.len, (const char *)blk + f->value.off);
	}
	if (rc == 0)
		rc = head_out(h, "content-length: %u\r\n\r\n", cp->len);
	return rc;
}
