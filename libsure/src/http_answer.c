/*
 * http_answer.c - writing answers (http_server.h: sure_http_answer*): the
 * status line and headers built in the server's scratch buffer, then one
 * sendmsg of head and body straight from where the body lies; what the
 * socket does not take is copied into the connection's output buffer, so the
 * caller's memory is free again when the call returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http_internal.h"

/* Longest message of an error answer (bytes before escaping) and extra. */
#define MESSAGE_MAX 512u
#define EXTRA_MAX 512u

/* A bounded string builder: over is set instead of writing past cap. */
struct abuf {
	char *b;
	size_t cap, len;
	int over;
};

static void put(struct abuf *a, const char *s, size_t n)
{
	if (a->over || n > a->cap - a->len) {
		a->over = 1;
		return;
	}
	memcpy(a->b + a->len, s, n);
	a->len += n;
}

static void puts_(struct abuf *a, const char *s)
{
	put(a, s, strlen(s));
}

/* v in decimal: every answer's status and length, without printf's cost. */
static void put_u64(struct abuf *a, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(a, d + i, sizeof(d) - i);
}

/* A header line "name: value\r\n" (name with its ": "). */
static void put_field(struct abuf *a, const char *name_colon, const char *value)
{
	puts_(a, name_colon);
	puts_(a, value);
	put(a, "\r\n", 2);
}

static void __attribute__((format(printf, 2, 3))) putf(struct abuf *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(a->b + a->len, a->cap - a->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= a->cap - a->len)
		a->over = 1;
	else
		a->len += (size_t)n;
}

/* s as the inside of a JSON string: quotes, backslashes and control bytes
 * escaped; other bytes (UTF-8) as they are. */
static void put_json(struct abuf *a, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)s[i];
		if (ch == '"' || ch == '\\') {
			char e[2] = { '\\', (char)ch };
			put(a, e, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			putf(a, "\\u%04x", ch);
		} else {
			put(a, (const char *)&ch, 1);
		}
	}
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Field i's name or value in a response block: inside it, past its table. */
static int resp_str(const uint8_t *blk, uint32_t tend, struct sure_str s, const char **out)
{
	if (s.off < tend || s.off >= SURE_RESP_HEAD_CAP || s.len >= SURE_RESP_HEAD_CAP - s.off)
		return -EINVAL;
	*out = (const char *)blk + s.off;
	return 0;
}

/* The function's headers (a block the owner checked; bounds checked again
 * because a bad one must not make us read outside it). Sets *has_ctype. */
static int put_resp_fields(struct abuf *a, const uint8_t *blk, int *has_ctype)
{
	const struct sure_head *h = (const struct sure_head *)blk;
	uint32_t n = h->nfields, tend;

	if (n == 0)
		return 0;
	tend = (uint32_t)sizeof(*h) + n * (uint32_t)sizeof(h->field[0]);
	if (h->magic != SURE_HEAD_MAGIC || n > SURE_HEAD_MAX_FIELDS || tend > SURE_RESP_HEAD_CAP)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		const struct sure_head_field *f = &h->field[i];
		const char *name, *value;
		if (resp_str(blk, tend, f->name, &name) < 0 || resp_str(blk, tend, f->value, &value) < 0)
			return -EINVAL;
		/* The id is the node's to answer with: never twice. */
		if (f->name.len == 12 && strncasecmp(name, "x-request-id", 12) == 0)
			continue;
		if (f->name.len == 12 && strncasecmp(name, "content-type", 12) == 0)
			*has_ctype = 1;
		put(a, name, f->name.len);
		put(a, ": ", 2);
		put(a, value, f->value.len);
		put(a, "\r\n", 2);
	}
	return 0;
}

static int is_head_request(const struct conn *c)
{
	const struct sure_head *h = (const struct sure_head *)c->head;

	return h->magic == SURE_HEAD_MAGIC && h->method == SURE_METHOD_HEAD;
}

/* Builds the head into srv->hbuf; *blen becomes the body bytes to send. */
static int build_head(struct conn *c, int status, const uint8_t *resp_head, const char *ctype,
		      const char *id, int closing, uint64_t *blen, size_t *hlen)
{
	struct sure_http_server *s = c->srv;
	struct abuf a = { s->hbuf, sizeof(s->hbuf), 0, 0 };
	int has_ctype = 0;
	/* RFC 9110 6.4.1: these never have content (HEAD: its length is said). */
	int no_content = status == 204 || status == 304;

	/* Built with put, not printf: this runs for every answer (status is
	 * 100-599, checked by the callers). */
	puts_(&a, "HTTP/1.1 ");
	put_u64(&a, (uint64_t)status);
	put(&a, " ", 1);
	put_field(&a, "", reason_of(status));
	if (resp_head && put_resp_fields(&a, resp_head, &has_ctype) < 0)
		return -EINVAL;
	if (!no_content) {
		if (ctype)
			put_field(&a, "content-type: ", ctype);
		else if (!has_ctype)
			puts_(&a, "content-type: application/octet-stream\r\n");
		puts_(&a, "content-length: ");
		put_u64(&a, status == 205 ? 0 : *blen);
		put(&a, "\r\n", 2);
	}
	if (id && id[0])
		put_field(&a, "x-request-id: ", id);
	if (closing)
		puts_(&a, "connection: close\r\n");
	else if (c->p.req.minor == 0)
		puts_(&a, "connection: keep-alive\r\n"); /* else HTTP/1.0 assumes close */
	puts_(&a, "\r\n");
	if (a.over)
		return -EINVAL;
	if (no_content || status == 205 || is_head_request(c))
		*blen = 0;
	*hlen = a.len;
	return 0;
}

