/*
 * http_conn.c - one client connection of the HTTP server (http_conn.h):
 * reading and parsing requests, handing /invoke requests to the owner,
 * writing what is queued, keep-alive, timeouts and closing.
 *
 * At most one exchange per connection is in progress: while the owner runs
 * a request or its answer is being written, later bytes are only buffered
 * (that is how a client's close is seen), never parsed. So answers go out in
 * request order with no queue of them, and the head block, the body buffer
 * and the parser stay the exchange's until it is answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_conn.h"

/* Rounds of conn_drive before others get a turn (it continues next round). */
#define DRIVE_ROUNDS 64
/* Largest recv() straight into a body buffer. */
#define BODY_RECV_MAX (1u << 20)
/* Connections kept for reuse, and buffers kept by a connection between requests. */
#define POOL_MAX 64u
#define KEEP_BUF_MAX (256u * 1024)
/* How long and how much a closing connection reads and drops after its last
 * answer, so that unread request bytes do not make the kernel reset the
 * connection (and lose the answer) before the client has read it. */
#define LINGER_NS (1000ull * 1000000)
#define LINGER_BYTES (1u << 20)

static const uint8_t no_body[1];

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

static void on_zs_event(void *arg, unsigned ev)
{
	struct conn *c = arg;

	if (c->closed)
		return;
	c->rd |= (ev & ZS_EV_IN) != 0;
	c->wr |= (ev & ZS_EV_OUT) != 0;
	conn_drive(c);
}

int conn_open(struct sure_http_server *s, int fd, struct zs_sock *zs,
	      const struct sockaddr_storage *addr)
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
		zs_sock_bind(zs, on_zs_event, c); /* its first event says it is ready */
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
	if (c->ufd >= 0)
		close(c->ufd);
	c->fd = c->ufd = -1;
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

void conn_again(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	if (c->on_again)
		return;
	c->on_again = 1;
	c->again_next = s->again;
	s->again = c;
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

/* Room at the end of the input buffer, dropping bytes no longer needed: the
 * raw head is kept until it is decided (a tunnel replays it). */
uint32_t conn_in_room(struct conn *c)
{
	uint32_t keep = c->req_start;

	if (c->in_end == c->in_cap && keep > 0) {
		memmove(c->in, c->in + keep, c->in_end - keep);
		c->in_end -= keep;
		c->in_pos -= keep;
		c->req_start = 0;
	}
	return c->in_cap - c->in_end;
}

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

/* recv() into the input buffer: 1 progress, 0 nothing (EAGAIN or full), and
 * *eof on the client's FIN. Closes on a reset. */
int conn_recv_in(struct conn *c, int *eof)
{
	uint32_t room;
	ssize_t n;

	if (conn_on_ring(c))
		return conn_ring_recv_in(c, eof);
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
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd = 0;
		return 0;
	}
	conn_close(c);
	return 0;
}

/* ---- requests ---- */

static int parse_error(struct conn *c)
{
	struct sure_http_server *s = c->srv;
	char extra[48] = "";
	const char *code;

	STAT_ADD(s, parse_errors, 1);
	switch (c->p.status) {
	case 408: code = "request_timeout"; break;
	case 413:
		code = "payload_too_large";
		snprintf(extra, sizeof(extra), ",\"limit\":%llu",
			 (unsigned long long)(c->taken ? c->limit : s->pcfg.max_body));
		break;
	case 414: code = "uri_too_long"; break;
	case 431: code = "request_headers_too_large"; break;
	case 501: code = "not_implemented"; break;
	case 505: code = "http_version_not_supported"; break;
	case 400: code = "bad_request"; break;
	default:
		/* -EINVAL: the server misused the parser; nothing sane to say. */
		conn_close(c);
		return 0;
	}
	conn_fail(c, c->p.status, code, c->p.reason, extra);
	return 1;
}

static int run_exchange(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	c->ex.body = c->p.body ? c->p.body : (uint8_t *)no_body;
	c->ex.body_len = c->p.req.body_len;
	c->state = CS_RUN;
	/* The owner keeps its own deadlines; ours would only race them. */
	conn_set_deadline(c, DL_NONE, 0);
	c->req_start = c->in_pos; /* what follows is the next request */
	s->cfg.ops->run(s->cfg.ctx, &c->ex);
	return 1;
}

/* Where a taken request's body lands: the owner's buffer, or ours sized to
 * the Content-Length (chunked: to the limit, as its size is unknown). */
