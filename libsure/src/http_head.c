/*
 * http_head.c - the head blocks of sure_http_abi.h on the host: the writer
 * an ingress uses to fill a request head (the TypeScript gateway has its own
 * writer of the same bytes, ffi/http_head.ts; a test holds the two equal),
 * and the checker of a response head a guest wrote. The checker works on a
 * private copy: a guest can rewrite its own block at any time, so what is
 * checked must be what is used.
 */
#include <errno.h>
#include <string.h>

#include "http_chars.h"
#include "http_head.h"
#include "libsure.h"
#include "util.h"

#define TABLE_OFF ((uint32_t)sizeof(struct sure_head))
#define FIELD_SIZE ((uint32_t)sizeof(struct sure_head_field))

static struct sure_head *head_of(uint8_t *blk)
{
	return (struct sure_head *)blk;
}

static uint32_t table_end(uint32_t nfields)
{
	return TABLE_OFF + nfields * FIELD_SIZE;
}

/* Adds len bytes (lower-cased if asked) and a NUL below str_lo. The block's
 * bookkeeping is the node's own (init, reset, a take's rebuild), but the
 * cursor is checked against the largest block all the same: a write is
 * where nothing but the node decided. */
static int put_str(uint8_t *blk, const char *s, size_t len, int lower, struct sure_str *out,
		   uint32_t reserve_fields)
{
	struct sure_head *h = head_of(blk);
	uint64_t need = (uint64_t)len + 1;

	if (len && !s)
		return -EINVAL;
	if (h->cap > SURE_REQ_HEAD_CAP || h->str_lo > h->cap || h->nfields > SURE_HEAD_MAX_FIELDS)
		return -EPROTO;
	if (need > h->str_lo || h->str_lo - need < table_end(h->nfields + reserve_fields))
		return -ENOSPC;
	uint32_t off = h->str_lo - (uint32_t)need;
	if (!lower) {
		if (len)
			memcpy(blk + off, s, len);
	} else {
		for (size_t i = 0; i < len; i++) {
			uint8_t c = (uint8_t)s[i];
			blk[off + i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
	}
	blk[off + len] = 0;
	h->str_lo = off;
	*out = (struct sure_str){ off, (uint32_t)len };
	return 0;
}

static uint32_t method_id(const char *m, size_t len)
{
	static const char *const names[] = {
		[SURE_METHOD_GET] = "GET",     [SURE_METHOD_HEAD] = "HEAD",
		[SURE_METHOD_POST] = "POST",   [SURE_METHOD_PUT] = "PUT",
		[SURE_METHOD_PATCH] = "PATCH", [SURE_METHOD_DELETE] = "DELETE",
		[SURE_METHOD_OPTIONS] = "OPTIONS",
	};

	for (uint32_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], m, len) == 0)
			return i;
	return SURE_METHOD_OTHER;
}

SURE_API int sure_http_head_init(uint8_t *blk, uint32_t cap, const char *method, size_t mlen,
				 const char *path, size_t plen, const char *query, size_t qlen)
{
	struct sure_head *h = head_of(blk);
	int rc;

	if (!blk || cap < TABLE_OFF || cap > SURE_REQ_HEAD_CAP || !method || !mlen)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->cap = cap;
	h->str_lo = cap;
	h->method = method_id(method, mlen);
	rc = put_str(blk, method, mlen, 0, &h->method_name, 0);
	/* An empty path is the function's root. */
	if (rc == 0)
		rc = plen ? put_str(blk, path, plen, 0, &h->path, 0) : put_str(blk, "/", 1, 0, &h->path, 0);
	if (rc == 0)
		rc = put_str(blk, query, qlen, 0, &h->query, 0);
	if (rc == 0)
		h->magic = SURE_HEAD_MAGIC;
	return rc;
}

