/*
 * http_parse.c - the incremental HTTP/1.1 request parser (http_parse.h).
 *
 * Lines (request line, field lines, chunk-size lines, trailer lines) are
 * gathered in p->line and judged whole once their LF arrives, so a request
 * gives the same result however it is cut into pieces; body bytes are copied
 * as they come. Only limits are checked before a line ends, and each state
 * has one status for them, so that where a piece ends never changes the
 * answer either.
 *
 * Strict by design (RFC 9112): this parser may sit behind a proxy that
 * reads the same bytes, and any leniency where the two disagree on where a
 * request ends is request smuggling. So: CR LF only (a bare LF or a bare CR
 * is 400), no obs-fold, no whitespace before a colon, one Content-Length
 * value, never Content-Length with Transfer-Encoding, chunked exactly once
 * and last, no Transfer-Encoding in HTTP/1.0.
 */
#include <errno.h>
#include <string.h>

#include "http_chars.h"
#include "http_parse.h"
#include "libsure.h"

enum {
	ST_START, /* request line (blank lines before it ignored) */
	ST_FIELD, /* field lines up to the empty line */
	ST_BODY, /* Content-Length body */
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_CR,
	ST_CHUNK_LF,
	ST_TRAILER,
	ST_DONE,
	ST_ERROR,
};

/* Room kept in the head block for the x-request-id field the server adds. */
#define ID_FIELD_BYTES (sizeof("x-request-id") + SURE_HTTP_ID_MAX + 1)

static int fail(struct sure_http_parser *p, int status, const char *reason)
{
	p->state = ST_ERROR;
	p->status = status;
	p->reason = reason;
	switch (status) {
	case 413: p->err = -EFBIG; break;
	case 414: p->err = -ENAMETOOLONG; break;
	case 431: p->err = -E2BIG; break;
	case 501: p->err = -EOPNOTSUPP; break;
	case 417: p->err = -EPROTO; break;
	case 505: p->err = -EPROTONOSUPPORT; break;
	default: p->err = -EBADMSG; break;
	}
	return p->err;
}

static int is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_val(uint8_t c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static int is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* s (len bytes) is lit, ignoring ASCII case; lit is lower case. The length,
 * known at compile time through EQ_NOCASE, settles most comparisons. */
static int eq_nocase(const uint8_t *s, size_t len, const char *lit, size_t n)
{
	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != (uint8_t)lit[i])
			return 0;
	}
	return 1;
}

#define EQ_NOCASE(s, len, lit) eq_nocase((s), (len), "" lit, sizeof(lit) - 1)

static void reset_request(struct sure_http_parser *p)
{
	memset(&p->req, 0, sizeof(p->req));
	p->state = ST_START;
	p->left = 0;
	p->trailer_bytes = 0;
	p->line_len = 0;
	p->host_count = p->id_count = 0;
	p->conn_close = p->conn_keep_alive = 0;
	p->te_present = p->te_chunked = p->te_chunked_last = p->te_other = p->te_bad = 0;
}

int sure_http_parser_init(struct sure_http_parser *p, const struct sure_http_config *cfg,
			  uint8_t *head, uint32_t head_cap, uint8_t *body, uint64_t body_cap)
{
	/* No body buffer yet is fine: sure_http_set_body gives one at the head. */
	if (!p || !cfg || !head || head_cap < sizeof(struct sure_head) ||
	    head_cap > SURE_REQ_HEAD_CAP || (body_cap && !body) || (body && cfg->max_body > body_cap))
		return -EINVAL;
	memset(p, 0, offsetof(struct sure_http_parser, line));
	p->cfg = *cfg;
	if (!p->cfg.max_head)
		p->cfg.max_head = SURE_HTTP_HEAD_MAX_DEFAULT;
	p->head = head;
	p->head_cap = head_cap;
	p->body = body;
	p->body_cap = body_cap;
	reset_request(p);
	return 0;
}

