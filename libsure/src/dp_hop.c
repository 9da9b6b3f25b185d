/*
 * dp_hop.c - chain steps that run on another node.
 *
 * Every node of a chain applies the same manifest and runs the steps that
 * name it; a step that names another node has no VM here, and the data plane
 * consumes its rings instead (its doorbell is in the epoll set, and it says
 * it always sleeps, so every push rings). The node a request came in on (its
 * origin) leads it from hop to hop:
 *
 *   origin   a hand-off to a remote step r is checked like a completion
 *            (slot, generation, sender, extent, length), then sent as an
 *            HTTP/1.1 request to r's node: the client's method, path, query
 *            and headers, x-request-id, traceparent (the last step's span),
 *            x-sure-hop: <from> <to> <status> <hops>, and the bytes straight
 *            from the extent. The answer's body is received straight into the
 *            slot's extent 0; its headers are kept with the request.
 *   peer     takes x-sure-hop only from the nodes that run the chain's other
 *            steps, receives the body into a slot of its own pool (take()),
 *            and pushes it into ring(from -> to) as `from` would: its step
 *            works in place on the received buffer. When its steps hand the
 *            request to a step it does not run, it answers the hop with
 *            x-sure-hop-next and the bytes; a completion answers it as any
 *            request (the chain's final answer, or its error).
 *   origin   x-sure-hop-next: the request goes on at `to` (here: pushed into
 *            ring(from -> to); elsewhere: the next hop); otherwise the answer
 *            is the chain's, with the headers every node's steps set.
 *
 * A node that cannot be reached, or that answers something malformed, fails
 * the request at once with 502 peer_unreachable naming it; the chain's timeout
 * bounds the rest (a late answer finds the slot's generation moved on).
 * A connection whose answer said keep-alive stays open for the next hop to
 * the same node (up to DP_HOP_IDLE_MAX, for HOP_IDLE_NS); a hop on such a
 * connection that finds it closed before any answer came (the peer let it
 * go) is sent again once on a fresh one. With the af_xdp backend,
 * hops go over the Z-stack (zstack.h) from a local port the XDP program
 * steers back to it; with sockets, over kernel TCP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "chain.h"
#include "dp_internal.h"
#include "http_head.h"
#include "dp_trace.h"
#include "hop_resp.h"
#include "sock_io.h"
#include "util.h"
#include "zstack.h"

#define CONNECT_TIMEOUT_NS 1000000000ull
/* Idle connections are kept 15 s, a quarter of the peer's idle timeout (60 s
 * by default), so that the peer seldom closes one as it is taken (one it has
 * closed is seen at take, or the hop is sent again on a fresh one). */
#define HOP_IDLE_NS 15000000000ull
/* A hop whose bytes the peer has not acknowledged for this long failed: the
 * node is gone (on a kept connection no connect would have told). */
#define HOP_STALL_NS 1000000000ull
#define OUT_CAP (SURE_REQ_HEAD_CAP + 2048u)

enum hop_state { HOP_CONNECT, HOP_SEND, HOP_HEAD, HOP_BODY, HOP_DEAD };

struct dp_hop {
	int fd; /* kernel TCP, or -1 with zs */
	struct zs_sock *zs; /* the Z-stack's socket (af_xdp), or NULL */
	struct sure_dataplane *dp;
	int state;
	struct dp_chain *dc;
	struct dp_req *q;
	uint32_t slot, to;
	uint16_t gen;
	uint64_t deadline_ns; /* connect */
	char *out; /* the request head */
	size_t out_len, out_off;
	const uint8_t *body;
	uint64_t body_len, body_off;
	uint8_t *dst; /* the slot's extent 0: the answer's body */
	uint64_t dst_cap, got;
	struct sure_hop_resp resp;
	size_t in_len;
	int reused; /* on a connection an earlier hop left open: one retry if it was closed */
	uint64_t unacked_since_ns; /* what it sent is not acknowledged since then (0: it is) */
	struct dp_hop *next;
	uint8_t in[SURE_HOP_HEAD_MAX];
};

