/*
 * hop_resp.c - parses a peer's answer head to a chain hop (see hop_resp.h).
 * Lines end in CR LF; a status line "HTTP/1.1 NNN reason"; field lines
 * "name: value" with a token name and a value of visible characters, spaces
 * and tabs. The peer is another sure node, so anything unusual (a bare LF,
 * obsolete line folding, chunked framing) is refused rather than guessed at.
 */
#include "hop_resp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dp_trace.h"
#include "libsure.h"
#include "sure_http_abi.h"

static int bad(char *err, size_t cap, const char *why)
{
	if (err && cap)
		snprintf(err, cap, "%s", why);
	return -EBADMSG;
}

static int is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_vchar(uint8_t c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static int name_is(const uint8_t *n, size_t len, const char *want)
{
	return strlen(want) == len && !strncasecmp((const char *)n, want, len);
}

int sure_hop_numbers(const uint8_t *v, size_t len, uint32_t *out, int count)
{
	size_t i = 0;

	for (int k = 0; k < count; k++) {
		uint64_t n = 0;
		size_t start = i;
		while (i < len && v[i] >= '0' && v[i] <= '9' && i - start < 10)
			n = n * 10 + (uint64_t)(v[i++] - '0');
		if (i == start || n > UINT32_MAX)
			return -1;
		out[k] = (uint32_t)n;
		if (k + 1 < count) {
			if (i >= len || v[i] != ' ')
				return -1;
			i++;
		}
	}
	return i == len ? 0 : -1;
}

/* Headers the node sets itself, or that only frame this one answer. */
static int dropped(const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
	static const char *const names[] = {
		"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
		"proxy-authenticate", "proxy-authorization", "date", "x-request-id",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_is(n, nl, names[i]))
			return 1;
	/* The node's own namespace: the peer's protocol, never a step's (a
	 * function cannot set x-sure-*), and not the client's business. */
	if (nl >= 7 && !strncasecmp((const char *)n, "x-sure-", 7))
		return 1;
	/* What the peer adds when its steps set no type says nothing. */
	return name_is(n, nl, "content-type") && vl == 24 &&
	       !strncasecmp((const char *)v, "application/octet-stream", 24);
}

static int field(const uint8_t *n, size_t nl, const uint8_t *v, size_t vl,
		 struct sure_hop_resp *out, int *have_len, uint8_t *hdrs, char *err, size_t cap)
{
	if (name_is(n, nl, "content-length")) {
		uint64_t x = 0;
		if (*have_len || vl == 0 || vl > 15)
			return bad(err, cap, "bad or repeated content-length");
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return bad(err, cap, "bad content-length");
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		out->content_length = x;
		*have_len = 1;
		return 0;
	}
	if (name_is(n, nl, "transfer-encoding"))
		return bad(err, cap, "a hop answer must have a content-length, not a transfer-encoding");
	if (name_is(n, nl, "connection")) {
		if (vl == 5 && !strncasecmp((const char *)v, "close", 5))
			out->keep_alive = 0;
		return 0;
	}
	if (name_is(n, nl, "x-sure-hop-next")) {
		uint32_t x[4];
		if (out->has_next || sure_hop_numbers(v, vl, x, 4) < 0)
			return bad(err, cap, "bad x-sure-hop-next");
		out->has_next = 1;
		out->from = x[0];
		out->to = x[1];
		out->next_status = x[2];
		out->hops = x[3];
		return 0;
	}
	if (name_is(n, nl, "x-sure-hop-mac")) {
		if (out->has_mac || vl != SURE_HOP_RESP_MAC_LEN)
			return bad(err, cap, "bad x-sure-hop-mac");
		memcpy(out->mac, v, vl);
		out->has_mac = 1;
		return 0;
	}
	if (name_is(n, nl, "traceparent")) {
		if (!out->has_trace &&
		    sure_dp_parse_trace_context((const char *)v, (uint32_t)vl, out->trace) == 0)
			out->has_trace = 1;
		return 0;
	}
	if (dropped(n, nl, v, vl))
		return 0;
	if (hdrs && sure_http_head_add(hdrs, (const char *)n, nl, (const char *)v, vl) < 0) {
		bad(err, cap, "the peer's answer has more headers than a response head holds");
		return -E2BIG;
	}
	return 0;
}

int sure_hop_resp_parse(const uint8_t *buf, size_t len, struct sure_hop_resp *out,
			uint8_t *hdrs, char *err, size_t errcap)
{
	const uint8_t *end = NULL;
	size_t scan = len < SURE_HOP_HEAD_MAX ? len : SURE_HOP_HEAD_MAX;
	int have_len = 0;

	if (err && errcap)
		err[0] = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 3; i < scan; i++) {
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
			end = buf + i + 1;
			break;
		}
	}
	if (!end)
		return len >= SURE_HOP_HEAD_MAX ? bad(err, errcap, "answer head too long") : 0;
	out->head_len = (uint32_t)(end - buf);
	out->keep_alive = 1;
	/* Status line: HTTP/1.1 NNN <reason> */
	if (out->head_len < 16 || memcmp(buf, "HTTP/1.1 ", 9) || buf[9] < '1' || buf[9] > '5' ||
	    buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' || buf[12] != ' ')
		return bad(err, errcap, "bad status line");
	out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (out->status < 200)
		return bad(err, errcap, "an interim answer to a hop");
	const uint8_t *p = buf + 13;
	while (p < end && *p != '\r') {
		if (!is_vchar(*p))
			return bad(err, errcap, "bad status line");
		p++;
	}
	if (p + 1 >= end || p[1] != '\n')
		return bad(err, errcap, "bad status line");
	p += 2;
	/* Field lines until the blank one. */
	while (p < end - 2) {
		const uint8_t *n = p, *colon, *v, *eol;
		while (p < end && is_tchar(*p))
			p++;
		if (p == n || p >= end || *p != ':' || (size_t)(p - n) > SURE_HEAD_NAME_MAX)
			return bad(err, errcap, "bad header name");
		colon = p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		v = p;
		while (p < end && *p != '\r') {
			if (!is_vchar(*p))
				return bad(err, errcap, "bad header value");
			p++;
		}
		if (p + 1 >= end || p[1] != '\n')
			return bad(err, errcap, "bad line end");
		eol = p;
		while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t'))
			eol--;
		int rc = field(n, (size_t)(colon - n), v, (size_t)(eol - v), out, &have_len, hdrs, err,
			       errcap);
		if (rc < 0)
			return rc;
		p += 2;
	}
	if (!have_len)
		return bad(err, errcap, "a hop answer without a content-length");
	return (int)out->head_len;
}