int sure_http_parser_next(struct sure_http_parser *p)
{
	if (!p || p->state != ST_DONE)
		return -EINVAL;
	reset_request(p);
	return 0;
}

int sure_http_parser_idle(const struct sure_http_parser *p)
{
	return p->state == ST_START && p->req.head_bytes == 0 && p->line_len == 0;
}

/* ---- the request line ---- */

/* Puts the target into the head block: /invoke/<name> routes to a function
 * (the head gets what lies below the name, as runtime/gateway/invoke.ts does);
 * any other path goes in whole, for the server to route or refuse. */
static int put_target(struct sure_http_parser *p, const uint8_t *m, size_t mlen, const uint8_t *t,
		      size_t tlen)
{
	static const char prefix[] = "/invoke/";
	const size_t plen = sizeof(prefix) - 1;
	const uint8_t *q = memchr(t, '?', tlen);
	size_t path_len = q ? (size_t)(q - t) : tlen;
	const uint8_t *query = q ? q + 1 : t + tlen;
	size_t qlen = q ? tlen - path_len - 1 : 0;
	const uint8_t *path = t;
	size_t below_len = path_len;

	if (path_len > plen && memcmp(t, prefix, plen) == 0) {
		const uint8_t *name = t + plen;
		const uint8_t *slash = memchr(name, '/', path_len - plen);
		size_t nlen = slash ? (size_t)(slash - name) : path_len - plen;
		int ok = nlen >= 1 && nlen <= SURE_HTTP_NAME_MAX && name[0] >= 'a' && name[0] <= 'z';

		for (size_t i = 1; ok && i < nlen; i++)
			ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
			     name[i] == '-';
		if (ok) {
			memcpy(p->req.name, name, nlen);
			p->req.name[nlen] = 0;
			p->req.name_len = (uint8_t)nlen;
			p->req.invoke = 1;
			path = name + nlen;
			below_len = path_len - plen - nlen; /* 0: the writer puts "/" */
		}
	}
	int rc = sure_http_head_init(p->head, p->head_cap, (const char *)m, mlen, (const char *)path,
				     below_len, (const char *)query, qlen);
	if (rc < 0)
		return fail(p, 431, "request head too large");
	return 0;
}

static int on_request_line(struct sure_http_parser *p, const uint8_t *l, size_t len)
{
	const uint8_t *sp1 = memchr(l, ' ', len);
	size_t mlen, tlen, vlen;
	const uint8_t *t, *v, *sp2;

	if (!sp1 || sp1 == l)
		return fail(p, 400, "malformed request line");
	mlen = (size_t)(sp1 - l);
	for (size_t i = 0; i < mlen; i++)
		if (!http_is_tchar(l[i]))
			return fail(p, 400, "method is not a token");
	t = sp1 + 1;
	sp2 = memchr(t, ' ', len - mlen - 1);
	if (!sp2 || sp2 == t)
		return fail(p, 400, "malformed request line");
	tlen = (size_t)(sp2 - t);
	/* origin-form only: an ingress is no proxy (absolute-form) and has no
	 * server-wide OPTIONS (asterisk-form). */
	if (t[0] != '/')
		return fail(p, 400, "request target is not an absolute path");
	/* A '%' not followed by two hex digits stays a literal '%', as browsers
	 * and Deno's URL parser keep it: it says nothing about where the message
	 * ends, and a function sees its target raw anyway. */
	for (size_t i = 0; i < tlen; i++) {
		if (t[i] != '%' && !http_is_target_char(t[i])) {
			return fail(p, 400, "invalid character in request target");
		}
	}
	v = sp2 + 1;
	vlen = len - mlen - 1 - tlen - 1;
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9')
		return fail(p, 400, "malformed HTTP version");
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(p, 505, "HTTP version not supported");
	p->req.minor = (uint8_t)(v[7] - '0');
	return put_target(p, l, mlen, t, tlen);
}

