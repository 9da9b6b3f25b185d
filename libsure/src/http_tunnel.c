/*
 * http_tunnel.c - a connection handed to the upstream (the node's Hono app
 * on a unix socket): from the first byte of the request that was not the
 * owner's, bytes go both ways unchanged, so every other route of the node is
 * served on the same port. Each direction has one buffer (client to upstream:
 * the input buffer, which still holds that request from its first byte;
 * upstream to client: the output buffer), and a side is read only while its
 * buffer has room, so a slow reader on either side slows the other down.
 *
 * Closing: the client's FIN is passed on (shutdown of the upstream's write
 * side) and the answer still relayed; the upstream's FIN ends the tunnel once
 * its bytes are written; an error on either side ends it at once.
 *
 * One exchange: most requests that reach the upstream (admin calls, health,
 * metrics) have ends both sides can tell, so the tunnel carries that one
 * exchange only, and the connection is parsed again after it: an /invoke
 * that follows on the same keep-alive connection is the data plane's, not a
 * second hop through the upstream. That needs a request that keeps the
 * connection, with no body or a Content-Length one, no Upgrade and no
 * Expect, and an answer whose head says where it ends (hop_resp.c's parser:
 * a Content-Length, and no close). Pipelined requests behind it wait in the
 * input buffer, unparsed. Anything else (chunked either way, an upgrade, a
 * HEAD, an answer with no length) keeps the tunnel for the connection's
 * life, as before.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hop_resp.h"
#include "http_head.h"
#include "http_internal.h"

/* The upstream-to-client buffer. */
#define TUNNEL_BUF (64u * 1024)

static int unavailable(struct conn *c, int err)
{
	char msg[160];

	up_close(c);
	snprintf(msg, sizeof(msg), "cannot reach the upstream: %s", strerror(err));
	conn_fail(c, 502, "upstream_unavailable", msg, "");
	return 1;
}

/* Sets up a tunnel for this request's exchange only, if its end is known. */
static void one_exchange(struct conn *c, int done)
{
	const struct sure_http_req *r = &c->p.req;
	const struct sure_head *h = (const struct sure_head *)c->head;
	uint32_t len;

	c->tx = 0;
	if (!r->keep_alive || r->expect_continue || r->chunked || (!done && !r->has_length) ||
	    h->magic != SURE_HEAD_MAGIC || h->method == SURE_METHOD_HEAD ||
	    sure_http_head_get(c->head, "upgrade", &len))
		return;
	c->tx = 1;
	c->tx_framed = 0;
	c->tx_req_left = (uint64_t)(c->in_pos - c->req_start) + (done ? 0 : r->content_length);
	c->tx_resp_got = c->tx_resp_total = 0;
	c->tx_resp_off = c->out_len;
}

/* fd, or zs (fd -1), is c's upstream side now (connecting: its connect is
 * in progress). */