int answer_send(struct conn *c, const char *head, size_t hlen, const uint8_t *body, size_t blen)
{
	struct sure_http_server *s = c->srv;
	size_t sent = 0;

	if (c->out_off == c->out_len && c->wr) {
		struct iovec iov[2] = { { (void *)head, hlen }, { (void *)body, blen } };
		ssize_t n;
		do
			n = sock_sendv(c->zs, c->fd, iov, blen ? 2 : 1);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(c); /* the client is gone: nobody to answer */
			return -EPIPE;
		}
		if (n < 0)
			c->wr = 0;
		else
			sent = (size_t)n;
		STAT_ADD(s, bytes_out, sent);
	}
	size_t hrest = sent < hlen ? hlen - sent : 0;
	size_t bdone = sent > hlen ? sent - hlen : 0;
	if (hrest + (blen - bdone) == 0)
		return 0;
	if (conn_out_reserve(c, hrest + (blen - bdone)) < 0) {
		conn_close(c);
		return -ENOMEM;
	}
	memcpy(c->out + c->out_len, head + (hlen - hrest), hrest);
	c->out_len += hrest;
	if (blen > bdone) {
		memcpy(c->out + c->out_len, body + bdone, blen - bdone);
		c->out_len += blen - bdone;
		STAT_ADD(s, copied_out, blen - bdone);
	}
	return 0;
}

/* Head, state and send: the common end of every answer. */
static int answer(struct conn *c, int status, const uint8_t *resp_head, const char *ctype,
		  const char *id, int closing, const uint8_t *body, uint64_t len)
{
	struct sure_http_server *s = c->srv;
	size_t hlen = 0;

	if (len > SIZE_MAX / 2 || build_head(c, status, resp_head, ctype, id, closing, &len, &hlen) < 0)
		return -EINVAL;
	/* Answered: a send error below closes without cancelling it. */
	c->taken = 0;
	c->state = CS_WRITE;
	c->close_after = (uint8_t)closing;
	conn_set_deadline(c, DL_WRITE, s->write_ns);
	answer_send(c, s->hbuf, hlen, body, (size_t)len);
	return 0;
}

static int answer_ex(struct sure_http_exchange *ex, int status, const uint8_t *resp_head,
		     const char *ctype, const uint8_t *body, uint64_t len)
{
	struct conn *c;
	const char *id;
	int rc;

	if (!ex || !ex->srv || status < 200 || status > 599 || (len && !body))
		return -EINVAL;
	c = container_of(ex, struct conn, ex);
	/* Only an exchange that run() handed out and nobody answered or cancelled. */
	if (c->srv != ex->srv || c->closed || c->state != CS_RUN || !c->taken)
		return -EINVAL;
	id = ex->request_id && ex->request_id[0] ? ex->request_id
						  : ex->req->id_len ? ex->req->request_id : NULL;
	rc = answer(c, status, resp_head, ctype, id, !ex->req->keep_alive || c->srv->draining, body,
		    len);
	if (rc < 0)
		return rc;
	STAT_ADD(c->srv, requests, 1);
	/* The rest (more to write, the next pipelined request) goes on from the
	 * loop, so that run() is never called from inside an answer. */
	if (!c->busy && !c->closed)
		conn_again(c);
	return 0;
}

int sure_http_answer(struct sure_http_exchange *ex, int status, const uint8_t *resp_head,
		     const uint8_t *body, uint64_t len)
{
	return answer_ex(ex, status, resp_head, NULL, body, len);
}

/* {"error":"<code>","message":"<message>"<extra>} into buf. */
static int json_error(char *buf, size_t cap, const char *code, const char *message,
		      const char *extra, size_t *len)
{
	struct abuf a = { buf, cap, 0, 0 };
	size_t mlen = message ? strnlen(message, MESSAGE_MAX + 1) : 0;

	if (!code || (extra && strnlen(extra, EXTRA_MAX + 1) > EXTRA_MAX))
		return -EINVAL;
	if (mlen > MESSAGE_MAX) {
		mlen = MESSAGE_MAX;
		/* Cut before a UTF-8 sequence, not inside it. */
		while (mlen > 0 && ((uint8_t)message[mlen] & 0xc0) == 0x80)
			mlen--;
	}
	puts_(&a, "{\"error\":\"");
	put_json(&a, code, strnlen(code, 64));
	puts_(&a, "\",\"message\":\"");
	put_json(&a, message ? message : "", mlen);
	puts_(&a, "\"");
	if (extra)
		puts_(&a, extra);
	puts_(&a, "}");
	if (a.over)
		return -EINVAL;
	*len = a.len;
	return 0;
}

int sure_http_answer_error(struct sure_http_exchange *ex, int status, const char *code,
			   const char *message, const char *extra)
{
	char body[64 * 6 + MESSAGE_MAX * 6 + EXTRA_MAX + 64];
	size_t len = 0;

	if (json_error(body, sizeof(body), code, message, extra, &len) < 0)
		return -EINVAL;
	return answer_ex(ex, status, NULL, "application/json", (const uint8_t *)body, len);
}

void conn_fail(struct conn *c, int status, const char *code, const char *message,
	       const char *extra)
{
	char body[64 * 6 + MESSAGE_MAX * 6 + EXTRA_MAX + 64];
	size_t len = 0;

	conn_cancel(c);
	if (json_error(body, sizeof(body), code, message, extra, &len) < 0 ||
	    answer(c, status, NULL, "application/json",
		   c->p.req.id_len ? c->p.req.request_id : NULL, 1, (const uint8_t *)body, len) < 0)
		conn_close(c);
}