/* ---- field lines ---- */

/* Splits a field line into name and trimmed value; 0 or a 400. */
static int split_field(struct sure_http_parser *p, const uint8_t *l, size_t len, size_t *nlen,
		       const uint8_t **val, size_t *vlen)
{
	const uint8_t *colon;
	size_t i, end;

	if (is_ows(l[0]))
		return fail(p, 400, "obsolete line folding");
	colon = memchr(l, ':', len);
	if (!colon)
		return fail(p, 400, "field line without a colon");
	*nlen = (size_t)(colon - l);
	if (*nlen == 0)
		return fail(p, 400, "empty field name");
	for (i = 0; i < *nlen; i++) {
		if (is_ows(l[i]))
			return fail(p, 400, "whitespace before the colon");
		if (!http_is_tchar(l[i]))
			return fail(p, 400, "field name is not a token");
	}
	i = *nlen + 1;
	end = len;
	while (i < end && is_ows(l[i]))
		i++;
	while (end > i && is_ows(l[end - 1]))
		end--;
	for (size_t k = i; k < end; k++)
		if (!http_is_value_char(l[k]))
			return fail(p, 400, "control character in a field value");
	*val = l + i;
	*vlen = end - i;
	return 0;
}

/* Calls fn for every non-empty element of a comma-separated list (empty
 * elements are allowed by RFC 9110 5.6.1 and skipped). */
static void each_elem(struct sure_http_parser *p, const uint8_t *v, size_t len,
		      void (*fn)(struct sure_http_parser *, const uint8_t *, size_t))
{
	size_t i = 0;

	while (i < len) {
		size_t s = i, e;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (s < e && is_ows(v[s]))
			s++;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (e > s)
			fn(p, v + s, e - s);
		i++; /* past the comma */
	}
}

static void te_elem(struct sure_http_parser *p, const uint8_t *c, size_t len)
{
	if (EQ_NOCASE(c, len, "chunked")) {
		if (p->te_chunked)
			p->te_bad = 1; /* chunked twice */
		p->te_chunked = 1;
		p->te_chunked_last = 1;
		return;
	}
	/* Anything after chunked, parameters included, leaves the length unknown. */
	p->te_chunked_last = 0;
	p->te_other = 1;
}

static void conn_elem(struct sure_http_parser *p, const uint8_t *c, size_t len)
{
	if (EQ_NOCASE(c, len, "close"))
		p->conn_close = 1;
	else if (EQ_NOCASE(c, len, "keep-alive"))
		p->conn_keep_alive = 1;
}

