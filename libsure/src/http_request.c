/*
 * http_request.c - a connection's requests (http_internal.h): feeding the
 * input to the parser, handing /invoke requests to the owner (or to a
 * tunnel), receiving their bodies, running them, keep-alive, lingering and
 * timeouts. conn_drive() is the connection's one entry: every event and
 * completion ends in it.
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

#include "http_internal.h"

/* Rounds of conn_drive before others get a turn (it continues next round). */
#define DRIVE_ROUNDS 64
/* Largest recv() straight into a body buffer. */
#define BODY_RECV_MAX (1u << 20)
/* How much a closing connection reads and drops after its last answer
 * (http_conn.c's conn_answered says why, and for how long). */
#define LINGER_BYTES (1u << 20)

static const uint8_t no_body[1];

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
	case 417: code = "expectation_failed"; break;
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
	if (rc <= 0) {
		struct sure_http_forward fw;
		if (s->cfg.ops->forward && s->cfg.ops->forward(s->cfg.ctx, r, c->head, &fw) > 0)
			return tunnel_start_node(c, done, &fw);
		return tunnel_start(c, done);
	}
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
	if (n < 0)
		return conn_recv_failed(c);
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
	case DL_FORWARD:
		fwd_timeout(c);
		conn_drive(c);
		break;
	default: /* DL_IDLE, DL_LINGER */
		conn_close(c);
		break;
	}
}
