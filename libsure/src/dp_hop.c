/*
 * dp_hop.c - an outbound hop (dp_hop.h): the origin sends a request to the
 * node that runs its next step, over kernel TCP or the Z-stack, reads the
 * answer's body straight into the slot's extent 0, and goes on: to a step
 * here, to another node, or with the chain's answer.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dp_hop.h"
#include "sock_io.h"
#include "util.h"
#include "zstack.h"

#define CONNECT_TIMEOUT_NS 1000000000ull
/* A hop whose bytes the peer has not acknowledged for this long failed: the
 * node is gone (on a kept connection no connect would have told). */
#define HOP_STALL_NS 1000000000ull

static uint8_t *extent0(struct dp_chain *dc, uint32_t slot)
{
	return dc->c->bufs + (uint64_t)dc->c->m->slot[slot].first[0] * dc->c->buf_size;
}

/* The request fails with 502 peer_unreachable, naming the node that runs `to`. */
static void unreachable(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			uint32_t slot, uint32_t to, const char *why)
{
	char extra[192], addr[32];

	dp->hop_failures++;
	sure_dp_hop_forget(dc, slot);
	sure_chain_free(dc->c, slot);
	snprintf(addr, sizeof(addr), "%s", dc->cfg.step_peer[to]);
	snprintf(extra, sizeof(extra), ",\"chain\":\"%s\",\"node\":\"%s\"", dc->cfg.name,
		 dc->cfg.step_node[to]);
	SURE_DP_FAIL(dp, q, 502, "peer_unreachable", extra, NULL,
		     "chain %s: node %s (%s), which runs step %u, %s", dc->cfg.name,
		     dc->cfg.step_node[to], addr, to, why);
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
	if (!h->zs && h->fd >= 0)
		epoll_ctl(dp->hop_ep, EPOLL_CTL_DEL, h->fd, NULL);
	sock_close(h->zs, h->fd);
	h->zs = NULL;
	h->fd = -1;
}

/* Ends a hop: its socket closes now, its memory goes at the next sweep. The
 * chain counts it back whether or not its request is still there. */
