/*
 * fuzz_http_parse.c - libFuzzer target for the HTTP/1.1 request parser of
 * libsure's ingress (src/http_parse.c): the bytes come from anyone who can
 * open a connection. The input sets the limits and where the stream is cut,
 * then gives the stream: either raw, or a built-in pipeline of valid
 * requests (Content-Length, chunked with extensions and trailers, HTTP/1.0)
 * that the input patches, so mutations start from deep inside the grammar.
 *
 * The stream is parsed three ways: whole, in the pieces the input chose
 * (with Content-Length bodies taken through sure_http_body_room/commit as a
 * server recv()ing in place would, when the input says so) and byte by
 * byte. All three must give the same events at the same offsets, the same
 * requests, head blocks and bodies, and the same error. Every call must take
 * no more than it was fed; the head and body buffers are allocated at their
 * exact size (ASan sees any write past them) and bytes past the body are
 * checked untouched; every request the parser completes must have a head
 * block a reader can trust (strings in bounds, NUL-terminated, method and
 * path present, lower-case token names, values without control bytes, no
 * x-request-id, room left for the server's own) and a body within its limit.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_http_parse -max_total_time=60
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "http_parse.h"
#include "libsure.h"

#define STREAM_MAX 8192
#define BODY_MAX 2048
#define POISON 0xA5

static const char seed[] =
	"POST /invoke/fn/a%20b?x=1&y=? HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	"Expect: 100-continue\r\nX-Request-Id: id-1\r\nX-A:  v \r\n\r\nhello"
	"\r\nPUT /invoke/g HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	"Connection: keep-alive\r\n\r\n3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: x\r\n\r\n"
	"GET /x?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	"DELETE /invoke/h HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

struct setup {
	struct sure_http_config cfg;
	uint32_t head_cap;
	uint64_t body_cap;
	const uint8_t *s;
	size_t len;
	size_t cuts[8];
	size_t ncuts;
	int direct;
};

/* Requests completed by the last run (the seed must give all four). */
static int done_n;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static int is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The string s of the block: in bounds past the table, NUL-terminated. */
static const uint8_t *str_ok(const uint8_t *blk, uint32_t cap, uint32_t tend, struct sure_str s)
{
	if (s.off < tend || s.off >= cap || s.len >= cap - s.off || blk[s.off + s.len] != 0)
		abort();
	return blk + s.off;
}

