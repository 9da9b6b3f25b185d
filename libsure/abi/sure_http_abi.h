/*
 * sure_http_abi.h - the HTTP request record and the response header block:
 * how a request's method, path, query and headers reach a function, and how
 * the headers it sets come back. One layout for every ingress: the node's
 * TypeScript gateway fills it today (ffi/http_head.ts), libsure's own HTTP
 * ingress fills the same bytes with the C writer (libsure/src/http_head.c),
 * and the guest library reads it (libsure/guest/src/http.c).
 *
 * A head block is one struct sure_head followed by its field table; the
 * strings (method, path, query, header names and values) lie anywhere in
 * [str_lo, cap) of the block, each followed by a NUL, so a reader can hand
 * out plain C strings without copying. Writers fill the field table upwards
 * from the struct and the strings downwards from the end, so neither needs to
 * know the number of fields in advance.
 *
 * Where the blocks live:
 *   plain instance  the I/O memslot after the two body areas:
 *                   req_head_gva (SURE_REQ_HEAD_CAP), resp_head_gva
 *                   (SURE_RESP_HEAD_CAP), both in struct sure_ctrl
 *   chain           per request slot in the pool, at
 *                   meta->head_off + slot * SURE_SLOT_HEAD_SIZE: the request
 *                   head, then the response head that every step adds to
 *
 * The request block is written by the node before the request is posted;
 * the response block by the guest library (sure_set_header). The node copies
 * a response block out of guest memory before it checks it
 * (sure_http_resp_head_take) and never trusts anything in it unchecked.
 */
#ifndef SURE_HTTP_ABI_H
#define SURE_HTTP_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* A request whose method, path, query and headers do not fit in this (or
 * have more than SURE_HEAD_MAX_FIELDS headers) is answered 431. */
#define SURE_REQ_HEAD_CAP 16384u
#define SURE_RESP_HEAD_CAP 8192u
#define SURE_HEAD_MAX_FIELDS 256u
#define SURE_SLOT_HEAD_SIZE (SURE_REQ_HEAD_CAP + SURE_RESP_HEAD_CAP)
#define SURE_HEAD_MAGIC 0x44414548u /* "HEAD" */
/* Longest header name a response may set. */
#define SURE_HEAD_NAME_MAX 256u

#ifndef __ASSEMBLER__

enum sure_method {
	SURE_METHOD_OTHER = 0, /* see method_name */
	SURE_METHOD_GET = 1,
	SURE_METHOD_HEAD = 2,
	SURE_METHOD_POST = 3,
	SURE_METHOD_PUT = 4,
	SURE_METHOD_PATCH = 5,
	SURE_METHOD_DELETE = 6,
	SURE_METHOD_OPTIONS = 7,
};

/* Bytes [off, off + len) of the block; byte off + len is a NUL. */
struct sure_str {
	uint32_t off;
	uint32_t len;
};

/* One header. Request names are lower case (HTTP field names are
 * case-insensitive); values are as received, without surrounding blanks. */
struct sure_head_field {
	struct sure_str name;
	struct sure_str value;
};

struct sure_head {
	uint32_t magic; /* SURE_HEAD_MAGIC once written */
	uint32_t cap; /* bytes of the block: every string lies below this */
	uint32_t nfields;
	uint32_t str_lo; /* strings occupy [str_lo, cap): writers add below it */
	/* request blocks only (zero in a response block) */
	uint32_t method; /* enum sure_method */
	uint32_t pad;
	struct sure_str method_name; /* as received, e.g. "GET" */
	struct sure_str path; /* below /invoke/<name>: "/users/7", at least "/" */
	struct sure_str query; /* raw, without the '?': "" if none */
	struct sure_head_field field[]; /* nfields entries */
};

#endif /* !__ASSEMBLER__ */
#endif