/* A header at the end of the table, its name lower-cased if asked. */
static int head_put(uint8_t *blk, const char *name, size_t nlen, int lower, const char *value,
		    size_t vlen)
{
	struct sure_head *h = head_of(blk);
	struct sure_head_field f;
	uint32_t lo;
	int rc;

	if (!blk || h->magic != SURE_HEAD_MAGIC || !name || !nlen)
		return -EINVAL;
	if (h->nfields >= SURE_HEAD_MAX_FIELDS)
		return -E2BIG;
	lo = h->str_lo;
	rc = put_str(blk, name, nlen, lower, &f.name, 1);
	if (rc == 0)
		rc = put_str(blk, value, vlen, 0, &f.value, 1);
	if (rc < 0) {
		h->str_lo = lo; /* nothing half-added */
		return rc;
	}
	h->field[h->nfields++] = f;
	return 0;
}

SURE_API int sure_http_head_add(uint8_t *blk, const char *name, size_t nlen, const char *value,
				size_t vlen)
{
	return head_put(blk, name, nlen, 1, value, vlen);
}

/* Hop-by-hop (RFC 9110 7.6.1) and framing headers: the node's to set, never a function's. */
static int is_reserved(const char *name)
{
	static const char *const reserved[] = {
		"connection",	     "keep-alive",    "proxy-connection",   "transfer-encoding",
		"te",		     "trailer",	      "upgrade",	    "content-length",
		"proxy-authenticate", "proxy-authorization",
	};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return 1;
	return 0;
}

/* The string s of a block of cap bytes whose table ends at tend: inside, NUL-terminated. */
static const char *str_at(const uint8_t *blk, uint32_t cap, uint32_t tend, struct sure_str s)
{
	if (s.off < tend || s.off >= cap || s.len >= cap - s.off || blk[s.off + s.len] != 0)
		return NULL;
	return (const char *)blk + s.off;
}

