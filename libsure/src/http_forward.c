/*
 * http_forward.c - what a tunnel to another node adds (http_tunnel.c relays
 * the bytes): the owner's forward() named a node of the fleet whose public
 * port serves the function, and the request goes there as it came, with one
 * header line of the owner's added to its head (x-sure-forwarded-by, so that
 * node never sends it on) and x-sure-node added to the answer's, right after
 * its status line. What fails before the node sent a byte is answered here,
 * as the Hono app's forwarders answer it (runtime/fleet/forward_direct.ts,
 * runtime/gateway/chain_entry.ts): 502 forward_failed naming the node (for a
 * chain's first step, peer_unreachable naming the chain too), or 504
 * function_timeout; after that, the answer is cut, as that node's own would
 * be.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

#define NODE_FIELD "x-sure-node: "

static size_t mark_len(const struct conn *c)
{
	return strnlen(c->fw.mark, sizeof(c->fw.mark));
}

static size_t line_len(const struct conn *c)
{
	return sizeof(NODE_FIELD) - 1 + strnlen(c->fw.node, sizeof(c->fw.node)) + 2;
}

void fwd_drop_field(struct conn *c, const char *name)
{
	size_t nlen = strlen(name);
	uint32_t end = c->in_pos, at;
	uint8_t *nl = memchr(c->in + c->req_start, '\n', end - c->req_start);

	/* The parser took the head whole: lines end in LF (CRLF or not), none is
	 * folded, and a name ends at its colon. Past the request line: */
	for (at = nl ? (uint32_t)(nl + 1 - c->in) : end; at < end;) {
		nl = memchr(c->in + at, '\n', end - at);
		if (!nl)
			break;
		uint32_t next = (uint32_t)(nl + 1 - c->in), len = next - at;
		if (len > nlen && c->in[at + nlen] == ':' &&
		    !strncasecmp((const char *)c->in + at, name, nlen)) {
			/* What comes before it moves up over it: nothing after the
			 * head (its body, the next request) moves. */
			memmove(c->in + c->req_start + len, c->in + c->req_start, at - c->req_start);
			c->req_start += len;
		}
		at = next;
	}
}

void fwd_begin(struct conn *c)
{
	/* [req_start, in_pos) is the raw head, which the parser took whole: it
	 * ends with an empty line, and the mark goes just before it. */
	uint32_t end = c->in_pos;
	uint32_t blank = end - c->req_start >= 2 && c->in[end - 2] == '\r' ? 2 : 1;

	c->fw_mark_at = end - c->req_start - blank;
	/* The request, and not a byte after it: whatever the client sends
	 * next is not for that node (a tunnel that outlives the exchange, when
	 * its answer has no length, ends with it). */
	c->fw_req_left = (uint64_t)(end - c->req_start) + (c->fw_done ? 0 : c->p.req.content_length);
	c->tx_resp_off = c->out_len; /* where the answer will start (out is empty) */
	c->fw_mark_off = 0;
	c->fw_line = 1;
	c->fw_heard = 0;
}

size_t fwd_clip(const struct conn *c, size_t len)
{
	if (!c->fw_on)
		return len;
	if (len > c->fw_req_left)
		len = (size_t)c->fw_req_left;
	if (c->fw_mark_off < mark_len(c) && len > c->fw_mark_at)
		len = c->fw_mark_at;
	return len;
}

int fwd_sent(struct conn *c, size_t n)
{
	size_t len = mark_len(c);
	ssize_t k;

	if (!c->fw_on)
		return 0;
	c->fw_req_left -= n;
	if (c->fw_mark_off >= len)
		return 0;
	c->fw_mark_at -= (uint32_t)n;
	if (c->fw_mark_at || !c->uwr)
		return 0;
	do
		k = up_send(c, c->fw.mark + c->fw_mark_off, len - c->fw_mark_off);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		c->uwr = 0;
		return 0;
	}
	c->fw_mark_off += (uint32_t)k;
	return 1;
}

size_t fwd_room(const struct conn *c)
{
	return c->fw_on && c->fw_line ? line_len(c) : 0;
}

size_t fwd_heard(struct conn *c)
{
	size_t from = c->tx_resp_off, len;
	uint8_t *nl;

	if (!c->fw_on)
		return 0;
	c->fw_heard = 1;
	c->fw_again = 0; /* it answers: never sent again, and its bytes may go */
	if (!c->fw_line)
		return 0;
	nl = memchr(c->out + from, '\n', c->out_len - from);
	if (!nl) {
		/* No status line in all that room: not HTTP, passed on as it is. */
		if (c->out_len + line_len(c) >= c->out_cap)
			c->fw_line = 0;
		return 0;
	}
	len = line_len(c);
	size_t at = (size_t)(nl + 1 - c->out);
	memmove(c->out + at + len, c->out + at, c->out_len - at);
	memcpy(c->out + at, NODE_FIELD, sizeof(NODE_FIELD) - 1);
	memcpy(c->out + at + sizeof(NODE_FIELD) - 1, c->fw.node, len - (sizeof(NODE_FIELD) - 1) - 2);
	memcpy(c->out + at + len - 2, "\r\n", 2);
	c->out_len += len;
	c->fw_line = 0;
	return len;
}

/* Before the node sent anything: the request is answered with an error of
 * the server's (the node's tunnel goes first). */