static int place_body(struct conn *c, uint8_t *obody, uint64_t ocap)
{
	const struct sure_http_req *r = &c->p.req;
	int rc;

	if (obody) {
		rc = sure_http_set_body(&c->p, obody, ocap);
	} else {
		uint64_t need = r->chunked ? c->limit : r->content_length;
		if (need > c->body_cap) {
			uint8_t *b = need > SIZE_MAX ? NULL : realloc(c->body, (size_t)need);
			if (!b)
				return -ENOMEM;
			c->body = b;
			c->body_cap = need;
		}
		/* A zero limit with no buffer yet: a buffer of nothing, so that
		 * the first chunk is a 413 and not a misuse. */
		rc = sure_http_set_body(&c->p, c->body ? c->body : (uint8_t *)no_body, c->body_cap);
	}
	if (rc == 0)
		rc = sure_http_limit_body(&c->p, c->limit < c->p.body_cap ? c->limit : c->p.body_cap);
	return rc;
}

/* The head is in (done: the request too, it has no body): serve or tunnel. */
static int on_head(struct conn *c, int done)
{
	struct sure_http_server *s = c->srv;
	const struct sure_http_req *r = &c->p.req;
	uint64_t max_body = s->pcfg.max_body, ocap = 0;
	uint32_t route = 0;
	uint8_t *obody = NULL;
	int rc;

	if (!r->invoke)
		return tunnel_start(c, done);
	rc = s->cfg.ops->take(s->cfg.ctx, r, c->head, &max_body, &route, &obody, &ocap);
	if (rc <= 0)
		return tunnel_start(c, done);
	c->taken = 1;
	c->ex.srv = s;
	c->ex.req = &c->p.req;
	c->ex.head = c->head;
	c->ex.started_ns = c->first_ns;
	c->ex.route = route;
	c->ex.peer = (const struct sockaddr *)&c->addr;
	/* Until the body is placed: so that a cancel before it names the buffer. */
	c->ex.body = obody;
	c->limit = max_body < s->pcfg.max_body ? max_body : s->pcfg.max_body;
	if (obody && ocap < c->limit)
		c->limit = ocap;
	if (done) /* no body follows: a buffer the owner gave is not used */
		return run_exchange(c);
	c->req_start = c->in_pos; /* the raw head is no longer needed */
	if (r->has_length && r->content_length > c->limit) {
		/* Known too large: answered without reading the body. */
		sure_http_limit_body(&c->p, 0);
		return parse_error(c);
	}
	rc = place_body(c, obody, ocap);
	if (rc == -ENOMEM) {
		conn_fail(c, 503, "overloaded", "no memory for the request body", "");
		return 1;
	}
	if (rc < 0)
		return parse_error(c);
	if (r->expect_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (conn_out_reserve(c, sizeof(cont) - 1) < 0) {
			conn_close(c);
			return 0;
		}
		memcpy(c->out + c->out_len, cont, sizeof(cont) - 1);
		c->out_len += sizeof(cont) - 1;
	}
	conn_set_deadline(c, DL_BODY, s->body_ns);
	return 1;
}

/* Feeds the unparsed input to the parser. */
static int feed(struct conn *c)
{
	struct sure_http_server *s = c->srv;
	size_t used = 0;
	uint64_t had = c->p.req.body_len;
	int rc = sure_http_parse(&c->p, c->in + c->in_pos, c->in_end - c->in_pos, &used);

	c->in_pos += (uint32_t)used;
	/* Body bytes that were in the input buffer: the parser copied them. */
	if (c->p.req.body_len > had)
		STAT_ADD(s, copied_in, c->p.req.body_len - had);
	if (c->taken)
		c->req_start = c->in_pos; /* body bytes are in the body buffer now */
	if (!c->first_ns && !sure_http_parser_idle(&c->p)) {
		/* The head must be complete within the header timeout from here. */
		c->first_ns = s->now_ns;
		conn_set_deadline(c, DL_HEAD, s->hdr_ns);
	} else if (c->taken && used) {
		conn_set_deadline(c, DL_BODY, s->body_ns);
	}
	if (rc < 0)
		return parse_error(c);
	if (rc == SURE_HTTP_HEAD)
		return on_head(c, 0);
	if (rc == SURE_HTTP_DONE)
		return c->taken ? run_exchange(c) : on_head(c, 1);
	return 1;
}

