/*
 * http_conn.c - one client connection of the HTTP server (http_internal.h):
 * opening it, writing what is queued, reading into its input buffer, the
 * reset between requests, closing and releasing it. What it reads is
 * parsed and served by http_request.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

/* Connections kept for reuse, and buffers kept by a connection between requests. */
#define POOL_MAX 64u
#define KEEP_BUF_MAX (256u * 1024)
/* How long a closing connection reads and drops after its last answer (and
 * how much: http_request.c's LINGER_BYTES), so that unread request bytes do
 * not make the kernel reset the connection (and lose the answer) before the
 * client has read it. */
#define LINGER_NS (1000ull * 1000000)

void conn_set_deadline(struct conn *c, int kind, uint64_t ns)
{
	c->dl_kind = kind;
	c->deadline_ns = kind == DL_NONE ? 0 : c->srv->now_ns + ns;
}

static void reset_request(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	/* A fresh parser per request: the limits and the body buffer of the
	 * last one (the owner's memory) must not carry over. */
	sure_http_parser_init(&c->p, &s->pcfg, c->head, SURE_REQ_HEAD_CAP, NULL, 0);
	/* An error before the next request line must not see the last method. */
	((struct sure_head *)c->head)->magic = 0;
	c->taken = 0;
	c->first_ns = 0;
	c->limit = 0;
	memset(&c->ex, 0, sizeof(c->ex));
}

int conn_open(struct sure_http_server *s, int fd, struct zs_sock *zs,
	      const struct sockaddr_storage *addr, struct conn **out)
{
	struct conn *c = s->pool;
	size_t in_cap = (size_t)s->pcfg.max_head + 16384;

	if (c) {
		s->pool = c->next;
		s->npool--;
	} else {
		c = malloc(sizeof(*c) + in_cap);
		if (!c)
			return -ENOMEM;
		c->out = NULL;
		c->out_cap = 0;
		c->body = NULL;
		c->body_cap = 0;
	}
	/* Everything up to the buffers, which a pooled connection keeps. */
	memset(c, 0, offsetof(struct conn, out));
	c->out_off = c->out_len = 0;
	c->cev.kind = EV_CLIENT;
	c->uev.kind = EV_UPSTREAM;
	c->srv = s;
	c->fd = fd;
	c->zs = zs;
	c->ufd = -1;
	c->addr = *addr;
	c->in_cap = (uint32_t)in_cap;
	c->state = CS_REQ;
	reset_request(c);

	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.ptr = &c->cev };
	if (zs) {
		/* The caller binds its events (http_zs.c). */
	} else if (s->ring) {
		c->wr = 1; /* a new socket takes what is sent; its recv is submitted by the caller's drive */
	} else if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;
		c->next = s->pool;
		s->pool = c;
		s->npool++;
		return rc;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	STAT_ADD(s, conns_open, 1);
	STAT_ADD(s, conns_accepted, 1);
	conn_set_deadline(c, DL_IDLE, s->idle_ns);
	*out = c;
	return 0;
}

void conn_cancel(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	if (!c->taken)
		return;
	/* Cleared first: an answer from inside cancel() is refused. */
	c->taken = 0;
	s->cfg.ops->cancel(s->cfg.ctx, &c->ex);
}

void conn_close(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	if (c->closed)
		return;
	conn_cancel(c);
	c->closed = 1;
	STAT_SUB(s, conns_open, 1); /* before the client can see the close */
	if (c->zs) {
		zs_close(c->zs);
	} else {
		if (s->ring)
			conn_ring_close(c);
		close(c->fd); /* also leaves the epoll set */
	}
	c->zs = NULL;
	up_close(c);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = s->grave;
	s->grave = c;
	s->nconns--;
}

void conn_release(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	/* Big buffers go; the connection itself is kept for the next accept. */
	if (c->out_cap > KEEP_BUF_MAX) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (c->body_cap > KEEP_BUF_MAX) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	if (s->npool < POOL_MAX && !s->draining) {
		c->next = s->pool;
		s->pool = c;
		s->npool++;
		return;
	}
	free(c->out);
	free(c->body);
	free(c);
}

/* ---- output ---- */