static int attach_side(struct conn *c, int fd, struct zs_sock *zs, int connecting)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = &c->uev };

	if (zs) {
		zs_sock_bind(zs, c->srv->zs_node_event, c); /* its first event says it is ready */
	} else if (epoll_ctl(c->srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	c->ufd = fd;
	c->uzs = zs;
	c->uconnecting = (uint8_t)connecting;
	c->urd = c->uwr = 0;
	c->ueof = c->ushut = 0;
	c->state = CS_TUNNEL;
	return 0;
}

/* Connects c's upstream side to addr, nonblocking: 0 or -errno. */
static int open_side(struct conn *c, const struct sockaddr *addr, socklen_t len)
{
	int fd, rc, one = 1;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr->sa_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A unix socket connects at once, or fails (EAGAIN: its backlog is
	 * full); TCP says EINPROGRESS, and tunnel_pump() learns the rest. */
	rc = connect(fd, addr, len);
	if (rc < 0 && errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		return -err;
	}
	return attach_side(c, fd, NULL, rc < 0);
}

/* Whether c's side to the node is the Z-stack's: when the server runs on
 * it and the node's address is a Z-stack's too. */
static int node_on_stack(const struct conn *c)
{
	return c->srv->cfg.zs && c->fw.zstack;
}

/* Connects c's other side to another node: from the Z-stack, or kernel TCP. */
static int open_node(struct conn *c)
{
	struct zs_sock *zs;
	int rc;

	if (!node_on_stack(c))
		return open_side(c, (const struct sockaddr *)&c->fw.addr, sizeof(c->fw.addr));
	rc = zs_connect(c->srv->cfg.zs, &c->fw.addr, c->srv->zs_node_event, c, &zs);
	return rc < 0 ? rc : attach_side(c, -1, zs, 1);
}

int tunnel_start(struct conn *c, int done)
{
	struct sure_http_server *s = c->srv;
	int rc;

	c->fw_on = c->fw_again = 0;
	if (!s->up_len)
		return unavailable(c, ENOENT);
	if (conn_out_reserve(c, TUNNEL_BUF) < 0)
		return unavailable(c, ENOMEM);
	rc = open_side(c, (const struct sockaddr *)&s->up_addr, s->up_len);
	if (rc < 0)
		return unavailable(c, -rc);
	one_exchange(c, done);
	/* Tunnels may be long (streams, websockets): only a stop ends them. */
	conn_set_deadline(c, DL_NONE, 0);
	STAT_ADD(s, tunnelled, 1);
	return 1;
}

/* The node refused the connection before a byte went: the upstream (the
 * Hono app) decides, as for any request the owner did not take. */
static int node_refused(struct conn *c)
{
	STAT_ADD(c->srv, forwards_refused, 1);
	up_close(c);
	return tunnel_start(c, c->fw_done);
}

/* Whether the request's end is known from its head (no chunked body, no
 * 100-continue, no upgrade, not HEAD, whose answer has a length and no
 * body): only such a request goes to another node, and nothing past it. */
static int ends_known(const struct conn *c)
{
	const struct sure_http_req *r = &c->p.req;
	const struct sure_head *h = (const struct sure_head *)c->head;
	uint32_t len;

	return !r->chunked && !r->expect_continue && h->magic == SURE_HEAD_MAGIC &&
	       h->method != SURE_METHOD_HEAD && !sure_http_head_get(c->head, "upgrade", &len);
}

int tunnel_start_node(struct conn *c, int done, const struct sure_http_forward *fw)
{
	struct sure_http_server *s = c->srv;
	int rc;

	if (!ends_known(c))
		return tunnel_start(c, done); /* the Hono app forwards those */
	c->fw = *fw;
	c->fw.node[sizeof(c->fw.node) - 1] = c->fw.name[sizeof(c->fw.name) - 1] = 0;
	c->fw.mark[sizeof(c->fw.mark) - 1] = 0;
	c->fw_on = 1;
	c->fw_done = (uint8_t)done;
	STAT_ADD(s, forwarded, 1);
	if (conn_out_reserve(c, TUNNEL_BUF) < 0) {
		c->fw_on = 0;
		return unavailable(c, ENOMEM);
	}
	/* A connection an earlier exchange with that node left open, else a new one. */
	struct fwd_idle idle;
	int kept = fwd_idle_take(s, &c->fw.addr, node_on_stack(c), &idle);
	if (kept) {
		rc = attach_side(c, idle.fd, idle.zs, 0);
	} else {
		STAT_ADD(s, forward_connects, 1);
		rc = open_node(c);
	}
	if (rc == -ECONNREFUSED)
		return node_refused(c);
	if (rc < 0) {
		c->state = CS_TUNNEL;
		return fwd_broken(c, strerror(-rc));
	}
	if (c->fw.drop_auth) {
		fwd_drop_field(c, "authorization"); /* this node's token: it stays here */
		/* The mark signs it; a client's own would come first, and be read. */
		fwd_drop_field(c, "x-sure-forward-mac");
	}
	/* [req_start, in_pos) is the raw head. On a kept connection, a request
	 * that is all here already is kept here until the node answers: the
	 * node may have let that connection go just as it was taken. */
	c->fw_start = c->req_start;
	c->fw_head = c->in_pos - c->req_start;
	c->fw_again = kept && (uint64_t)(c->in_end - c->req_start) >=
				      c->fw_head + (done ? 0 : c->p.req.content_length);
	one_exchange(c, done);
	fwd_begin(c);
	conn_set_deadline(c, DL_FORWARD, MS(fw->timeout_ms));
	return 1;
}

/* The node closed the kept connection c->fw_again says the request went
 * on, before answering: it let that connection go idle as it was taken, so
 * it never took this request (chain hops, dp_hop.c, do the same). The
 * request again, from its first byte, on a new connection, once. 1: on its
 * way (or the node refused it: to the upstream); 0: it cannot be. */
static int resend(struct conn *c)
{
	int rc;

	if (!c->fw_again || c->fw_heard)
		return 0;
	/* Once: a node that closes a new connection too has failed. */
	c->fw_again = 0;
	up_close(c);
	c->req_start = c->fw_start;
	c->in_pos = c->fw_start + c->fw_head;
	STAT_ADD(c->srv, forward_connects, 1);
	rc = open_node(c);
	/* A request whose Authorization was cut is no longer the upstream's to
	 * judge: a refusal now fails it (the node is going away). */
	if (rc == -ECONNREFUSED && !c->fw.drop_auth)
		return node_refused(c);
	if (rc < 0)
		return 0;
	one_exchange(c, c->fw_done);
	fwd_begin(c);
	return 1;
}

/* A node's exchange failed (why): sent again if it can be, else its 502
 * (or cut, once answering). */
static int node_broken(struct conn *c, const char *why)
{
	if (resend(c))
		return !c->closed; /* drive on */
	return fwd_broken(c, why);
}

/* A send or recv on the other side failed: a node's exchange may still get
 * its 502; anything else just closes. */
static int broken(struct conn *c, int err)
{
	if (c->fw_on)
		return node_broken(c, strerror(err));
	conn_close(c);
	return 0;
}

/* Client to upstream: what is buffered, then more from the client. */
static int to_upstream(struct conn *c)
{
	int prog = 0, eof;

	if (c->req_start < c->in_end && c->uwr && (!c->tx || c->tx_req_left)) {
		size_t len = c->in_end - c->req_start;
		if (c->tx && len > c->tx_req_left)
			len = (size_t)c->tx_req_left; /* what follows is the next request */
		len = fwd_clip(c, len);
		ssize_t n = len ? up_send(c, c->in + c->req_start, len) : 0;
		if (n < 0 && errno != EINTR) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return broken(c, errno);
			c->uwr = 0;
		} else if (n >= 0) {
			c->req_start += (uint32_t)n;
			if (c->tx)
				c->tx_req_left -= (uint64_t)n;
			if (c->req_start == c->in_end && !c->fw_again)
				c->req_start = c->in_end = 0;
			prog = n > 0;
			int m = fwd_sent(c, (size_t)n); /* the mark, when it is its turn */
			if (m < 0)
				return broken(c, -m);
			prog |= m;
		}
	}
	/* Nothing is parsed here; in one exchange, what follows its request
	 * is parsed after it. */
	c->in_pos = c->tx ? c->req_start : c->in_end;
	prog |= conn_recv_in(c, &eof);
	if (c->closed)
		return 0;
	if (c->eof)
		c->tx = 0; /* the client is done: the tunnel ends as it always did */
	if (c->eof && c->req_start == c->in_end && !c->ushut) {
		if (c->uzs)
			zs_shutdown_wr(c->uzs);
		else
			shutdown(c->ufd, SHUT_WR);
		c->ushut = 1;
		prog = 1;
	}
	return prog;
}