static void hop_end(struct sure_dataplane *dp, struct dp_hop *h)
{
	if (h->state == HOP_DEAD)
		return;
	if (h->q && h->q->hop == h)
		h->q->hop = NULL;
	if (h->away) {
		h->dc->away--;
		h->away = 0;
	}
	h->q = NULL;
	hop_close_sock(dp, h);
	h->state = HOP_DEAD;
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

	if (!sure_dp_hop_idle_take(dp, &h->dc->peer[h->to], &c))
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

/* Ended hops kept for the next ones, with their head buffers: a hop then
 * allocates nothing (a hop is 16.4 KiB, which calloc zeroed whole, and its
 * head buffer 18 KiB; a spare gets only its fields before `in` zeroed). */
#define HOP_SPARE_MAX 64u

/* A hop with its fields zeroed (not its input buffer, which in_len says is
 * empty), from the spares if there is one. NULL: out of memory. */
static struct dp_hop *hop_new(struct sure_dataplane *dp)
{
	struct dp_hop *h = dp->hop_spare;

	if (!h) {
		h = calloc(1, sizeof(*h));
		if (h && !(h->out = malloc(DP_HOP_OUT_CAP))) {
			free(h);
			h = NULL;
		}
		return h;
	}
	dp->hop_spare = h->next;
	dp->nhop_spare--;
	char *out = h->out;
	memset(h, 0, offsetof(struct dp_hop, in));
	h->out = out;
	return h;
}

/* An ended hop (or one never started) kept as a spare, or freed past the bound. */
static void hop_put(struct sure_dataplane *dp, struct dp_hop *h)
{
	if (dp->nhop_spare < HOP_SPARE_MAX) {
		h->next = dp->hop_spare;
		dp->hop_spare = h;
		dp->nhop_spare++;
	} else {
		free(h->out);
		free(h);
	}
}

/* The origin sends q (its slot's bytes) to the node that runs step `to`. */
void sure_dp_hop_start(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		       const struct sure_completion *cp, uint32_t to, const uint8_t *trace)
{
	struct dp_hop *h = hop_new(dp);
	const char *why = "cannot be reached: out of memory";

	if (!h)
		goto fail;
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
	if (sure_dp_hop_build_request(h, q, cp, to, trace) < 0) {
		why = "cannot take it: the request's head is too large to pass on";
		goto fail;
	}
	if (!hop_reuse(dp, h) && hop_connect(dp, h, &why) < 0)
		goto fail;
	h->next = dp->hops;
	dp->hops = h;
	q->hop = h;
	h->away = 1;
	dc->away++;
	dp->hops_out++;
	if (h->state == HOP_SEND) /* kept open: writable now, and the Z-stack says nothing */
		hop_send(dp, h);
	return;
fail:
	if (h)
		hop_put(dp, h);
	unreachable(dp, dc, q, cp->slot, to, why);
}

/* Where a request goes next: a step here (pushed as `from` would), another node's, or the answer. */
static void go_on(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		  const struct sure_completion *cp, uint32_t to, const uint8_t *trace)
{
	if (dc->remote & (1u << to)) {
		sure_dp_hop_start(dp, dc, q, cp, to, trace);
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
		sure_dp_hop_idle_keep(dp, h);
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
		sure_dp_hop_forget(dc, slot);
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
	    !sure_chain_edge(c, r->from, r->to) || r->hops > SURE_MAX_HOPS + 1) {
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

/* Whether the request h carries still has its slot, as when h left: the
 * only time the hop may read the slot's bytes or write the peer's there:
 * a request answered, failed or freed meanwhile leaves it nothing. */
static int hop_owns_slot(const struct dp_hop *h)
{
	const struct dp_chain *dc = h->dc;

	return h->q && h->slot < dc->nslots && dc->slot_req[h->slot] == h->q &&
	       __atomic_load_n(&dc->c->m->slot[h->slot].gen, __ATOMIC_RELAXED) == h->gen;
}

static void hop_send(struct sure_dataplane *dp, struct dp_hop *h)
{
	if (!hop_owns_slot(h)) {
		hop_end(dp, h);
		return;
	}
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

/* Whether the peer's answer carries the MAC of what it says under the nodes'
 * key, bound to this hop's own MAC: an answer from anyone else (a program
 * that took the peer's port, say) cannot steer the request or answer it. */
static int answer_signed(struct sure_dataplane *dp, const struct dp_hop *h)
{
	const struct sure_hop_resp *r = &h->resp;
	char next[48], want[SURE_HOP_MAC_HEX + 1];

	if (!r->has_mac)
		return 0;
	if (r->has_next)
		snprintf(next, sizeof(next), "%u %u %u %u", r->from, r->to, r->next_status, r->hops);
	sure_dp_hop_answer_mac(&dp->hop_key, h->mac, r->status, r->has_next ? next : NULL,
			       r->content_length, want);
	return sure_equal_ct((const uint8_t *)r->mac, (const uint8_t *)want, SURE_HOP_MAC_HEX);
}

static void hop_read(struct sure_dataplane *dp, struct dp_hop *h)
{
	for (;;) {
		if (!hop_owns_slot(h)) {
			hop_end(dp, h); /* its request was answered, failed or freed meanwhile */
			return;
		}
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
			if (dp->hop_keyed && !answer_signed(dp, h)) {
				hop_fail(dp, h,
					 "answered without a MAC made with the hop key (is its hop key this node's?)");
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

/* Takes the hops that ended off the list: kept as spares, or freed. */
static void sweep(struct sure_dataplane *dp)
{
	for (struct dp_hop **pp = &dp->hops, *h; (h = *pp);) {
		if (h->state != HOP_DEAD) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		hop_put(dp, h);
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
	sure_dp_hop_idle_expire(dp, now_ns);
	for (struct dp_hop *h = dp->hops; h; h = h->next) {
		if (h->state != HOP_DEAD && !hop_owns_slot(h)) {
			hop_end(dp, h); /* its request ended meanwhile: within a tick, even if the peer is silent */
			continue;
		}
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
	sure_dp_hop_idle_free(dp);
	for (struct dp_hop *h = dp->hops; h; h = h->next)
		hop_end(dp, h);
	sweep(dp);
	while (dp->hop_spare) {
		struct dp_hop *h = dp->hop_spare;
		dp->hop_spare = h->next;
		free(h->out);
		free(h);
	}
	dp->nhop_spare = 0;
}