/* Names for the error line: printable and short, whatever the guest wrote. */
static void printable(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		uint8_t c = (uint8_t)s[i];
		dst[n++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	dst[n] = 0;
}

int sure_http_resp_head_check(const uint8_t *blk, char *err, size_t errcap)
{
	const struct sure_head *h = (const struct sure_head *)blk;
	const uint32_t cap = SURE_RESP_HEAD_CAP;
	uint32_t n = h->nfields, tend;
	char shown[72];

	if (n == 0)
		return 0;
	if (h->magic != SURE_HEAD_MAGIC || n > SURE_HEAD_MAX_FIELDS || table_end(n) > cap)
		return sure_errf(err, errcap, -EPROTO, "the response header block is malformed");
	tend = table_end(n);
	for (uint32_t i = 0; i < n; i++) {
		const struct sure_head_field *f = &h->field[i];
		const char *name = str_at(blk, cap, tend, f->name);
		const char *value = str_at(blk, cap, tend, f->value);

		if (!name || !value)
			return sure_errf(err, errcap, -EPROTO,
					 "the response header block is malformed (field %u)", i);
		printable(shown, sizeof(shown), name, f->name.len);
		if (f->name.len == 0 || f->name.len > SURE_HEAD_NAME_MAX)
			return sure_errf(err, errcap, -EINVAL,
					 "response header name \"%s\" is empty or too long", shown);
		for (uint32_t k = 0; k < f->name.len; k++)
			if (!http_is_tchar((uint8_t)name[k]))
				return sure_errf(err, errcap, -EINVAL,
						 "response header name \"%s\" is not an HTTP token",
						 shown);
		if (is_reserved(name))
			return sure_errf(err, errcap, -EPERM,
					 "response header \"%s\" is hop-by-hop or framing: only the node sets it",
					 shown);
		/* The node's own protocol (x-sure-hop-next steers a chain between
		 * nodes, x-sure-node says who served, ...): never a function's. */
		if (f->name.len >= 7 && !strncasecmp(name, "x-sure-", 7))
			return sure_errf(err, errcap, -EPERM,
					 "response header \"%s\" is the node's own (x-sure-*): only the node sets it",
					 shown);
		for (uint32_t k = 0; k < f->value.len; k++) {
			uint8_t c = (uint8_t)value[k];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return sure_errf(err, errcap, -EINVAL,
						 "response header \"%s\" has a control character (CR, LF, ...) in its value",
						 shown);
		}
	}
	return (int)n;
}

/* Whether string s of a guest's block (its table ending at tend) lies inside
 * the block after the table, with room for the NUL the writer ends it with. */
static int span_ok(struct sure_str s, uint32_t tend)
{
	return s.off >= tend && s.off < SURE_RESP_HEAD_CAP && s.len < SURE_RESP_HEAD_CAP - s.off;
}

SURE_API int sure_http_resp_head_take(const uint8_t *src, uint8_t *dst, char *err, size_t errcap)
{
	struct sure_head h;

	if (err && errcap)
		err[0] = 0;
	if (!src || !dst)
		return -EINVAL;
	/*
	 * Only what the fields name crosses, each byte read from guest memory
	 * once: the fixed part, each table entry, each string, copied into a
	 * block the node lays out itself (not the whole 8 KiB block, nor any of
	 * the guest's bookkeeping: magic, cap, the string cursor). The node's own
	 * writes into dst afterwards (traceparent, x-sure-hop-next, ...) cannot be
	 * steered by the guest, and the check then reads only the node's copy,
	 * which the guest cannot change under it.
	 */
	sure_http_resp_head_reset(dst);
	memcpy(&h, src, sizeof(h));
	uint32_t n = h.nfields;
	if (n == 0)
		return 0;
	int rc = -EPROTO;
	if (h.magic != SURE_HEAD_MAGIC || n > SURE_HEAD_MAX_FIELDS || table_end(n) > SURE_RESP_HEAD_CAP)
		return sure_errf(err, errcap, rc, "the response header block is malformed");
	uint32_t tend = table_end(n);
	for (uint32_t i = 0; i < n; i++) {
		struct sure_head_field f;
		memcpy(&f, src + TABLE_OFF + (uint64_t)i * FIELD_SIZE, sizeof(f));
		if (!span_ok(f.name, tend) || !span_ok(f.value, tend)) {
			rc = sure_errf(err, errcap, rc,
				       "the response header block is malformed (field %u)", i);
			goto refused;
		}
		/* Any other bad name or value is the check's to name, on the copy. */
		if (f.name.len == 0) {
			rc = sure_errf(err, errcap, -EINVAL,
				       "response header name \"\" is empty or too long");
			goto refused;
		}
		if (head_put(dst, (const char *)src + f.name.off, f.name.len, 0,
			     (const char *)src + f.value.off, f.value.len) < 0) {
			rc = sure_errf(err, errcap, rc, "the response headers do not fit in %u bytes",
				       SURE_RESP_HEAD_CAP);
			goto refused;
		}
	}
	rc = sure_http_resp_head_check(dst, err, errcap);
	if (rc >= 0)
		return rc;
refused:
	sure_http_resp_head_reset(dst);
	return rc;
}

SURE_API void sure_http_resp_head_reset(uint8_t *blk)
{
	struct sure_head *h = head_of(blk);

	memset(h, 0, sizeof(*h));
	h->cap = SURE_RESP_HEAD_CAP;
	h->str_lo = SURE_RESP_HEAD_CAP;
	h->magic = SURE_HEAD_MAGIC;
}

const char *sure_http_head_get(const uint8_t *blk, const char *name, uint32_t *len)
{
	const struct sure_head *h = (const struct sure_head *)blk;
	size_t nlen = strlen(name);

	for (uint32_t i = 0; i < h->nfields; i++) {
		const struct sure_head_field *f = &h->field[i];
		if (f->name.len == nlen && !memcmp(blk + f->name.off, name, nlen)) {
			*len = f->value.len;
			return (const char *)blk + f->value.off;
		}
	}
	return NULL;
}

void sure_http_head_drop(uint8_t *blk, const char *name)
{
	struct sure_head *h = head_of(blk);
	size_t nlen = strlen(name);
	uint32_t kept = 0;

	for (uint32_t i = 0; i < h->nfields; i++) {
		struct sure_head_field f = h->field[i];
		if (f.name.len == nlen && !memcmp(blk + f.name.off, name, nlen)) {
			/* Its bytes too: the whole block is what a function sees. */
			memset(blk + f.name.off, 0, f.name.len);
			memset(blk + f.value.off, 0, f.value.len);
			continue;
		}
		h->field[kept++] = f;
	}
	if (kept < h->nfields)
		memset(&h->field[kept], 0, (h->nfields - kept) * FIELD_SIZE);
	h->nfields = kept;
}