/* A completed request: the head a reader gets is sound. Returns its hash. */
static uint64_t check_request(const struct sure_http_parser *p, const struct setup *su, uint64_t h)
{
	const struct sure_head *hd = (const struct sure_head *)p->head;
	const struct sure_http_req *r = &p->req;
	uint32_t cap = su->head_cap, n = hd->nfields;

	if (hd->magic != SURE_HEAD_MAGIC || hd->cap != cap || n >= SURE_HEAD_MAX_FIELDS)
		abort();
	uint32_t tend = (uint32_t)(sizeof(*hd) + n * sizeof(hd->field[0]));
	if (tend > hd->str_lo || hd->str_lo > cap)
		abort();
	/* The server's x-request-id (up to 128 bytes) still fits. */
	if (hd->str_lo - tend < sizeof(hd->field[0]) + sizeof("x-request-id") + SURE_HTTP_ID_MAX + 1)
		abort();
	const uint8_t *m = str_ok(p->head, cap, tend, hd->method_name);
	const uint8_t *path = str_ok(p->head, cap, tend, hd->path);
	str_ok(p->head, cap, tend, hd->query);
	if (hd->method_name.len == 0 || hd->path.len == 0 || path[0] != '/')
		abort();
	for (uint32_t i = 0; i < hd->method_name.len; i++)
		if (!is_tchar(m[i]) && !(m[i] >= 'A' && m[i] <= 'Z'))
			abort();
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *nm = str_ok(p->head, cap, tend, hd->field[i].name);
		const uint8_t *v = str_ok(p->head, cap, tend, hd->field[i].value);
		uint32_t vl = hd->field[i].value.len;
		if (hd->field[i].name.len == 0 || strcmp((const char *)nm, "x-request-id") == 0)
			abort();
		for (uint32_t k = 0; k < hd->field[i].name.len; k++)
			if (!is_tchar(nm[k]))
				abort();
		for (uint32_t k = 0; k < vl; k++)
			if ((v[k] < 0x20 && v[k] != '\t') || v[k] == 0x7f)
				abort();
		if (vl && (v[0] == ' ' || v[0] == '\t' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			abort();
	}
	if (r->invoke && (r->name_len == 0 || r->name_len > SURE_HTTP_NAME_MAX ||
			  strlen(r->name) != r->name_len || r->name[0] < 'a' || r->name[0] > 'z'))
		abort();
	if (r->id_len > SURE_HTTP_ID_MAX || strlen(r->request_id) != r->id_len)
		abort();
	if (r->minor > 1 || (r->chunked && r->has_length))
		abort();
	if (r->body_len > su->cfg.max_body || (r->has_length && r->body_len != r->content_length) ||
	    (!r->has_length && !r->chunked && r->body_len))
		abort();
	for (uint64_t i = r->body_len; i < su->body_cap; i++)
		if (p->body[i] != POISON)
			abort();
	h = mix(h, r, sizeof(*r));
	h = mix(h, p->head, tend);
	h = mix(h, p->head + hd->str_lo, cap - hd->str_lo);
	return mix(h, p->body, (size_t)r->body_len);
}

static void fresh_buffers(struct sure_http_parser *p, const struct setup *su)
{
	memset(p->head, 0, su->head_cap);
	if (su->body_cap)
		memset(p->body, POISON, (size_t)su->body_cap);
}

/* Parses the stream in pieces ending at cut[0..ncut) and then at len; the hash
 * of everything it produced. */
static uint64_t run(const struct setup *su, const size_t *cut, size_t ncut, int direct,
		    uint8_t *head, uint8_t *body)
{
	static struct sure_http_parser p;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t from = 0;
	int stop = 0;

	if (sure_http_parser_init(&p, &su->cfg, head, su->head_cap, body, su->body_cap))
		abort();
	done_n = 0;
	fresh_buffers(&p, su);
	for (size_t k = 0; k <= ncut && !stop; k++) {
		size_t to = k < ncut ? cut[k] : su->len, off = from;
		if (to < from)
			continue;
		while (!stop) {
			size_t used = 0;
			uint8_t *dst;
			size_t room = direct ? sure_http_body_room(&p, &dst) : 0;
			int rc;
			if (room && off < to) {
				/* recv() straight into the body, as the server will. */
				used = room < to - off ? room : to - off;
				memcpy(dst, su->s + off, used);
				rc = sure_http_body_commit(&p, used);
			} else {
				rc = sure_http_parse(&p, su->s + off, to - off, &used);
			}
			if (used > to - off)
				abort();
			off += used;
			if (rc == SURE_HTTP_MORE) {
				if (off != to)
					abort();
				break;
			}
			h = mix(h, &rc, sizeof(rc));
			h = mix(h, &off, sizeof(off));
			if (rc < 0) {
				if (!p.reason || !p.reason[0] || rc != p.err)
					abort();
				if (p.status != 400 && p.status != 413 && p.status != 414 &&
				    p.status != 417 && p.status != 431 && p.status != 501 &&
				    p.status != 505)
					abort();
				h = mix(h, &p.status, sizeof(p.status));
				stop = 1;
			} else if (rc == SURE_HTTP_HEAD) {
				if (p.req.body_len)
					abort();
			} else {
				h = check_request(&p, su, h);
				done_n++;
				fresh_buffers(&p, su);
				if (sure_http_parser_next(&p))
					abort();
			}
		}
		from = to;
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t stream[STREAM_MAX];
	static size_t bytes[STREAM_MAX];
	struct fuzz_in in = { data, size };
	struct setup su = { 0 };
	uint8_t flags = fin_u8(&in, 1);

	su.cfg.max_head = fin_u16(&in, 0);
	su.body_cap = fin_u16(&in, 64) % (BODY_MAX + 1);
	su.cfg.max_body = su.body_cap ? fin_u16(&in, 64) % (su.body_cap + 1) : 0;
	su.head_cap = flags & 2 ? sizeof(struct sure_head) + fin_u16(&in, 512) %
						     (SURE_REQ_HEAD_CAP - sizeof(struct sure_head) + 1)
				: SURE_REQ_HEAD_CAP;
	su.direct = (flags & 4) != 0;
	su.ncuts = fin_u8(&in, 3) % 9;
	for (size_t i = 0; i < su.ncuts; i++)
		su.cuts[i] = fin_u16(&in, (uint16_t)(i * 37));
	if (flags & 1) {
		/* The built-in pipeline, patched and maybe cut short. */
		su.len = sizeof(seed) - 1;
		memcpy(stream, seed, su.len);
		uint8_t npatch = fin_u8(&in, 0) % 17;
		for (int i = 0; i < npatch; i++) {
			size_t at = fin_u16(&in, 0) % su.len;
			stream[at] = fin_u8(&in, stream[at]);
		}
		if (flags & 8)
			su.len = fin_u16(&in, (uint16_t)su.len) % (su.len + 1);
	} else {
		su.len = fin_bytes(&in, stream, sizeof(stream));
	}
	su.s = stream;
	/* Cut points in order, inside the stream (run() skips any that go back). */
	for (size_t i = 0; i < su.ncuts; i++)
		su.cuts[i] = su.len ? su.cuts[i] % (su.len + 1) : 0;
	for (size_t i = 1; i < su.ncuts; i++)
		for (size_t j = i; j > 0 && su.cuts[j - 1] > su.cuts[j]; j--) {
			size_t t = su.cuts[j];
			su.cuts[j] = su.cuts[j - 1];
			su.cuts[j - 1] = t;
		}

	uint8_t *head = malloc(su.head_cap), *body = malloc(su.body_cap ? su.body_cap : 1);
	if (!head || !body)
		abort();
	uint64_t whole = run(&su, NULL, 0, 0, head, body);
	if (size == 0 && done_n != 4)
		abort(); /* the built-in pipeline is valid as it stands */
	if (run(&su, su.cuts, su.ncuts, su.direct, head, body) != whole)
		abort();
	for (size_t i = 0; i < su.len; i++)
		bytes[i] = i + 1;
	if (run(&su, bytes, su.len, 0, head, body) != whole)
		abort();
	free(head);
	free(body);
	return 0;
}
