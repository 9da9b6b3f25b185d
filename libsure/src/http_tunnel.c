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

	if (c->ufd >= 0) {
		close(c->ufd);
		c->ufd = -1;
	}
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

int tunnel_start(struct conn *c, int done)
{
	struct sure_http_server *s = c->srv;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = &c->uev };
	int fd, rc;

	if (!s->up_len)
		return unavailable(c, ENOENT);
	if (conn_out_reserve(c, TUNNEL_BUF) < 0)
		return unavailable(c, ENOMEM);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return unavailable(c, errno);
	/* A unix socket connects at once, or fails (EAGAIN: its backlog is full). */
	rc = connect(fd, (const struct sockaddr *)&s->up_addr, s->up_len);
	if (rc < 0 && errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		return unavailable(c, err);
	}
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		close(fd);
		return unavailable(c, err);
	}
	c->ufd = fd;
	c->uconnecting = rc < 0;
	c->urd = c->uwr = 0;
	c->ueof = c->ushut = 0;
	c->state = CS_TUNNEL;
	one_exchange(c, done);
	/* Tunnels may be long (streams, websockets): only a stop ends them. */
	conn_set_deadline(c, DL_NONE, 0);
	STAT_ADD(s, tunnelled, 1);
	return 1;
}

/* Client to upstream: what is buffered, then more from the client. */
static int to_upstream(struct conn *c)
{
	int prog = 0, eof;

	if (c->req_start < c->in_end && c->uwr && (!c->tx || c->tx_req_left)) {
		size_t len = c->in_end - c->req_start;
		if (c->tx && len > c->tx_req_left)
			len = (size_t)c->tx_req_left; /* what follows is the next request */
		ssize_t n = send(c->ufd, c->in + c->req_start, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EINTR) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_close(c);
				return 0;
			}
			c->uwr = 0;
		} else if (n > 0) {
			c->req_start += (uint32_t)n;
			if (c->tx)
				c->tx_req_left -= (uint64_t)n;
			if (c->req_start == c->in_end)
				c->req_start = c->in_end = 0;
			prog = 1;
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
	close(c->ufd);
	c->ufd = -1;
	c->tx = 0;
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
	if (!c->ueof && c->urd && c->out_len < c->out_cap && !whole) {
		ssize_t n = recv(c->ufd, c->out + c->out_len, c->out_cap - c->out_len, MSG_DONTWAIT);
		if (n > 0) {
			c->out_len += (size_t)n;
			if (c->tx)
				answer_framing(c, (uint64_t)n);
			prog = 1;
		} else if (n == 0) {
			c->ueof = 1;
			prog = 1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->urd = 0;
		} else if (errno != EINTR) {
			conn_close(c);
			return 0;
		}
	}
	if (!(c->tx && !c->tx_framed)) /* an answer's head is held until it is read */
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
		if (!c->uwr)
			return 0;
		if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
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
