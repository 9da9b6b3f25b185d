/*
 * http_parse.h - internal: the incremental HTTP/1.1 request parser of
 * libsure's HTTP ingress (http_parse.c). No sockets here: the server feeds
 * it whatever recv() returned, in pieces of any size, and it never
 * allocates. It writes the request head straight into a caller's head block
 * (struct sure_head, sure_http_abi.h) and the decoded body into a caller's
 * body buffer, so the server can point both at the request's own memory.
 *
 * Use, per connection:
 *   sure_http_parser_init(&p, &cfg, head, head_cap, body, body_cap);
 *   loop: rc = sure_http_parse(&p, buf + off, len - off, &used); off += used;
 *     SURE_HTTP_MORE  everything was taken: recv() more
 *     SURE_HTTP_HEAD  the head is complete and a body follows: look at p.req
 *                     (route, Expect: 100-continue, maybe sure_http_limit_body)
 *                     and call again with the rest
 *     SURE_HTTP_DONE  the request (head and body) is complete; the bytes after
 *                     it belong to the next request (pipelining): answer,
 *                     then sure_http_parser_next(&p) and go on with them
 *     < 0             malformed: answer p.status / p.reason, then close
 * A request without a body goes straight to SURE_HTTP_DONE.
 *
 * Lines end in CR LF only: a bare LF is not tolerated (400), nor a bare CR;
 * http_parse.c says why (request smuggling) and lists what else is refused.
 */
#ifndef SURE_HTTP_PARSE_H
#define SURE_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "sure_http_abi.h"

/* Longest line the parser keeps (request line or field line, CR LF
 * included): a request line over it is answered 414, a field line 431. */
#define SURE_HTTP_LINE_MAX 8192u
/* Longest chunk-size line (size and ignored extensions, CR LF included): 400. */
#define SURE_HTTP_CHUNK_LINE_MAX 1024u
/* Longest x-request-id the node takes from a caller (runtime/middleware/request_id.ts). */
#define SURE_HTTP_ID_MAX 128u
/* Longest function name: [a-z][a-z0-9-]{0,62}. */
#define SURE_HTTP_NAME_MAX 63u
/* Default raw head limit (request line, fields, CR LFs, blank lines before it). */
#define SURE_HTTP_HEAD_MAX_DEFAULT 32768u

enum sure_http_event {
	SURE_HTTP_MORE = 0,
	SURE_HTTP_HEAD = 1,
	SURE_HTTP_DONE = 2,
};

struct sure_http_config {
	uint32_t max_head; /* raw head bytes; 0: SURE_HTTP_HEAD_MAX_DEFAULT; over -> 431 */
	uint64_t max_body; /* decoded body bytes (<= the body buffer); over -> 413 */
};

/* What the head said; valid from SURE_HTTP_HEAD (or DONE) on. The method,
 * path, query and headers themselves are in the head block. */
struct sure_http_req {
	uint8_t minor; /* HTTP/1.<minor>: 0 or 1 */
	uint8_t keep_alive; /* the connection may carry another request */
	uint8_t expect_continue; /* Expect: 100-continue (HTTP/1.1 only) */
	uint8_t chunked; /* Transfer-Encoding: chunked */
	uint8_t has_length; /* Content-Length given */
	uint8_t invoke; /* /invoke/<name>[/...]: name set, head path below it */
	uint8_t name_len;
	uint8_t id_len; /* 0: no x-request-id, several, or not sane */
	uint32_t head_bytes; /* raw bytes of the head */
	uint64_t content_length;
	uint64_t body_len; /* decoded body bytes in the body buffer so far */
	char name[SURE_HTTP_NAME_MAX + 1];
	char request_id[SURE_HTTP_ID_MAX + 1];
};

struct sure_http_parser {
	/* set by init */
	struct sure_http_config cfg;
	uint8_t *head;
	uint32_t head_cap;
	uint8_t *body;
	uint64_t body_cap;
	/* the outcome */
	struct sure_http_req req;
	int status; /* HTTP status to answer after an error, else 0 */
	const char *reason; /* static text for that answer */
	/* private */
	int state;
	int err;
	uint64_t left; /* body bytes still due (Content-Length body or chunk) */
	uint32_t trailer_bytes;
	uint32_t line_len;
	uint16_t host_count;
	uint16_t id_count;
	uint8_t conn_close, conn_keep_alive;
	uint8_t expect_other; /* an Expect other than 100-continue: 417 */
	uint8_t te_present, te_chunked, te_chunked_last, te_other, te_bad;
	uint8_t line[SURE_HTTP_LINE_MAX];
};

/* Readies p for a connection. head: a block of head_cap (<= SURE_REQ_HEAD_CAP)
 * bytes; body: body_cap bytes, at least cfg->max_body, or NULL (body_cap 0):
 * then each body is refused (-EINVAL, nothing taken) until sure_http_set_body
 * gives a buffer at its SURE_HTTP_HEAD. 0 or -EINVAL. */
int sure_http_parser_init(struct sure_http_parser *p, const struct sure_http_config *cfg,
			  uint8_t *head, uint32_t head_cap, uint8_t *body, uint64_t body_cap);
/* Feeds len bytes; *consumed says how many were taken: all of them on
 * SURE_HTTP_MORE, and after an error those up to where it was found (the same
 * however the stream was cut). Returns an enum sure_http_event, or after an
 * error (and on every call after it) a negative errno matching p->status:
 * -EBADMSG 400, -EFBIG 413, -ENAMETOOLONG 414, -E2BIG 431, -EOPNOTSUPP 501,
 * -EPROTO 417, -EPROTONOSUPPORT 505. */
int sure_http_parse(struct sure_http_parser *p, const uint8_t *data, size_t len,
		    size_t *consumed);
/* After SURE_HTTP_DONE: starts the next request on the same connection
 * (the head and body buffers are reused). -EINVAL in any other state. */
int sure_http_parser_next(struct sure_http_parser *p);
/* After SURE_HTTP_HEAD, before any body byte: lowers the body limit (e.g.
 * to the function's own). -EFBIG (413) if the Content-Length is over it. */
int sure_http_limit_body(struct sure_http_parser *p, uint64_t max_body);
/* After SURE_HTTP_HEAD, before any body byte: the body lands in body (cap
 * bytes) from now on, e.g. where its reader wants it, or a buffer sized to
 * this request. The body limit becomes min(limit, body_cap): -EFBIG (413) if
 * the Content-Length is over it; else 0, or -EINVAL in any other state. */
int sure_http_set_body(struct sure_http_parser *p, uint8_t *body, uint64_t body_cap);
/* While a Content-Length body is due: where the server may recv() the next
 * body bytes directly (returns how many, 0 when none are due that way);
 * sure_http_body_commit(p, n) then counts n of them in, returning
 * SURE_HTTP_DONE once the body is complete, else SURE_HTTP_MORE. */
size_t sure_http_body_room(struct sure_http_parser *p, uint8_t **dst);
int sure_http_body_commit(struct sure_http_parser *p, size_t n);
/* 1 when no byte of a request has arrived yet (a keep-alive connection
 * between requests: the server may close it when draining). */
int sure_http_parser_idle(const struct sure_http_parser *p);

#endif
