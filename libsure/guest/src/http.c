/*
 * http.c - the HTTP request and response of sure.h: readers of the request
 * head block the node wrote and the writer of the response head block
 * (layouts in sure_http_abi.h). The blocks are in shared memory: every
 * offset is checked against the block before it is used, so a block that
 * is not what it should be reads as an empty request, never as a crash.
 */
#include "sg.h"

#define TABLE_OFF ((uint32_t)sizeof(struct sure_head))

static const struct sure_head *req_head(const sure_req *req)
{
	const struct sure_head *h = req ? req->sg_head : NULL;

	return h && h->magic == SURE_HEAD_MAGIC ? h : NULL;
}

/* s of a block of cap bytes, if it lies inside it and ends in a NUL. */
static const char *str_in(const void *blk, uint32_t cap, struct sure_str s)
{
	const char *b = blk;

	if (s.off < TABLE_OFF || s.off >= cap || s.len >= cap - s.off || b[s.off + s.len])
		return NULL;
	return b + s.off;
}

static uint32_t nfields(const struct sure_head *h, uint32_t cap)
{
	uint32_t n = h->nfields, max = (cap - TABLE_OFF) / sizeof(struct sure_head_field);

	return n < max ? n : max;
}

static const char *req_str(const sure_req *req, struct sure_str s, const char *dflt)
{
	const char *v = str_in(req->sg_head, SURE_REQ_HEAD_CAP, s);

	return v ? v : dflt;
}

const char *sure_req_method(const sure_req *req)
{
	const struct sure_head *h = req_head(req);

	return h ? req_str(req, h->method_name, "") : "";
}

const char *sure_req_path(const sure_req *req)
{
	const struct sure_head *h = req_head(req);

	return h ? req_str(req, h->path, "/") : "/";
}

const char *sure_req_query(const sure_req *req)
{
	const struct sure_head *h = req_head(req);

	return h ? req_str(req, h->query, "") : "";
}

size_t sure_header_count(const sure_req *req)
{
	const struct sure_head *h = req_head(req);

	return h ? nfields(h, SURE_REQ_HEAD_CAP) : 0;
}

int sure_header_at(const sure_req *req, size_t i, const char **name, const char **value)
{
	const struct sure_head *h = req_head(req);

	if (!h || i >= nfields(h, SURE_REQ_HEAD_CAP))
		return -1;
	const char *n = str_in(h, SURE_REQ_HEAD_CAP, h->field[i].name);
	const char *v = str_in(h, SURE_REQ_HEAD_CAP, h->field[i].value);
	if (!n || !v)
		return -1;
	if (name)
		*name = n;
	if (value)
		*value = v;
	return 0;
}

static int same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
	return *a == *b;
}

const char *sure_header(const sure_req *req, const char *name)
{
	size_t n = sure_header_count(req);
	const char *k, *v;

	for (size_t i = 0; name && i < n; i++)
		if (sure_header_at(req, i, &k, &v) == 0 && same_name(k, name))
			return v;
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes [s, end) ('+' is a space, %XX a byte) into buf; -1 if it does not fit. */
static int form_decode(const char *s, const char *end, char *buf, size_t cap)
{
	size_t n = 0;

	for (; s < end; s++) {
		int c = (unsigned char)*s;
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && end - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			c = hexval(s[1]) * 16 + hexval(s[2]);
			s += 2;
		}
		if (n + 1 >= cap)
			return -1;
		buf[n++] = (char)c;
	}
	if (!cap)
		return -1;
	buf[n] = 0;
	return (int)n;
}

int sure_query_param(const sure_req *req, const char *name, char *buf, size_t cap)
{
	const char *q = sure_req_query(req);
	char key[256];

	if (!name || !buf)
		return -1;
	while (*q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		const char *kend = eq ? eq : end;

		if (form_decode(q, kend, key, sizeof(key)) >= 0 && strcmp(key, name) == 0)
			return form_decode(eq ? eq + 1 : end, end, buf, cap);
		q = amp ? amp + 1 : end;
	}
	return -1;
}

/* ---- the response head ---------------------------------------------------- */

static struct sure_head *resp_head(sure_req *req)
{
	struct sure_head *h = req ? req->sg_resp_head : NULL;

	/* The block is the request's (the node or the loop reset it): a block
	 * that does not look reset was scribbled on, and is started again. */
	if (h && (h->magic != SURE_HEAD_MAGIC || h->str_lo > SURE_RESP_HEAD_CAP ||
		  h->nfields > SURE_HEAD_MAX_FIELDS)) {
		memset(h, 0, sizeof(*h));
		h->magic = SURE_HEAD_MAGIC;
		h->cap = SURE_RESP_HEAD_CAP;
		h->str_lo = SURE_RESP_HEAD_CAP;
	}
	return h;
}

/* Adds s and a NUL below str_lo, keeping room for `fields` table entries. */
static int put(struct sure_head *h, const char *s, struct sure_str *out, uint32_t fields)
{
	size_t len = strlen(s);
	uint64_t table = TABLE_OFF + (uint64_t)fields * sizeof(struct sure_head_field);

	if (len + 1 > h->str_lo || h->str_lo - (len + 1) < table)
		return -1;
	h->str_lo -= (uint32_t)(len + 1);
	memcpy((char *)h + h->str_lo, s, len + 1);
	*out = (struct sure_str){ h->str_lo, (uint32_t)len };
	return 0;
}

int sure_add_header(sure_req *req, const char *name, const char *value)
{
	struct sure_head *h = resp_head(req);
	struct sure_head_field f;
	uint32_t lo;

	/* Names and values are checked by the node, which answers 502 naming a
	 * bad one: a function that ignores -1 would otherwise lose it silently. */
	if (!h || !name || !*name || !value || h->nfields >= SURE_HEAD_MAX_FIELDS)
		return -1;
	lo = h->str_lo;
	if (put(h, name, &f.name, h->nfields + 1) < 0 ||
	    put(h, value, &f.value, h->nfields + 1) < 0) {
		h->str_lo = lo;
		return -1;
	}
	h->field[h->nfields] = f;
	sg_store(&h->nfields, h->nfields + 1);
	return 0;
}

int sure_set_header(sure_req *req, const char *name, const char *value)
{
	struct sure_head *h = resp_head(req);
	uint32_t kept = 0;

	if (!h || !name || !value)
		return -1;
	/* Drop earlier values of the name (their bytes stay until the request ends). */
	for (uint32_t i = 0; i < h->nfields; i++) {
		const char *k = str_in(h, SURE_RESP_HEAD_CAP, h->field[i].name);
		if (k && same_name(k, name))
			continue;
		h->field[kept++] = h->field[i];
	}
	h->nfields = kept;
	return sure_add_header(req, name, value);
}

void sg_resp_head_reset(void *blk)
{
	struct sure_head *h = blk;

	memset(h, 0, sizeof(*h));
	h->cap = SURE_RESP_HEAD_CAP;
	h->str_lo = SURE_RESP_HEAD_CAP;
	h->magic = SURE_HEAD_MAGIC;
}