/* n more bytes of the answer arrived (at the end of out): its end, once its
 * head says it. An answer whose end cannot be told keeps the tunnel. */
static void answer_framing(struct conn *c, uint64_t n)
{
	struct sure_hop_resp r;

	c->tx_resp_got += n;
	if (!c->tx_framed) {
		int rc = sure_hop_resp_parse(c->out + c->tx_resp_off, c->out_len - c->tx_resp_off, &r,
					     NULL, NULL, 0);
		if (rc == 0 && c->out_len < c->out_cap)
			return; /* the rest of the head is still to come */
		if (rc <= 0 || !r.keep_alive) {
			c->tx = 0;
			return;
		}
		c->tx_framed = 1;
		c->tx_resp_total = r.head_len;
		if (r.status != 204 && r.status != 304)
			c->tx_resp_total += r.content_length;
	}
	if (c->tx_resp_got > c->tx_resp_total)
		c->tx = 0; /* more than it announced: not one exchange after all */
}

/* The exchange is over both ways, and its answer written: the upstream
 * connection goes, and the client's is parsed again. */
static int exchange_done(struct conn *c)
{
	if (!c->tx || !c->tx_framed || c->tx_req_left || c->tx_resp_got != c->tx_resp_total ||
	    c->out_off != c->out_len)
		return 0;
	if (!fwd_idle_put(c)) /* a node's connection may carry the next forward */
		up_close(c);
	c->tx = 0;
	c->fw_on = c->fw_again = 0;
	c->out_off = c->out_len = 0;
	c->in_pos = c->req_start;
	conn_answered(c);
	return 1;
}