static void fail(struct conn *c, int status, const char *code, const char *msg,
		 const char *extra)
{
	struct sure_http_server *s = c->srv;

	STAT_ADD(s, forward_failures, 1);
	up_close(c);
	c->fw_on = c->fw_again = 0;
	c->tx = 0;
	c->out_off = c->out_len = 0;
	conn_fail(c, status, code, msg, extra);
}

/* 502 naming the node: a fleet's forward_failed, or for a chain's first
 * step the chain's peer_unreachable (as dp_hop.c and chain_entry.ts give it).
 * Names of nodes and routes need no escaping. */
static void node_failed(struct conn *c, const char *msg)
{
	char extra[160];

	if (c->fw.chain) {
		snprintf(extra, sizeof(extra), ",\"chain\":\"%s\",\"node\":\"%s\"", c->fw.name,
			 c->fw.node);
		fail(c, 502, "peer_unreachable", msg, extra);
	} else {
		snprintf(extra, sizeof(extra), ",\"node\":\"%s\"", c->fw.node);
		fail(c, 502, "forward_failed", msg, extra);
	}
}

int fwd_broken(struct conn *c, const char *why)
{
	char msg[320], addr[INET_ADDRSTRLEN] = "";

	if (c->fw_heard) {
		conn_close(c);
		return 0;
	}
	inet_ntop(AF_INET, &c->fw.addr.sin_addr, addr, sizeof(addr));
	if (c->fw.chain)
		snprintf(msg, sizeof(msg),
			 "chain %s: node %s (%s:%u), which runs step 0, cannot be reached: %s",
			 c->fw.name, c->fw.node, addr, ntohs(c->fw.addr.sin_port), why);
	else
		snprintf(msg, sizeof(msg), "node %s (%s:%u), which runs %s, cannot be reached: %s",
			 c->fw.node, addr, ntohs(c->fw.addr.sin_port), c->fw.name, why);
	node_failed(c, msg);
	return !c->closed; /* the answer is on its way: drive on */
}

void fwd_timeout(struct conn *c)
{
	char msg[160], extra[128];

	if (c->fw_heard) {
		conn_close(c);
		return;
	}
	snprintf(msg, sizeof(msg), "function %s did not answer within %u ms", c->fw.name,
		 c->fw.timeout_ms);
	snprintf(extra, sizeof(extra), ",\"function\":\"%s\",\"timeoutMs\":%u", c->fw.name,
		 c->fw.timeout_ms);
	fail(c, 504, "function_timeout", msg, extra);
}

int fwd_to_node(const struct conn *c, const char *node)
{
	return !c->closed && c->state == CS_TUNNEL && c->fw_on &&
	       !strncmp(c->fw.node, node, sizeof(c->fw.node));
}

void fwd_node_dead(struct conn *c)
{
	char msg[192];

	if (c->fw_heard) {
		conn_close(c);
		return;
	}
	if (c->fw.chain)
		snprintf(msg, sizeof(msg),
			 "chain %s: node %s, which runs step 0, stopped answering (its heartbeat "
			 "expired)",
			 c->fw.name, c->fw.node);
	else
		snprintf(msg, sizeof(msg),
			 "node %s, which ran %s, stopped answering (its heartbeat expired)",
			 c->fw.node, c->fw.name);
	node_failed(c, msg);
}

int fwd_idle_take(struct sure_http_server *s, const struct sockaddr_in *addr, int zstack,
		  struct fwd_idle *out)
{
	for (uint32_t k = s->nfwd_idle; k-- > 0;) { /* the newest first */
		struct fwd_idle e = s->fwd_idle[k];

		if (e.addr.sin_addr.s_addr != addr->sin_addr.s_addr ||
		    e.addr.sin_port != addr->sin_port || !e.zs != !zstack)
			continue;
		memmove(&s->fwd_idle[k], &s->fwd_idle[k + 1],
			(s->nfwd_idle - k - 1) * sizeof(s->fwd_idle[0]));
		s->nfwd_idle--;
		if (sock_idle_usable(e.zs, e.fd)) {
			*out = e;
			return 1;
		}
		sock_close(e.zs, e.fd);
	}
	return 0;
}

int fwd_idle_put(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	if (!c->fw_on || c->ueof || !up_open(c))
		return 0;
	if (c->uzs)
		zs_sock_bind(c->uzs, sock_idle_event, NULL);
	else if (epoll_ctl(s->ep, EPOLL_CTL_DEL, c->ufd, NULL) < 0)
		return 0;
	if (s->nfwd_idle == FWD_IDLE_MAX) { /* the oldest makes room */
		sock_close(s->fwd_idle[0].zs, s->fwd_idle[0].fd);
		memmove(&s->fwd_idle[0], &s->fwd_idle[1], (FWD_IDLE_MAX - 1) * sizeof(s->fwd_idle[0]));
		s->nfwd_idle--;
	}
	s->fwd_idle[s->nfwd_idle++] = (struct fwd_idle){
		.fd = c->ufd, .zs = c->uzs, .addr = c->fw.addr, .since_ns = s->now_ns
	};
	c->ufd = -1;
	c->uzs = NULL;
	return 1;
}

void fwd_idle_sweep(struct sure_http_server *s, int all)
{
	uint32_t n = 0;

	for (; n < s->nfwd_idle && (all || s->fwd_idle[n].since_ns + FWD_IDLE_NS <= s->now_ns); n++)
		sock_close(s->fwd_idle[n].zs, s->fwd_idle[n].fd);
	memmove(&s->fwd_idle[0], &s->fwd_idle[n], (s->nfwd_idle - n) * sizeof(s->fwd_idle[0]));
	s->nfwd_idle -= n;
}