/* recv() of a Content-Length body straight into its buffer. */
static int recv_body(struct conn *c, uint8_t *dst, size_t room)
{
	struct sure_http_server *s = c->srv;
	ssize_t n;

	if (room > BODY_RECV_MAX)
		room = BODY_RECV_MAX;
	n = sock_recv(c->zs, c->fd, dst, room);
	if (n < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->rd = 0;
			return 0;
		}
		conn_close(c);
		return 0;
	}
	if (n == 0) {
		conn_close(c); /* the client gave up mid-body */
		return 0;
	}
	STAT_ADD(s, bytes_in, n);
	conn_read_short(c, (size_t)n, room);
	conn_set_deadline(c, DL_BODY, s->body_ns);
	if (sure_http_body_commit(&c->p, (size_t)n) == SURE_HTTP_DONE)
		return run_exchange(c);
	return 1;
}

static int req_step(struct conn *c)
{
	uint8_t *dst;
	size_t room;
	int eof;

	if (c->in_pos < c->in_end)
		return feed(c);
	if (c->eof) {
		conn_close(c); /* between requests or inside one: either way done */
		return 0;
	}
	if (conn_on_ring(c)) {
		/* A recv into the input buffer is submitted or done: its bytes
		 * come first (parsed, or copied into the body by the parser). */
		if (c->rx_busy || c->rx_done)
			return conn_recv_in(c, &eof);
		if (c->taken && (room = sure_http_body_room(&c->p, &dst)) > 0) {
			if (c->rd)
				return recv_body(c, dst, room);
			c->want_in = 1; /* a poll, then the recv (http_uring.c says why) */
			return 0;
		}
		return conn_recv_in(c, &eof);
	}
	if (c->taken && c->rd && (room = sure_http_body_room(&c->p, &dst)) > 0)
		return recv_body(c, dst, room);
	return conn_recv_in(c, &eof);
}

/* While the owner runs a request or its answer is written: buffer what comes
 * (pipelined requests) and notice a client that goes away. */
static int watch_step(struct conn *c)
{
	int eof, prog = conn_recv_in(c, &eof);

	/* A FIN while the owner holds the exchange counts as the client giving
	 * up: nobody reads the answer of a client that closed (nginx's 499). */
	if (eof && c->state == CS_RUN)
		conn_close(c);
	return prog;
}

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

static int linger_step(struct conn *c)
{
	int eof, prog;

	if (c->eof) {
		conn_close(c);
		return 0;
	}
	prog = conn_recv_in(c, &eof);
	c->dropped += c->in_end;
	c->in_pos = c->in_end = 0;
	if (eof || c->dropped > LINGER_BYTES)
		conn_close(c);
	return prog;
}

static int step(struct conn *c)
{
	int prog = 0;

	if (c->state == CS_TUNNEL)
		return tunnel_pump(c);
	if (c->out_off < c->out_len)
		prog = conn_flush(c);
	if (c->closed)
		return 0;
	switch (c->state) {
	case CS_REQ:
		return req_step(c) | prog;
	case CS_RUN:
		return watch_step(c) | prog;
	case CS_WRITE:
		if (c->out_off == c->out_len) {
			conn_answered(c);
			return 1;
		}
		return watch_step(c) | prog;
	default:
		return linger_step(c) | prog;
	}
}

void conn_drive(struct conn *c)
{
	int i;

	if (c->closed || c->busy)
		return;
	c->busy++;
	for (i = 0; i < DRIVE_ROUNDS && !c->closed; i++)
		if (!step(c))
			break;
	c->busy--;
	if (!c->closed && i == DRIVE_ROUNDS)
		conn_again(c); /* more to do: after the others had their turn */
	else if (!c->closed && conn_on_ring(c))
		conn_ring_arm(c);
}

void conn_sweep(struct conn *c, uint64_t now)
{
	struct sure_http_server *s = c->srv;

	if (c->dl_kind == DL_NONE || now < c->deadline_ns)
		return;
	switch (c->dl_kind) {
	case DL_HEAD:
	case DL_BODY:
		STAT_ADD(s, timeouts, 1);
		conn_fail(c, 408, "request_timeout",
			  c->dl_kind == DL_HEAD ? "request head not received in time"
						: "request body not received in time",
			  "");
		conn_drive(c);
		break;
	case DL_WRITE:
		STAT_ADD(s, timeouts, 1);
		conn_close(c);
		break;
	default: /* DL_IDLE, DL_LINGER */
		conn_close(c);
		break;
	}
}

void conn_drain(struct conn *c)
{
	/* Idle keep-alive connections go now; the others after their answer. */
	if (c->state == CS_REQ && !c->taken && c->in_pos == c->in_end &&
	    sure_http_parser_idle(&c->p) && c->out_off == c->out_len)
		conn_close(c);
}