/* x-request-id as runtime/middleware/request_id.ts takes it. */
static int sane_id(const uint8_t *v, size_t len)
{
	if (len < 1 || len > SURE_HTTP_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = v[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

static int on_field(struct sure_http_parser *p, const uint8_t *l, size_t len)
{
	const struct sure_head *h = (const struct sure_head *)p->head;
	const uint8_t *v;
	size_t nlen, vlen;
	int rc = split_field(p, l, len, &nlen, &v, &vlen);

	if (rc < 0)
		return rc;
	if (EQ_NOCASE(l, nlen, "x-request-id")) {
		/* Never passed on: the server adds the id it answers with. */
		if (++p->id_count == 1 && sane_id(v, vlen)) {
			memcpy(p->req.request_id, v, vlen);
			p->req.request_id[vlen] = 0;
			p->req.id_len = (uint8_t)vlen;
		} else {
			p->req.id_len = 0; /* several: none of them (the gateway's rule) */
			p->req.request_id[0] = 0;
		}
		return 0;
	}
	if (EQ_NOCASE(l, nlen, "content-length")) {
		uint64_t n = 0;
		if (vlen == 0)
			return fail(p, 400, "empty Content-Length");
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail(p, 400, "Content-Length is not a number");
			/* Saturate: a length past 2^64 is simply over any body limit. */
			n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(v[i] - '0');
		}
		if (p->req.has_length && p->req.content_length != n)
			return fail(p, 400, "conflicting Content-Length values");
		p->req.has_length = 1;
		p->req.content_length = n;
	} else if (EQ_NOCASE(l, nlen, "transfer-encoding")) {
		p->te_present = 1;
		each_elem(p, v, vlen, te_elem);
	} else if (EQ_NOCASE(l, nlen, "connection")) {
		each_elem(p, v, vlen, conn_elem);
	} else if (EQ_NOCASE(l, nlen, "expect")) {
		if (EQ_NOCASE(v, vlen, "100-continue"))
			p->req.expect_continue = 1;
		else
			p->expect_other = 1;
	} else if (EQ_NOCASE(l, nlen, "host")) {
		if (p->host_count < UINT16_MAX)
			p->host_count++;
	}
	/* One table entry stays free for the server's x-request-id. */
	if (h->nfields + 1 >= SURE_HEAD_MAX_FIELDS)
		return fail(p, 431, "request head too large");
	rc = sure_http_head_add(p->head, (const char *)l, nlen, (const char *)v, vlen);
	if (rc < 0)
		return fail(p, 431, "request head too large");
	return 0;
}

/* The empty line: decide the framing (RFC 9112 6.3) and the connection. */
static int on_head_end(struct sure_http_parser *p)
{
	const struct sure_head *h = (const struct sure_head *)p->head;
	uint64_t table = sizeof(struct sure_head) + (uint64_t)(h->nfields + 1) * sizeof(h->field[0]);

	if (table + ID_FIELD_BYTES > h->str_lo)
		return fail(p, 431, "request head too large");
	if (p->req.minor == 1 ? p->host_count != 1 : p->host_count > 1)
		return fail(p, 400, "missing or repeated Host");
	/* RFC 9110 10.1.1: an expectation the server cannot meet (any but
	 * 100-continue, in any version) is answered 417, as Go's and Node's
	 * servers do, and as the Hono app does (middleware/expect.ts). */
	if (p->expect_other)
		return fail(p, 417, "the only expectation served is 100-continue");
	if (p->te_present) {
		/* A 1.0 peer may not know chunked: its framing cannot be trusted. */
		if (p->req.minor == 0)
			return fail(p, 400, "Transfer-Encoding in HTTP/1.0");
		if (p->req.has_length)
			return fail(p, 400, "both Content-Length and Transfer-Encoding");
		if (p->te_bad || !p->te_chunked || !p->te_chunked_last)
			return fail(p, 400, "chunked is not the final transfer coding");
		if (p->te_other)
			return fail(p, 501, "transfer coding not implemented");
		p->req.chunked = 1;
	} else if (p->req.has_length && p->req.content_length > p->cfg.max_body) {
		return fail(p, 413, "request body too large");
	}
	p->req.keep_alive =
		!p->conn_close && (p->req.minor == 1 || p->conn_keep_alive) ? 1 : 0;
	/* RFC 9110 10.1.1: an HTTP/1.0 client never waits for 100 Continue. */
	if (p->req.minor == 0)
		p->req.expect_continue = 0;
	if (p->req.chunked) {
		p->state = ST_CHUNK_SIZE;
		return SURE_HTTP_HEAD;
	}
	if (p->req.has_length && p->req.content_length > 0) {
		p->left = p->req.content_length;
		p->state = ST_BODY;
		return SURE_HTTP_HEAD;
	}
	p->req.expect_continue = 0; /* nothing to wait for */
	p->state = ST_DONE;
	return SURE_HTTP_DONE;
}

/* ---- chunked bodies ---- */

static int on_chunk_size(struct sure_http_parser *p, const uint8_t *l, size_t len)
{
	uint64_t n = 0;
	size_t i = 0;

	while (i < len && is_hex(l[i])) {
		n = n > (UINT64_MAX >> 4) ? UINT64_MAX : (n << 4) | hex_val(l[i]);
		i++;
	}
	if (i == 0)
		return fail(p, 400, "malformed chunk size");
	if (i < len) {
		/* chunk-ext: BWS ";" ...; skipped, but never with control bytes. */
		size_t k = i;
		while (k < len && is_ows(l[k]))
			k++;
		if (k == len || l[k] != ';')
			return fail(p, 400, "malformed chunk size");
		for (; k < len; k++)
			if (!http_is_value_char(l[k]))
				return fail(p, 400, "control character in a chunk extension");
	}
	if (n > p->cfg.max_body - p->req.body_len)
		return fail(p, 413, "request body too large");
	if (n == 0) {
		p->state = ST_TRAILER;
		return 0;
	}
	p->left = n;
	p->state = ST_CHUNK_DATA;
	return 0;
}

static int on_trailer(struct sure_http_parser *p, const uint8_t *l, size_t len)
{
	const uint8_t *v;
	size_t nlen, vlen;

	if (len == 0) {
		p->state = ST_DONE;
		return SURE_HTTP_DONE;
	}
	/* Checked like a field, then dropped: nothing reads trailers. */
	return split_field(p, l, len, &nlen, &v, &vlen);
}

/* ---- lines ---- */

/* One complete line in p->line (CR LF included). */
static int on_line(struct sure_http_parser *p)
{
	const uint8_t *l = p->line;
	size_t len = p->line_len;

	if (len < 2 || l[len - 2] != '\r')
		return fail(p, 400, "line not ended by CR LF");
	len -= 2;
	if (memchr(l, '\r', len))
		return fail(p, 400, "bare CR");
	p->line_len = 0;
	switch (p->state) {
	case ST_START:
		if (len == 0)
			return 0; /* RFC 9112 2.2: blank lines before a request are ignored */
		p->state = ST_FIELD;
		return on_request_line(p, l, len);
	case ST_FIELD:
		return len == 0 ? on_head_end(p) : on_field(p, l, len);
	case ST_CHUNK_SIZE:
		return on_chunk_size(p, l, len);
	default:
		return on_trailer(p, l, len);
	}
}

/* Gathers the current line from d[*at..n): 1 once its LF is in, 0 when the
 * input ran out first, or an error when a limit is crossed. Each state has a
 * single status for its limits, so where the input is cut never matters. */
static int take_line(struct sure_http_parser *p, const uint8_t *d, size_t n, size_t *at)
{
	const uint8_t *lf = memchr(d + *at, '\n', n - *at);
	size_t k = (lf ? (size_t)(lf - d) + 1 : n) - *at;
	uint64_t line_max = SURE_HTTP_LINE_MAX;
	uint32_t *count = NULL;
	int status = 431;
	const char *why = "request head too large";

	switch (p->state) {
	case ST_START:
		count = &p->req.head_bytes;
		/* A long request line is a long target (or method): 414. */
		status = 414;
		why = "request line too long";
		break;
	case ST_FIELD:
		count = &p->req.head_bytes;
		break;
	case ST_TRAILER:
		count = &p->trailer_bytes;
		why = "trailer section too large";
		break;
	default:
		line_max = SURE_HTTP_CHUNK_LINE_MAX;
		status = 400;
		why = "chunk-size line too long";
		break;
	}
	uint64_t fit = line_max - p->line_len;
	if (count && p->cfg.max_head - *count < fit)
		fit = p->cfg.max_head - *count;
	if (k > fit) {
		/* Take what fits, so that the error lands on the same byte however
		 * the input was cut. */
		*at += (size_t)fit;
		return fail(p, status, why);
	}
	if (count)
		*count += (uint32_t)k;
	memcpy(p->line + p->line_len, d + *at, k);
	p->line_len += (uint32_t)k;
	*at += k;
	return lf != NULL;
}

/* Copies up to the due body bytes into the body buffer. */
static void take_body(struct sure_http_parser *p, const uint8_t *d, size_t n, size_t *at)
{
	uint64_t k = n - *at;

	if (k > p->left)
		k = p->left;
	/* body_len + left <= max_body <= body_cap, checked when they were set. */
	memcpy(p->body + p->req.body_len, d + *at, (size_t)k);
	p->req.body_len += k;
	p->left -= k;
	*at += (size_t)k;
}

int sure_http_parse(struct sure_http_parser *p, const uint8_t *d, size_t n, size_t *consumed)
{
	size_t at = 0;
	int rc = 0;

	if (consumed)
		*consumed = 0;
	if (!p || !consumed || (n && !d))
		return -EINVAL;
	if (p->state == ST_ERROR)
		return p->err;
	if (p->state == ST_DONE)
		return SURE_HTTP_DONE;
	/* A body is due but no buffer holds the limit (none given yet). */
	if (p->state >= ST_BODY && p->cfg.max_body > p->body_cap)
		return -EINVAL;
	while (at < n && rc == 0) {
		switch (p->state) {
		case ST_BODY:
			take_body(p, d, n, &at);
			if (p->left == 0) {
				p->state = ST_DONE;
				rc = SURE_HTTP_DONE;
			}
			break;
		case ST_CHUNK_DATA:
			take_body(p, d, n, &at);
			if (p->left == 0)
				p->state = ST_CHUNK_CR;
			break;
		case ST_CHUNK_CR:
		case ST_CHUNK_LF:
			if (d[at++] != (p->state == ST_CHUNK_CR ? '\r' : '\n')) {
				rc = fail(p, 400, "chunk data not followed by CR LF");
				break;
			}
			p->state = p->state == ST_CHUNK_CR ? ST_CHUNK_LF : ST_CHUNK_SIZE;
			break;
		default:
			rc = take_line(p, d, n, &at);
			if (rc == 1)
				rc = on_line(p);
			break;
		}
	}
	*consumed = at;
	return rc;
}

/* After SURE_HTTP_HEAD and before any body byte (the first chunk-size line
 * may have been read: it put nothing in the buffer). */
static int body_not_begun(const struct sure_http_parser *p)
{
	return (p->state == ST_BODY || p->state == ST_CHUNK_SIZE) && p->req.body_len == 0;
}

int sure_http_limit_body(struct sure_http_parser *p, uint64_t max_body)
{
	if (max_body > p->body_cap || !body_not_begun(p))
		return -EINVAL;
	p->cfg.max_body = max_body;
	if (p->state == ST_BODY && p->req.content_length > max_body)
		return fail(p, 413, "request body too large");
	return 0;
}

int sure_http_set_body(struct sure_http_parser *p, uint8_t *body, uint64_t body_cap)
{
	if (!p || !body || !body_not_begun(p))
		return -EINVAL;
	p->body = body;
	p->body_cap = body_cap;
	/* The buffer bounds every write: the limit never exceeds it. */
	if (p->cfg.max_body > body_cap)
		p->cfg.max_body = body_cap;
	if (p->state == ST_BODY && p->req.content_length > p->cfg.max_body)
		return fail(p, 413, "request body too large");
	return 0;
}

size_t sure_http_body_room(struct sure_http_parser *p, uint8_t **dst)
{
	if (p->state != ST_BODY || p->left == 0 || p->cfg.max_body > p->body_cap) {
		*dst = NULL;
		return 0;
	}
	*dst = p->body + p->req.body_len;
	return p->left > SIZE_MAX ? SIZE_MAX : (size_t)p->left;
}

int sure_http_body_commit(struct sure_http_parser *p, size_t n)
{
	if (p->state != ST_BODY || n > p->left || p->cfg.max_body > p->body_cap)
		return -EINVAL;
	p->req.body_len += n;
	p->left -= n;
	if (p->left)
		return SURE_HTTP_MORE;
	p->state = ST_DONE;
	return SURE_HTTP_DONE;
}