/* ---- configuration ---- */

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

/* ---- helpers ---- */

static uint8_t *extent0(struct dp_chain *dc, uint32_t slot)
{
	return dc->c->bufs + (uint64_t)dc->c->m->slot[slot].first[0] * dc->c->buf_size;
}

/* The request leaves its chain's books (answered or failed by the caller). */
static void forget(struct dp_chain *dc, uint32_t slot)
{
	dc->slot_req[slot] = NULL;
	dc->inflight--;
}

static int route_allowed(struct sure_chain *c, uint32_t from, uint32_t to)
{
	const struct sure_step_meta *m = &c->m->step[from];

	for (uint32_t k = 0; k < m->n_next && k < SURE_NODES; k++)
		if (m->next[k] == to)
			return 1;
	return 0;
}

static const char HEX[] = "0123456789abcdef";

static void put_hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = HEX[b[i] >> 4];
		out[2 * i + 1] = HEX[b[i] & 15];
	}
}

/* "00-<trace>-<span>-<flags>" of a slot's context (55 bytes + NUL). */
static void traceparent_of(char *out, const uint8_t *trace_id, const uint8_t *span, uint8_t flags)
{
	memcpy(out, "00-", 3);
	put_hex(out + 3, trace_id, 16);
	out[35] = '-';
	put_hex(out + 36, span, 8);
	out[52] = '-';
	put_hex(out + 53, &flags, 1);
	out[55] = 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* The slot's trace context as the last step left it (its span is the next
 * hop's parent), or the request's own when a step wiped it. */
static void slot_trace(struct dp_chain *dc, struct dp_req *q, uint32_t slot, uint8_t *out)
{
	const struct sure_trace *t = &dc->c->trace[slot]; /* host-private */

	memcpy(out, t->trace_id, 16);
	memcpy(out + 16, t->parent_id, 8);
	out[24] = t->flags;
	if (all_zero(out, 16) || all_zero(out + 16, 8))
		memcpy(out, q->trace, 25);
}

/* ---- failing and answering ---- */

static void unreachable(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			uint32_t slot, uint32_t to, const char *why)
{
	char extra[192], addr[32];

	dp->hop_failures++;
	forget(dc, slot);
	sure_chain_free(dc->c, slot);
	snprintf(addr, sizeof(addr), "%s", dc->cfg.step_peer[to]);
	snprintf(extra, sizeof(extra), ",\"chain\":\"%s\",\"node\":\"%s\"", dc->cfg.name,
		 dc->cfg.step_node[to]);
	SURE_DP_FAIL(dp, q, 502, "peer_unreachable", extra, NULL,
		     "chain %s: node %s (%s), which runs step %u, %s", dc->cfg.name,
		     dc->cfg.step_node[to], addr, to, why);
}

/* A peer: the request leaves this node's steps for step `to` of another one. */
static void answer_next(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			const struct sure_completion *cp, uint32_t to)
{
	struct sure_chain *c = dc->c;
	char err[256], line[64], tp[56];
	uint8_t trace[25];

	if (sure_http_resp_head_take(c->heads + (uint64_t)cp->slot * SURE_SLOT_HEAD_SIZE +
					     SURE_REQ_HEAD_CAP,
				     dp->resp_head, err, sizeof(err)) < 0) {
		char extra[96];
		snprintf(extra, sizeof(extra), ",\"function\":\"%s\"", dc->cfg.name);
		forget(dc, cp->slot);
		sure_chain_free(c, cp->slot);
		SURE_DP_FAIL(dp, q, 502, "bad_response_header", extra, NULL, "function %s: %s",
			     dc->cfg.name, err);
		return;
	}
	int n = snprintf(line, sizeof(line), "%u %u %u %u", cp->node, to, cp->status, cp->hops);
	sure_http_head_add(dp->resp_head, "x-sure-hop-next", 15, line, (size_t)n);
	slot_trace(dc, q, cp->slot, trace);
	traceparent_of(tp, trace, trace + 16, trace[24]);
	sure_http_head_add(dp->resp_head, "traceparent", 11, tp, 55);
	forget(dc, cp->slot);
	sure_dp_done(dp, q, 0, 200, NULL, cp->len, 0);
	sure_http_answer(q->ex, 200, dp->resp_head, c->bufs + cp->offset, cp->len);
	q->ex = NULL;
	sure_dp_req_free(dp, q);
	sure_chain_free(c, cp->slot);
}

/* ---- outbound hops ---- */

static int head_out(struct dp_hop *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int head_out(struct dp_hop *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(h->out + h->out_len, OUT_CAP - h->out_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= OUT_CAP - h->out_len)
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
		"x-sure-hop-next",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(n, names[i], len))
			return 1;
	return 0;
}

static int build_request(struct dp_hop *h, struct dp_req *q, const struct sure_completion *cp,
			 uint32_t to, const uint8_t *trace)
{
	const uint8_t *blk = q->ex->head;
	const struct sure_head *hd = (const struct sure_head *)blk;
	struct dp_chain *dc = h->dc;
	char tp[56];
	int rc;

	traceparent_of(tp, trace, trace + 16, trace[24]);
	rc = head_out(h, "%.*s /invoke/%s%.*s%s%.*s HTTP/1.1\r\nhost: %s\r\nx-request-id: %s\r\n"
			 "x-sure-hop: %u %u %u %u\r\ntraceparent: %s\r\n",
		      (int)hd->method_name.len, (const char *)blk + hd->method_name.off,
		      dc->cfg.name, (int)hd->path.len, (const char *)blk + hd->path.off,
		      hd->query.len ? "?" : "", (int)hd->query.len, (const char *)blk + hd->query.off,
		      dc->cfg.step_peer[to], q->request_id, cp->node, to, cp->status, cp->hops, tp);
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

static void hop_arm(struct sure_dataplane *dp, struct dp_hop *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	if (!h->zs) /* the Z-stack tells every change anyway */
		epoll_ctl(dp->hop_ep, EPOLL_CTL_MOD, h->fd, &ev);
}

static void hop_ready(struct sure_dataplane *dp, struct dp_hop *h, uint32_t events);
static void hop_send(struct sure_dataplane *dp, struct dp_hop *h);
static void sweep(struct sure_dataplane *dp);

/* The Z-stack's events of a hop: as the epoll set's (sure_dp_on_hops). */
static void hop_zs_event(void *arg, unsigned ev)
{
	struct dp_hop *h = arg;
	struct sure_dataplane *dp = h->dp;

	pthread_mutex_lock(&dp->lock);
	if (h->state != HOP_DEAD)
		hop_ready(dp, h, ((ev & ZS_EV_IN) ? EPOLLIN : 0u) | ((ev & ZS_EV_OUT) ? EPOLLOUT : 0u));
	sweep(dp);
	pthread_mutex_unlock(&dp->lock);
}

/* Closes the hop's socket (the hop itself goes on or ends). */
static void hop_close_sock(struct sure_dataplane *dp, struct dp_hop *h)
{
	if (h->zs) {
		zs_close(h->zs);
		h->zs = NULL;
	} else if (h->fd >= 0) {
		epoll_ctl(dp->hop_ep, EPOLL_CTL_DEL, h->fd, NULL);
		close(h->fd);
	}
	h->fd = -1;
}

/* Ends a hop: its socket closes now, its memory goes at the next sweep. */
static void hop_end(struct sure_dataplane *dp, struct dp_hop *h)
{
	if (h->state == HOP_DEAD)
		return;
	if (h->q && h->q->hop == h)
		h->q->hop = NULL;
	h->q = NULL;
	hop_close_sock(dp, h);
	h->state = HOP_DEAD;
}

/* ---- connections kept open between hops ---- */

static void idle_close(struct dp_hop_idle *c)
{
	if (c->zs)
		zs_close(c->zs);
	else
		close(c->fd);
}

static void idle_drop(struct sure_dataplane *dp, uint32_t k)
{
	idle_close(&dp->hop_idle[k]);
	memmove(&dp->hop_idle[k], &dp->hop_idle[k + 1],
		(dp->nhop_idle - k - 1) * sizeof(dp->hop_idle[0]));
	dp->nhop_idle--;
}

/* Nothing to do for an idle Z-stack socket: its state is looked at when taken. */
static void idle_zs_event(void *arg, unsigned ev)
{
	(void)arg;
	(void)ev;
}

/* Whether an idle connection is still open with nothing unasked-for on it. */
static int idle_usable(const struct dp_hop_idle *c)
{
	if (c->zs)
		return zs_sock_reusable(c->zs);
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The newest idle connection to peer that is still usable (others to it go). */
static int idle_take(struct sure_dataplane *dp, const struct sockaddr_in *peer,
		     struct dp_hop_idle *out)
{
	for (uint32_t k = dp->nhop_idle; k-- > 0;) {
		struct dp_hop_idle *c = &dp->hop_idle[k];
		if (c->peer.sin_addr.s_addr != peer->sin_addr.s_addr ||
		    c->peer.sin_port != peer->sin_port)
			continue;
		if (!idle_usable(c)) {
			idle_drop(dp, k);
			continue;
		}
		*out = *c;
		memmove(&dp->hop_idle[k], &dp->hop_idle[k + 1],
			(dp->nhop_idle - k - 1) * sizeof(dp->hop_idle[0]));
		dp->nhop_idle--;
		return 1;
	}
	return 0;
}

/* A hop answered in full on a connection the peer keeps: kept for the next. */
static void idle_keep(struct sure_dataplane *dp, struct dp_hop *h)
{
	struct dp_hop_idle c = { .fd = h->fd, .zs = h->zs, .peer = h->dc->peer[h->to],
				 .since_ns = sure_now_ns() };

	if (h->zs)
		zs_sock_bind(h->zs, idle_zs_event, NULL);
	else
		epoll_ctl(dp->hop_ep, EPOLL_CTL_DEL, h->fd, NULL);
	h->fd = -1;
	h->zs = NULL;
	if (dp->nhop_idle == DP_HOP_IDLE_MAX)
		idle_drop(dp, 0); /* the oldest */
	dp->hop_idle[dp->nhop_idle++] = c;
}

static void idle_expire(struct sure_dataplane *dp, uint64_t now_ns)
{
	while (dp->nhop_idle && sure_elapsed_ns(now_ns, dp->hop_idle[0].since_ns) >= HOP_IDLE_NS)
		idle_drop(dp, 0);
}

/* A fresh connection for h to the node that runs its step: 0, or -1 with why. */
static int hop_connect(struct sure_dataplane *dp, struct dp_hop *h, const char **why)
{
	const struct sockaddr_in *peer = &h->dc->peer[h->to];

	dp->hop_connects++;
	if (dp->zs) {
		int rc = zs_connect(dp->zs, peer, hop_zs_event, h, &h->zs);
		if (rc < 0) {
			*why = rc == -EADDRNOTAVAIL ? "cannot be reached: no local port free"
						    : "cannot be reached: out of memory";
			return -1;
		}
	} else {
		h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (h->fd < 0) {
			*why = "cannot be reached: no socket";
			return -1;
		}
		int one = 1, unacked_ms = (int)(HOP_STALL_NS / 1000000u);
		setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* A peer that stops acknowledging (gone without a FIN) fails the hop. */
		setsockopt(h->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &unacked_ms, sizeof(unacked_ms));
		if (connect(h->fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0 &&
		    errno != EINPROGRESS) {
			*why = errno == ECONNREFUSED ? "refused the connection" : "cannot be reached";
			close(h->fd);
			h->fd = -1;
			return -1;
		}
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = h };
		if (epoll_ctl(dp->hop_ep, EPOLL_CTL_ADD, h->fd, &ev) < 0) {
			*why = "cannot be reached: epoll";
			close(h->fd);
			h->fd = -1;
			return -1;
		}
	}
	h->state = HOP_CONNECT;
	h->deadline_ns = sure_now_ns() + CONNECT_TIMEOUT_NS;
	return 0;
}

/* A connection kept from an earlier hop, taken for h: 1, or 0 when none is. */
static int hop_reuse(struct sure_dataplane *dp, struct dp_hop *h)
{
	struct dp_hop_idle c;

	if (!idle_take(dp, &h->dc->peer[h->to], &c))
		return 0;
	h->fd = c.fd;
	h->zs = c.zs;
	if (h->zs) {
		zs_sock_bind(h->zs, hop_zs_event, h);
	} else {
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = h };
		if (epoll_ctl(dp->hop_ep, EPOLL_CTL_ADD, h->fd, &ev) < 0) {
			close(h->fd);
			h->fd = -1;
			return 0;
		}
	}
	h->reused = 1;
	h->state = HOP_SEND;
	return 1;
}

/* The origin sends q (its slot's bytes) to the node that runs step `to`. */
static void hop_start(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		      const struct sure_completion *cp, uint32_t to, const uint8_t *trace)
{
	struct dp_hop *h = calloc(1, sizeof(*h));
	const char *why = "cannot be reached: out of memory";

	if (!h)
		goto fail;
	h->out = malloc(OUT_CAP);
	h->fd = -1;
	h->dp = dp;
	h->dc = dc;
	h->q = q;
	h->slot = cp->slot;
	h->gen = dc->c->m->slot[cp->slot].gen;
	h->to = to;
	h->body = dc->c->bufs + cp->offset;
	h->body_len = cp->len;
	h->dst = extent0(dc, cp->slot);
	h->dst_cap = sure_chain_extent_bytes(dc->c, cp->slot);
	if (!h->out)
		goto fail;
	if (build_request(h, q, cp, to, trace) < 0) {
		why = "cannot take it: the request's head is too large to pass on";
		goto fail;
	}
	if (!hop_reuse(dp, h) && hop_connect(dp, h, &why) < 0)
		goto fail;
	h->next = dp->hops;
	dp->hops = h;
	q->hop = h;
	dp->hops_out++;
	if (h->state == HOP_SEND) /* kept open: writable now, and the Z-stack says nothing */
		hop_send(dp, h);
	return;
fail:
	if (h) {
		free(h->out);
		free(h);
	}
	unreachable(dp, dc, q, cp->slot, to, why);
}

/* Where a request goes next: a step here (pushed as `from` would), another node's, or the answer. */
static void go_on(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		  const struct sure_completion *cp, uint32_t to, const uint8_t *trace)
{
	if (dc->remote & (1u << to)) {
		hop_start(dp, dc, q, cp, to, trace);
		return;
	}
	struct sure_chain_hop hop = {
		.from = cp->node, .to = to, .status = cp->status, .hops = cp->hops, .fresh = 0,
	};
	if (sure_chain_push(dc->c, cp->slot, dc->c->bufs + cp->offset, cp->len, trace, &hop) < 0)
		unreachable(dp, dc, q, cp->slot, cp->node, "handed back a request that cannot go on");
}

/* The answer to a hop is complete: go on, or answer the client. */
static void hop_done(struct sure_dataplane *dp, struct dp_hop *h)
{
	struct dp_chain *dc = h->dc;
	struct dp_req *q = h->q;
	struct sure_chain *c = dc->c;
	const struct sure_hop_resp *r = &h->resp;
	uint32_t slot = h->slot, to = h->to;

	if (r->keep_alive && dp->hop_keepalive)
		idle_keep(dp, h);
	hop_end(dp, h);
	if (!q || dc->slot_req[slot] != q || c->m->slot[slot].gen != h->gen)
		return; /* answered meanwhile (timeout, release) */
	struct sure_completion cp = {
		.slot = slot,
		.len = (uint32_t)r->content_length,
		.offset = (uint64_t)(extent0(dc, slot) - c->bufs),
		.status = (uint16_t)r->status,
	};
	if (!r->has_next) { /* the chain's answer (or an error another node answered) */
		forget(dc, slot);
		if (!q->ex) {
			sure_chain_free(c, slot);
			sure_dp_req_free(dp, q);
			return;
		}
		sure_dp_chain_answer(dp, dc, q, &cp);
		return;
	}
	/* The other node hands it on: from a step it runs, along a route the chain has. */
	if (r->from >= c->nsteps || r->to >= c->nsteps || !(dc->remote & (1u << r->from)) ||
	    !route_allowed(c, r->from, r->to) || r->hops > SURE_MAX_HOPS + 1) {
		unreachable(dp, dc, q, slot, to, "handed the request on along a route the chain has not");
		return;
	}
	uint8_t trace[25];
	if (r->has_trace)
		memcpy(trace, r->trace, 25);
	else
		memcpy(trace, q->trace, 25);
	cp.node = (uint16_t)r->from;
	cp.status = (uint16_t)r->next_status;
	cp.hops = (uint16_t)r->hops;
	go_on(dp, dc, q, &cp, r->to, trace);
}

static void hop_fail(struct sure_dataplane *dp, struct dp_hop *h, const char *why)
{
	struct dp_req *q = h->q;
	struct dp_chain *dc = h->dc;
	uint32_t slot = h->slot;

	if (h->reused && h->in_len == 0 && h->state != HOP_DEAD && !h->unacked_since_ns) {
		/* The peer closed a connection kept from an earlier hop before it
		 * answered anything: it let it go idle, so it never took this one. */
		h->reused = 0;
		hop_close_sock(dp, h);
		h->out_off = 0;
		h->body_off = 0;
		if (hop_connect(dp, h, &why) == 0)
			return;
	}
	hop_end(dp, h);
	if (q && dc->slot_req[slot] == q && dc->c->m->slot[slot].gen == h->gen)
		unreachable(dp, dc, q, slot, h->to, why);
}

static void hop_send(struct sure_dataplane *dp, struct dp_hop *h)
{
	while (h->out_off < h->out_len || h->body_off < h->body_len) {
		struct iovec iov[2];
		int n = 0;
		if (h->out_off < h->out_len)
			iov[n++] = (struct iovec){ h->out + h->out_off, h->out_len - h->out_off };
		if (h->body_off < h->body_len)
			iov[n++] = (struct iovec){ (void *)(h->body + h->body_off),
						   h->body_len - h->body_off };
		ssize_t w = sock_sendv(h->zs, h->fd, iov, (unsigned)n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			hop_fail(dp, h, "closed the connection");
			return;
		}
		size_t head = h->out_len - h->out_off < (size_t)w ? h->out_len - h->out_off : (size_t)w;
		h->out_off += head;
		h->body_off += (size_t)w - head;
	}
	h->state = HOP_HEAD;
	hop_arm(dp, h, EPOLLIN);
}

/* Bytes read (> 0), or 0 with nothing to do now: nothing there yet, or the
 * hop failed because the peer closed (why says when). */
static ssize_t read_some(struct sure_dataplane *dp, struct dp_hop *h, uint8_t *buf, size_t len,
			 const char *why)
{
	ssize_t n = sock_recv(h->zs, h->fd, buf, len);

	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 && errno == ETIMEDOUT) { /* TCP_USER_TIMEOUT: gone, not just closed */
		h->unacked_since_ns = 1;
		why = "stopped acknowledging what it was sent";
	}
	hop_fail(dp, h, why);
	return 0;
}

static void hop_read(struct sure_dataplane *dp, struct dp_hop *h)
{
	for (;;) {
		if (h->state == HOP_HEAD) {
			ssize_t n = read_some(dp, h, h->in + h->in_len, sizeof(h->in) - h->in_len,
					      "closed the connection before answering");
			if (n <= 0)
				return;
			h->in_len += (size_t)n;
			struct dp_req *q = h->q;
			if (!q->hop_hdrs) {
				q->hop_hdrs = malloc(SURE_RESP_HEAD_CAP);
				if (!q->hop_hdrs) {
					hop_fail(dp, h, "answered, but the node is out of memory");
					return;
				}
				sure_http_resp_head_reset(q->hop_hdrs);
			}
			char err[128];
			int rc = sure_hop_resp_parse(h->in, h->in_len, &h->resp, q->hop_hdrs, err,
						     sizeof(err));
			if (rc == 0)
				continue;
			if (rc < 0) {
				char why[192];
				snprintf(why, sizeof(why), "answered something malformed: %s", err);
				hop_fail(dp, h, why);
				return;
			}
			if (h->resp.content_length > h->dst_cap) {
				hop_fail(dp, h, "answered more bytes than the request's buffers hold");
				return;
			}
			/* What came with the head is copied; the rest lands in place. */
			uint64_t extra = h->in_len - h->resp.head_len;
			if (extra > h->resp.content_length) {
				hop_fail(dp, h, "answered more bytes than it announced");
				return;
			}
			memcpy(h->dst, h->in + h->resp.head_len, extra);
			dp->copied_in += extra;
			h->got = extra;
			h->state = HOP_BODY;
		}
		if (h->got == h->resp.content_length) {
			hop_done(dp, h);
			return;
		}
		ssize_t n = read_some(dp, h, h->dst + h->got, h->resp.content_length - h->got,
				      "closed the connection in the middle of its answer");
		if (n <= 0)
			return;
		h->got += (uint64_t)n;
	}
}

static void hop_ready(struct sure_dataplane *dp, struct dp_hop *h, uint32_t events)
{
	if (h->state == HOP_CONNECT && h->zs) {
		int st = zs_sock_state(h->zs);
		if (st == 1)
			return; /* still connecting */
		if (st < 0) {
			hop_fail(dp, h, st == -ECONNREFUSED ? "refused the connection"
							    : "cannot be reached");
			return;
		}
		h->state = HOP_SEND;
	}
	if (h->state == HOP_CONNECT) {
		int e = 0;
		socklen_t l = sizeof(e);
		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e) {
			hop_fail(dp, h, e == ECONNREFUSED ? "refused the connection"
							  : "cannot be reached");
			return;
		}
		h->state = HOP_SEND;
	}
	if (h->state == HOP_SEND) {
		hop_send(dp, h);
		return;
	}
	if ((h->state == HOP_HEAD || h->state == HOP_BODY) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		hop_read(dp, h);
}

/* Frees the hops that ended. */
static void sweep(struct sure_dataplane *dp)
{
	for (struct dp_hop **pp = &dp->hops, *h; (h = *pp);) {
		if (h->state != HOP_DEAD) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		free(h->out);
		free(h);
	}
}

void sure_dp_on_hops(void *arg)
{
	struct sure_dataplane *dp = arg;
	struct epoll_event evs[16];
	int n;

	while ((n = epoll_wait(dp->hop_ep, evs, 16, 0)) > 0) {
		pthread_mutex_lock(&dp->lock);
		for (int k = 0; k < n; k++) {
			struct dp_hop *h = evs[k].data.ptr;
			if (h->state != HOP_DEAD) /* ended by an earlier event of this batch */
				hop_ready(dp, h, evs[k].events);
		}
		sweep(dp);
		pthread_mutex_unlock(&dp->lock);
	}
}

void sure_dp_hop_tick(struct sure_dataplane *dp, uint64_t now_ns)
{
	idle_expire(dp, now_ns);
	for (struct dp_hop *h = dp->hops; h; h = h->next) {
		if (h->state == HOP_CONNECT && now_ns >= h->deadline_ns) {
			hop_fail(dp, h, "did not accept a connection within a second");
			continue;
		}
		/* The Z-stack's sockets: bytes unacknowledged for HOP_STALL_NS (the
		 * kernel's have TCP_USER_TIMEOUT). Not sent again elsewhere: a
		 * peer that is gone would not accept a connection either. */
		if (!h->zs || (h->state != HOP_SEND && h->state != HOP_HEAD))
			continue;
		if (!zs_sock_unacked(h->zs))
			h->unacked_since_ns = 0;
		else if (!h->unacked_since_ns)
			h->unacked_since_ns = now_ns;
		else if (sure_elapsed_ns(now_ns, h->unacked_since_ns) >= HOP_STALL_NS)
			hop_fail(dp, h, "stopped acknowledging what it was sent");
	}
	sweep(dp);
}

void sure_dp_hop_cancel(struct sure_dataplane *dp, struct dp_req *q)
{
	if (q->hop)
		hop_end(dp, q->hop);
}

void sure_dp_hops_free(struct sure_dataplane *dp)
{
	while (dp->nhop_idle)
		idle_drop(dp, dp->nhop_idle - 1);
	for (struct dp_hop *h = dp->hops; h; h = h->next)
		hop_end(dp, h);
	sweep(dp);
}

/* ---- hand-offs to remote steps, and hops from other nodes ---- */

void sure_dp_hop_collect(struct sure_dataplane *dp, struct dp_chain *dc, uint32_t node)
{
	struct sure_completion done[64];
	uint32_t n;

	do {
		n = sure_chain_collect_for(dc->c, node, done, 64);
		for (uint32_t k = 0; k < n; k++) {
			struct sure_completion *cp = &done[k];
			struct dp_req *q = dc->slot_req[cp->slot];
			if (!q)
				continue; /* not a request of this attachment */
			if (!q->ex) { /* the client left */
				forget(dc, cp->slot);
				sure_chain_free(dc->c, cp->slot);
				sure_dp_req_free(dp, q);
				continue;
			}
			if (cp->error == SURE_CE_LOOP) { /* handed on too often: 508 */
				forget(dc, cp->slot);
				cp->status = 508;
				sure_dp_chain_answer(dp, dc, q, cp);
				continue;
			}
			if (q->hop_in) {
				answer_next(dp, dc, q, cp, node);
				continue;
			}
			uint8_t trace[25];
			slot_trace(dc, q, cp->slot, trace);
			hop_start(dp, dc, q, cp, node, trace);
		}
	} while (n == 64);
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

int sure_dp_hop_in(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		   uint32_t slot)
{
	struct sure_http_exchange *ex = q->ex;
	struct sure_chain *c = dc->c;
	uint32_t len = 0, v[4];
	const char *hop = sure_http_head_get(ex->head, "x-sure-hop", &len);
	char extra[128], num[48];

	if (!hop)
		return 0;
	snprintf(extra, sizeof(extra), ",\"chain\":\"%s\"", dc->cfg.name);
	if (!from_peer(dc, ex->peer)) {
		sure_chain_free(c, slot);
		SURE_DP_FAIL(dp, q, 403, "forbidden", extra, NULL,
			     "chain %s takes x-sure-hop only from the nodes that run its other steps",
			     dc->cfg.name);
		return -1;
	}
	/* "<from> <to> <status> <hops>" */
	int ok = len < sizeof(num);
	if (ok) {
		memcpy(num, hop, len);
		num[len] = 0;
		char *p = num, *end;
		for (int k = 0; k < 4 && ok; k++) {
			unsigned long x = strtoul(p, &end, 10);
			ok = end != p && x <= UINT32_MAX && (*end == (k < 3 ? ' ' : 0));
			v[k] = (uint32_t)x;
			p = end + 1;
		}
	}
	if (!ok || v[0] >= c->nsteps || v[1] >= c->nsteps || !(dc->remote & (1u << v[0])) ||
	    (dc->remote & (1u << v[1])) || !route_allowed(c, v[0], v[1]) || v[2] > 599 ||
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
	q->hop_in = 1;
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