int conn_out_reserve(struct conn *c, size_t n)
{
	size_t live = c->out_len - c->out_off;

	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len >= n)
		return 0;
	if (c->out_off && c->out_cap - live >= n) {
		memmove(c->out, c->out + c->out_off, live);
		c->out_off = 0;
		c->out_len = live;
		return 0;
	}
	if (n > SIZE_MAX / 2 - c->out_len)
		return -ENOMEM;
	size_t cap = c->out_cap * 2 > c->out_len + n ? c->out_cap * 2 : c->out_len + n;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/* Sends what is queued: 1 if anything went, 0 if not (closing on errors). */
int conn_flush(struct conn *c)
{
	struct sure_http_server *s = c->srv;
	int prog = 0;

	while (c->out_off < c->out_len && c->wr) {
		struct iovec iov = { c->out + c->out_off, c->out_len - c->out_off };
		ssize_t n = sock_sendv(c->zs, c->fd, &iov, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->wr = 0;
				break;
			}
			conn_close(c);
			return 0;
		}
		c->out_off += (size_t)n;
		STAT_ADD(s, bytes_out, n);
		prog = 1;
	}
	if (prog && c->dl_kind == DL_WRITE)
		conn_set_deadline(c, DL_WRITE, s->write_ns); /* a slow reader that reads is fine */
	if (c->out_off == c->out_len && c->state != CS_TUNNEL) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > KEEP_BUF_MAX) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	}
	return prog;
}

/* ---- input ---- */

void conn_read_short(struct conn *c, size_t got, size_t room)
{
	/* TCP's recv copies everything queued up to room (it takes in the
	 * socket's backlog first), so fewer bytes mean none were left; bytes
	 * that come later raise a new edge (EPOLLET). That saves the recv that
	 * would only say EAGAIN: one syscall of three per request (nginx does
	 * the same with EPOLLRDHUP). Not once the kernel reported the end: the
	 * FIN then has no edge of its own to come, so reads go on until recv
	 * returns 0. Z-stack sockets keep the plain rule. */
	if (got < room && !c->zs && !c->hup)
		c->rd = 0;
}

int conn_recv_in(struct conn *c, int *eof)
{
	uint32_t room;
	ssize_t n;

	if (conn_on_ring(c)) {
		int rc = conn_ring_recv_in(c, eof);
		if (rc < 0)
			conn_close(c);
		return rc < 0 ? 0 : rc;
	}
	*eof = 0;
	if (!c->rd || c->eof)
		return 0;
	room = conn_in_room(c);
	if (room == 0)
		return 0; /* backpressure: the kernel's buffer and TCP's window fill */
	n = sock_recv(c->zs, c->fd, c->in + c->in_end, room);
	if (n > 0) {
		c->in_end += (uint32_t)n;
		STAT_ADD(c->srv, bytes_in, n);
		conn_read_short(c, (size_t)n, room);
		return 1;
	}
	if (n == 0) {
		c->eof = 1;
		*eof = 1;
		return 1;
	}
	return conn_recv_failed(c);
}

int conn_recv_failed(struct conn *c)
{
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd = 0;
		return 0;
	}
	conn_close(c);
	return 0;
}

/* ---- between requests ---- */

void conn_answered(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	if (c->close_after || s->draining) {
		if (c->zs)
			zs_shutdown_wr(c->zs);
		else
			shutdown(c->fd, SHUT_WR);
		c->state = CS_LINGER;
		c->req_start = c->in_pos = c->in_end = 0;
		conn_set_deadline(c, DL_LINGER, LINGER_NS);
		return;
	}
	if (c->body_cap > KEEP_BUF_MAX) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	reset_request(c);
	c->req_start = c->in_pos;
	if (c->in_pos == c->in_end)
		c->req_start = c->in_pos = c->in_end = 0;
	c->state = CS_REQ;
	conn_set_deadline(c, DL_IDLE, s->idle_ns);
}

void conn_drain(struct conn *c)
{
	/* Idle keep-alive connections go now; the others after their answer. */
	if (c->state == CS_REQ && !c->taken && c->in_pos == c->in_end &&
	    sure_http_parser_idle(&c->p) && c->out_off == c->out_len)
		conn_close(c);
}