/* Upstream to client: more from the upstream, then to the client. */
static int to_client(struct conn *c)
{
	int prog = 0;

	if (c->out_off == c->out_len && !(c->tx && !c->tx_framed))
		c->out_off = c->out_len = c->tx_resp_off = 0;
	/* In one exchange, nothing is read past its answer (not even the
	 * upstream's FIN): the exchange is over, the upstream connection goes. */
	int whole = c->tx && c->tx_framed && c->tx_resp_got == c->tx_resp_total;
	size_t keep = fwd_room(c);
	if (!c->ueof && c->urd && c->out_len + keep < c->out_cap && !whole) {
		ssize_t n = up_recv(c, c->out + c->out_len, c->out_cap - c->out_len - keep);
		if (n > 0) {
			c->out_len += (size_t)n;
			n += (ssize_t)fwd_heard(c); /* x-sure-node, once the status line is in */
			if (c->tx)
				answer_framing(c, (uint64_t)n);
			prog = 1;
		} else if (n == 0) {
			c->ueof = 1;
			prog = 1;
			if (c->fw_on && !c->fw_heard)
				return node_broken(c, "it closed the connection without answering");
			c->fw_line = 0; /* what there is goes as it is */
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->urd = 0;
		} else if (errno != EINTR) {
			return broken(c, errno);
		}
	}
	/* An answer's head is held until it is read (and marked). */
	if (!(c->tx && !c->tx_framed) && !fwd_holding(c))
		prog |= conn_flush(c);
	if (c->closed)
		return 0;
	if (c->ueof && c->tx && !c->tx_framed) {
		c->tx = 0; /* ended before its head did: pass on what there is */
		return 1;
	}
	if (c->ueof && c->out_off == c->out_len) {
		conn_close(c); /* the upstream is done and all it said is written */
		return 0;
	}
	return prog;
}

int tunnel_pump(struct conn *c)
{
	int prog = 0;

	if (c->uconnecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (c->uzs) {
			int st = zs_sock_state(c->uzs);
			if (st == 1)
				return 0;
			err = st < 0 ? -st : 0;
		} else if (!c->uwr) {
			return 0;
		} else if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
			err = errno;
		}
		if (err && c->fw_on)
			return err == ECONNREFUSED ? node_refused(c) : fwd_broken(c, strerror(err));
		if (err)
			return unavailable(c, err); /* nothing was relayed yet */
		c->uconnecting = 0;
		prog = 1;
	}
	prog |= to_upstream(c);
	if (c->closed)
		return 0;
	prog |= to_client(c);
	if (c->closed)
		return 0;
	return exchange_done(c) | prog;
}
