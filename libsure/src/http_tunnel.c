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
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_conn.h"

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

int tunnel_start(struct conn *c)
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
	/* Tunnels may be long (streams, websockets): only a stop ends them. */
	conn_set_deadline(c, DL_NONE, 0);
	STAT_ADD(s, tunnelled, 1);
	return 1;
}

/* Client to upstream: what is buffered, then more from the client. */
static int to_upstream(struct conn *c)
{
	int prog = 0, eof;

	if (c->req_start < c->in_end && c->uwr) {
		ssize_t n = send(c->ufd, c->in + c->req_start, c->in_end - c->req_start,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EINTR) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_close(c);
				return 0;
			}
			c->uwr = 0;
		} else if (n > 0) {
			c->req_start += (uint32_t)n;
			if (c->req_start == c->in_end)
				c->req_start = c->in_end = 0;
			prog = 1;
		}
	}
	c->in_pos = c->in_end; /* nothing is parsed here */
	prog |= conn_recv_in(c, &eof);
	if (c->closed)
		return 0;
	if (c->eof && c->req_start == c->in_end && !c->ushut) {
		shutdown(c->ufd, SHUT_WR);
		c->ushut = 1;
		prog = 1;
	}
	return prog;
}

/* Upstream to client: more from the upstream, then to the client. */
static int to_client(struct conn *c)
{
	int prog = 0;

	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (!c->ueof && c->urd && c->out_len < c->out_cap) {
		ssize_t n = recv(c->ufd, c->out + c->out_len, c->out_cap - c->out_len, MSG_DONTWAIT);
		if (n > 0) {
			c->out_len += (size_t)n;
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
	prog |= conn_flush(c);
	if (c->closed)
		return 0;
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
	return to_client(c) | prog;
}
