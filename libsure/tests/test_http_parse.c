/*
 * test_http_parse.c - the HTTP/1.1 request parser of libsure's ingress
 * (src/http_parse.c). No sockets, no VM: requests are fed as byte strings,
 * whole, byte by byte, in two pieces at every split point and pipelined
 * twice, and every way must give the same requests, heads, bodies and errors.
 */
#include <errno.h>

#include "check.h"
#include "http_parse.h"

#define MAXR 4
#define BODY_CAP 4096
#define STREAM_MAX 40000

/* Everything a run of the parser over one byte stream produced. */
struct outcome {
	int nreq; /* complete requests */
	int heads; /* SURE_HTTP_HEAD events */
	int err, status;
	size_t err_at; /* stream offset the parser had taken up to at the error */
	const char *reason;
	size_t end[MAXR]; /* stream offset just past each request */
	struct sure_http_req req[MAXR];
	uint8_t head[MAXR][SURE_REQ_HEAD_CAP];
	uint8_t body[MAXR][BODY_CAP];
};

static struct sure_http_parser P;
static uint8_t head_blk[SURE_REQ_HEAD_CAP], body_buf[BODY_CAP];
static struct outcome O_whole, O_other;
static size_t bounds[STREAM_MAX];
static struct sure_http_config CFG = { 0, 1024 };

static void start(struct sure_http_parser *p, const struct sure_http_config *cfg)
{
	memset(head_blk, 0, sizeof(head_blk));
	memset(body_buf, 0, sizeof(body_buf));
	if (sure_http_parser_init(p, cfg, head_blk, sizeof(head_blk), body_buf, sizeof(body_buf)))
		abort();
}

/* Feeds in[0..len) in the pieces ending at bounds[0..nb) (the last one len). */
static void run_pieces(const char *in, const size_t *b, size_t nb,
		       const struct sure_http_config *cfg, struct outcome *o)
{
	size_t from = 0;

	memset(o, 0, sizeof(*o));
	start(&P, cfg);
	for (size_t k = 0; k < nb && !o->err; k++) {
		size_t off = from, to = b[k];
		for (;;) {
			size_t used = 0;
			int rc = sure_http_parse(&P, (const uint8_t *)in + off, to - off, &used);
			if (used > to - off)
				abort();
			off += used;
			if (rc < 0) {
				o->err = rc;
				o->status = P.status;
				o->reason = P.reason;
				o->err_at = off;
				break;
			}
			if (rc == SURE_HTTP_HEAD)
				o->heads++;
			if (rc == SURE_HTTP_DONE) {
				if (o->nreq == MAXR)
					abort();
				o->end[o->nreq] = off;
				memcpy(&o->req[o->nreq], &P.req, sizeof(P.req));
				memcpy(o->head[o->nreq], head_blk, sizeof(head_blk));
				memcpy(o->body[o->nreq], body_buf, P.req.body_len);
				o->nreq++;
				memset(head_blk, 0, sizeof(head_blk));
				memset(body_buf, 0, sizeof(body_buf));
				CHECK_EQ(sure_http_parser_next(&P), 0);
			}
			if (rc == SURE_HTTP_MORE) {
				CHECK_EQ(off, to);
				break;
			}
		}
		from = to;
	}
}

static void run_whole(const char *in, size_t len, const struct sure_http_config *cfg,
		      struct outcome *o)
{
	bounds[0] = len;
	run_pieces(in, bounds, 1, cfg, o);
}

static int same(const struct outcome *a, const struct outcome *b)
{
	if (a->nreq != b->nreq || a->heads != b->heads || a->err != b->err ||
	    a->status != b->status || a->reason != b->reason || a->err_at != b->err_at)
		return 0;
	for (int i = 0; i < a->nreq; i++)
		if (a->end[i] != b->end[i] || memcmp(&a->req[i], &b->req[i], sizeof(a->req[i])) ||
		    memcmp(a->head[i], b->head[i], SURE_REQ_HEAD_CAP) ||
		    memcmp(a->body[i], b->body[i], a->req[i].body_len))
			return 0;
	return 1;
}

/* Runs in whole (into O_whole), then byte by byte and, for short inputs, in
 * two pieces at every split point: all must be the same. */
static const struct outcome *feed_cfg(const char *in, size_t len, const struct sure_http_config *cfg)
{
	if (len > STREAM_MAX)
		abort();
	run_whole(in, len, cfg, &O_whole);
	for (size_t i = 0; i < len; i++)
		bounds[i] = i + 1;
	run_pieces(in, bounds, len, cfg, &O_other);
	if (!same(&O_whole, &O_other)) {
		fprintf(stderr, "  byte-by-byte differs from whole\n");
		check_failed_here = 1;
	}
	for (size_t cut = 1; len < 2048 && cut < len; cut++) {
		bounds[0] = cut;
		bounds[1] = len;
		run_pieces(in, bounds, 2, cfg, &O_other);
		if (!same(&O_whole, &O_other)) {
			fprintf(stderr, "  split at %zu differs from whole\n", cut);
			check_failed_here = 1;
			break;
		}
	}
	return &O_whole;
}

static const struct outcome *feed(const char *in)
{
	return feed_cfg(in, strlen(in), &CFG);
}

static const char *S(const uint8_t *blk, struct sure_str s)
{
	return (const char *)blk + s.off;
}

static const struct sure_head *H(const struct outcome *o, int i)
{
	return (const struct sure_head *)o->head[i];
}

/* The value of header `name` in request i's head, or NULL. */
static const char *field(const struct outcome *o, int i, const char *name)
{
	const struct sure_head *h = H(o, i);

	for (uint32_t k = 0; k < h->nfields; k++)
		if (strcmp(S(o->head[i], h->field[k].name), name) == 0)
			return S(o->head[i], h->field[k].value);
	return NULL;
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* One request, complete, no error: the same when sent twice on one connection. */
static void check_twice(const char *in)
{
	static char two[STREAM_MAX];
	static struct outcome once;
	size_t len = strlen(in);

	memcpy(&once, feed(in), sizeof(once));
	CHECK_EQ(once.nreq, 1);
	CHECK_EQ(once.err, 0);
	memcpy(two, in, len);
	memcpy(two + len, in, len);
	const struct outcome *o = feed_cfg(two, 2 * len, &CFG);
	CHECK_EQ(o->nreq, 2);
	CHECK_EQ(o->end[0], len);
	CHECK_EQ(o->end[1], 2 * len);
	for (int i = 0; i < 2 && o->nreq == 2; i++) {
		CHECK(memcmp(&o->req[i], &once.req[0], sizeof(once.req[0])) == 0);
		CHECK(memcmp(o->head[i], once.head[0], SURE_REQ_HEAD_CAP) == 0);
		CHECK(memcmp(o->body[i], once.body[0], once.req[0].body_len) == 0);
	}
}

static void test_get_invoke(void)
{
	const char *in = "GET /invoke/echo HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
	const struct outcome *o = feed(in);

	CHECK_EQ(o->err, 0);
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->heads, 0); /* no body: straight to DONE */
	CHECK_EQ(o->end[0], strlen(in));
	CHECK_EQ(o->req[0].invoke, 1);
	CHECK(streq(o->req[0].name, "echo"));
	CHECK_EQ(o->req[0].name_len, 4);
	CHECK_EQ(o->req[0].minor, 1);
	CHECK_EQ(o->req[0].keep_alive, 1);
	CHECK_EQ(o->req[0].head_bytes, strlen(in));
	CHECK_EQ(o->req[0].body_len, 0);
	CHECK_EQ(H(o, 0)->magic, SURE_HEAD_MAGIC);
	CHECK_EQ(H(o, 0)->method, SURE_METHOD_GET);
	CHECK(streq(S(o->head[0], H(o, 0)->method_name), "GET"));
	CHECK(streq(S(o->head[0], H(o, 0)->path), "/"));
	CHECK(streq(S(o->head[0], H(o, 0)->query), ""));
	CHECK_EQ(H(o, 0)->nfields, 2);
	CHECK(streq(field(o, 0, "host"), "a"));
	CHECK(streq(field(o, 0, "accept"), "*/*"));
	check_twice(in);
}

/* Path below the name and raw query as runtime/gateway/invoke.ts has them. */
static void test_paths(void)
{
	static const struct {
		const char *target, *name, *path, *query;
	} cases[] = {
		{ "/invoke/fn", "fn", "/", "" },
		{ "/invoke/fn/", "fn", "/", "" },
		{ "/invoke/fn?", "fn", "/", "" },
		{ "/invoke/fn?a=1&b=?c/d", "fn", "/", "a=1&b=?c/d" },
		{ "/invoke/fn/users/7", "fn", "/users/7", "" },
		{ "/invoke/fn//x/%2F%20y?q=%41", "fn", "//x/%2F%20y", "q=%41" },
		/* a bad escape is a literal '%' (as Deno's URL parser keeps it) */
		{ "/invoke/fn/a%zz%4?z=%zz&%", "fn", "/a%zz%4", "z=%zz&%" },
		{ "/invoke/a-1/b", "a-1", "/b", "" },
		{ "/invoke/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", /* 63 */
		  "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", "/", "" },
		/* Not a function: the whole path for the server to route (or 404). */
		{ "/invoke/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", NULL,
		  "/invoke/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", "" },
		{ "/healthz?x=1", NULL, "/healthz", "x=1" },
		{ "/invoke/", NULL, "/invoke/", "" },
		{ "/invoke", NULL, "/invoke", "" },
		{ "/invoke/Fn/x", NULL, "/invoke/Fn/x", "" },
		{ "/invoke/1fn", NULL, "/invoke/1fn", "" },
		{ "/invoke/f%6e", NULL, "/invoke/f%6e", "" },
		{ "/invoke/f_n", NULL, "/invoke/f_n", "" },
		{ "/", NULL, "/", "" },
	};
	char req[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "DELETE %s HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].target);
		const struct outcome *o = feed(req);
		CHECK_EQ(o->nreq, 1);
		if (o->nreq != 1) {
			fprintf(stderr, "  %s\n", cases[i].target);
			continue;
		}
		CHECK_EQ(o->req[0].invoke, cases[i].name != NULL);
		CHECK(streq(o->req[0].name, cases[i].name ? cases[i].name : ""));
		CHECK(streq(S(o->head[0], H(o, 0)->path), cases[i].path));
		CHECK(streq(S(o->head[0], H(o, 0)->query), cases[i].query));
		CHECK_EQ(H(o, 0)->method, SURE_METHOD_DELETE);
	}
}

static void test_content_length_body(void)
{
	const char *in = "POST /invoke/fn/a?x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
			 "Content-Length: 11\r\n\r\nhello world";
	const struct outcome *o = feed(in);

	CHECK_EQ(o->err, 0);
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->heads, 1);
	CHECK_EQ(o->req[0].has_length, 1);
	CHECK_EQ(o->req[0].content_length, 11);
	CHECK_EQ(o->req[0].body_len, 11);
	CHECK(memcmp(o->body[0], "hello world", 11) == 0);
	CHECK_EQ(o->req[0].head_bytes, strlen(in) - 11);
	CHECK(streq(field(o, 0, "content-length"), "11"));
	check_twice(in);
	/* Content-Length: 0 is no body. */
	o = feed("PUT /invoke/fn HTTP/1.1\r\nHost: h\r\nContent-Length: 000\r\n\r\n");
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->heads, 0);
	CHECK_EQ(o->req[0].body_len, 0);
}

static void test_chunked_body(void)
{
	const char *in = "POST /invoke/fn HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
			 "5;ext=1;e2=\"q v\"\r\nhello\r\n"
			 "6 ; x\r\n world\r\n"
			 "000\r\nX-Trailer: t\r\nX-More:\r\n\r\n";
	const struct outcome *o = feed(in);

	CHECK_EQ(o->err, 0);
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->heads, 1);
	CHECK_EQ(o->req[0].chunked, 1);
	CHECK_EQ(o->req[0].body_len, 11);
	CHECK(memcmp(o->body[0], "hello world", 11) == 0);
	CHECK(field(o, 0, "x-trailer") == NULL); /* trailers are dropped */
	CHECK(streq(field(o, 0, "transfer-encoding"), "Chunked"));
	check_twice(in);
	/* An empty chunked body; a list with empty elements. */
	in = "POST /invoke/fn HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked,\r\n\r\n0\r\n\r\n";
	o = feed(in);
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->heads, 1);
	CHECK_EQ(o->req[0].body_len, 0);
	/* Large hex with leading zeros. */
	o = feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "0000000000000000000003\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n");
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->req[0].body_len, 13);
	CHECK(memcmp(o->body[0], "abc0123456789", 13) == 0);
}

static void test_fields(void)
{
	const char *in = "GET /invoke/fn HTTP/1.1\r\nHOST:h\r\nX-Spaces: \t a b \t \r\n"
			 "X-Empty:\r\nX-Empty2:   \r\nX-Obs: caf\xc3\xa9\r\nX-Dup: 1\r\nx-dup: 2\r\n"
			 "X-Request-Id: abc.DEF_1:2-3\r\n\r\n";
	const struct outcome *o = feed(in);
	const struct sure_head *h = H(o, 0);

	CHECK_EQ(o->nreq, 1);
	CHECK(streq(field(o, 0, "host"), "h"));
	CHECK(streq(field(o, 0, "x-spaces"), "a b"));
	CHECK(streq(field(o, 0, "x-empty"), ""));
	CHECK(streq(field(o, 0, "x-empty2"), ""));
	CHECK(streq(field(o, 0, "x-obs"), "caf\xc3\xa9"));
	/* Repeated names stay separate fields, in order. */
	CHECK_EQ(h->nfields, 7);
	CHECK(streq(S(o->head[0], h->field[5].value), "1"));
	CHECK(streq(S(o->head[0], h->field[6].name), "x-dup"));
	CHECK(streq(S(o->head[0], h->field[6].value), "2"));
	/* The id is reported, never in the head. */
	CHECK(field(o, 0, "x-request-id") == NULL);
	CHECK(streq(o->req[0].request_id, "abc.DEF_1:2-3"));
	CHECK_EQ(o->req[0].id_len, 13);
	check_twice(in);
}

static void test_request_id(void)
{
	static char big[400];
	const struct outcome *o;

	o = feed("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a b\r\n\r\n");
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->req[0].id_len, 0);
	CHECK(field(o, 0, "x-request-id") == NULL);
	o = feed("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\r\nx-request-id: b\r\n\r\n");
	CHECK_EQ(o->req[0].id_len, 0); /* two: neither */
	o = feed("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id:\r\n\r\n");
	CHECK_EQ(o->req[0].id_len, 0);
	for (int len = 127; len <= 129; len++) {
		int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: ");
		memset(big + n, 'i', (size_t)len);
		strcpy(big + n + len, "\r\n\r\n");
		o = feed(big);
		CHECK_EQ(o->nreq, 1);
		CHECK_EQ(o->req[0].id_len, len <= 128 ? len : 0);
		CHECK_EQ(strlen(o->req[0].request_id), len <= 128 ? (size_t)len : 0);
	}
}

static void test_connection(void)
{
	static const struct {
		const char *in;
		int keep;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: x \t, close ,,\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\n\r\n", 0 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: foo,\r\nConnection: keep-alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct outcome *o = feed(cases[i].in);
		CHECK_EQ(o->nreq, 1);
		CHECK_EQ(o->req[0].keep_alive, cases[i].keep);
	}
}

static void test_expect(void)
{
	const struct outcome *o;

	o = feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nab");
	CHECK_EQ(o->heads, 1);
	CHECK_EQ(o->req[0].expect_continue, 1);
	o = feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	CHECK_EQ(o->req[0].expect_continue, 1);
	o = feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab");
	CHECK_EQ(o->req[0].expect_continue, 0); /* a 1.0 client never waits */
	o = feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
	CHECK_EQ(o->req[0].expect_continue, 0); /* no body to wait for */
	o = feed("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\nContent-Length: 1\r\n\r\na");
	CHECK_EQ(o->nreq, 0); /* an expectation it cannot meet: 417, before the body */
	CHECK_EQ(o->status, 417);
	CHECK_EQ(o->err, -EPROTO);

	/* The server sees the expectation before any body byte has arrived. */
	const char *in = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
	size_t used = 0;
	start(&P, &CFG);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	CHECK_EQ(used, strlen(in));
	CHECK_EQ(P.req.expect_continue, 1);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"", 0, &used), SURE_HTTP_MORE);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"abcGET", 6, &used), SURE_HTTP_DONE);
	CHECK_EQ(used, 3);
}

/* Different requests back to back, with blank lines between them. */
static void test_pipelined(void)
{
	const char *a = "POST /invoke/a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxy";
	const char *b = "\r\n\r\nGET /invoke/b/p?q HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *c = "PUT /invoke/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n";
	char in[1024];

	snprintf(in, sizeof(in), "%s%s%s", a, b, c);
	const struct outcome *o = feed(in);
	CHECK_EQ(o->err, 0);
	CHECK_EQ(o->nreq, 3);
	CHECK_EQ(o->heads, 2);
	CHECK_EQ(o->end[0], strlen(a));
	CHECK_EQ(o->end[1], strlen(a) + strlen(b));
	CHECK_EQ(o->end[2], strlen(in));
	CHECK(streq(o->req[0].name, "a"));
	CHECK(memcmp(o->body[0], "xy", 2) == 0);
	CHECK(streq(o->req[1].name, "b"));
	CHECK(streq(S(o->head[1], H(o, 1)->path), "/p"));
	CHECK(streq(S(o->head[1], H(o, 1)->query), "q"));
	CHECK_EQ(o->req[1].body_len, 0);
	CHECK(streq(o->req[2].name, "c"));
	CHECK_EQ(o->req[2].body_len, 1);
	CHECK(memcmp(o->body[2], "z", 1) == 0);
	/* A partial request after a complete one waits for more. */
	o = feed("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HT");
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->err, 0);
}

/* A malformed (or refused) request and the status it is answered with. */
struct bad {
	const char *in;
	int status;
};

static const struct bad bad_cases[] = {
	/* request smuggling (RFC 9112 6.1, 6.3, 11.2) */
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
	/* an expectation other than 100-continue, in any version (RFC 9110 10.1.1) */
	{ "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n", 417 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n", 417 },
	{ "POST / HTTP/1.0\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx", 417 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400 },
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\rX-B: 2\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\rHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\nHost: h\n\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\n\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n x-folded\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01z\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fz\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\x02\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400 },
	/* Host (RFC 9112 3.2) */
	{ "GET / HTTP/1.1\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400 },
	/* request line */
	{ "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505 },
	{ "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505 },
	{ "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505 },
	{ "GET / http/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/11\r\nHost: h\r\n\r\n", 400 },
	{ "GET /\r\nHost: h\r\n\r\n", 400 },
	{ "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /?q={} HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	/* chunked bodies */
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a\x01\r\nabc\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded\r\n\r\n", 400 },
	/* body limit (1024 here) */
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n", 413 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n", 413 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n", 413 },
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const char *in = bad_cases[i].in;
		size_t len = strlen(in);
		const struct outcome *o = feed_cfg(in, len, &CFG);
		if (o->status != bad_cases[i].status) {
			fprintf(stderr, "  case %zu: status %d, expected %d\n", i, o->status,
				bad_cases[i].status);
			check_failed_here = 1;
		}
		CHECK_EQ(o->nreq, 0);
		CHECK(o->reason != NULL && o->reason[0] != 0);
	}
	/* The NUL in a value (strlen stops at it above). */
	static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0z\r\n\r\n";
	const struct outcome *o = feed_cfg(nul, sizeof(nul) - 1, &CFG);
	CHECK_EQ(o->status, 400);
	static const char nul_name[] = "GET / HTTP/1.1\r\nHost: h\r\nX\0A: a\r\n\r\n";
	o = feed_cfg(nul_name, sizeof(nul_name) - 1, &CFG);
	CHECK_EQ(o->status, 400);
	static const char nul_target[] = "GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n";
	o = feed_cfg(nul_target, sizeof(nul_target) - 1, &CFG);
	CHECK_EQ(o->status, 400);
	/* A chunk exactly at the limit is fine; one byte more is not. */
	char in[2200];
	int n = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3FF\r\n");
	memset(in + n, 'b', 1023);
	strcpy(in + n + 1023, "\r\n2\r\ncc\r\n0\r\n\r\n");
	o = feed(in);
	CHECK_EQ(o->status, 413);
	CHECK_EQ(o->nreq, 0);
	strcpy(in + n + 1023, "\r\n0\r\n\r\n");
	o = feed(in);
	CHECK_EQ(o->nreq, 1);
	CHECK_EQ(o->req[0].body_len, 1023);
}

/* Errors stick, and 413 for a Content-Length comes before any body byte. */
static void test_error_state(void)
{
	const char *in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\nabc";
	size_t used = 0;

	start(&P, &CFG);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), -EFBIG);
	CHECK_EQ(P.status, 413);
	CHECK(used <= strlen(in) - 3);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"x", 1, &used), -EFBIG);
	CHECK_EQ(used, 0);
	CHECK_EQ(sure_http_parser_next(&P), -EINVAL);
	/* After DONE nothing is taken until next(). */
	in = "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET";
	start(&P, &CFG);
	CHECK(sure_http_parser_idle(&P));
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_DONE);
	CHECK_EQ(used, strlen(in) - 3);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"GET", 3, &used), SURE_HTTP_DONE);
	CHECK_EQ(used, 0);
	CHECK_EQ(sure_http_parser_next(&P), 0);
	CHECK(sure_http_parser_idle(&P));
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"\r\n", 2, &used), SURE_HTTP_MORE);
	CHECK(!sure_http_parser_idle(&P));
	/* Errnos for each status. */
	static const struct {
		const char *in;
		int rc;
	} e[] = {
		{ "GET / HTTP/1.1\r\n\r\n", -EBADMSG },
		{ "GET / HTTP/3.0\r\n\r\n", -EPROTONOSUPPORT },
		{ "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n", -EOPNOTSUPP },
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		start(&P, &CFG);
		CHECK_EQ(sure_http_parse(&P, (const uint8_t *)e[i].in, strlen(e[i].in), &used), e[i].rc);
	}
	CHECK_EQ(sure_http_parse(&P, NULL, 1, &used), -EINVAL);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"x", 1, NULL), -EINVAL);
	struct sure_http_config big = { 0, BODY_CAP + 1 };
	CHECK_EQ(sure_http_parser_init(&P, &big, head_blk, sizeof(head_blk), body_buf, BODY_CAP), -EINVAL);
	CHECK_EQ(sure_http_parser_init(&P, &CFG, head_blk, SURE_REQ_HEAD_CAP + 1, body_buf, BODY_CAP),
		 -EINVAL);
	CHECK_EQ(sure_http_parser_init(&P, &CFG, head_blk, 8, body_buf, BODY_CAP), -EINVAL);
}

/* 414, 431: the line buffer, the raw head limit, the head block. */
static void test_head_limits(void)
{
	static char in[STREAM_MAX];
	const struct outcome *o;
	int n;

	/* A request line of exactly SURE_HTTP_LINE_MAX bytes passes, one more is 414. */
	for (int extra = 0; extra <= 1; extra++) {
		n = snprintf(in, sizeof(in), "GET /");
		size_t tlen = SURE_HTTP_LINE_MAX - strlen("GET / HTTP/1.1\r\n") + (size_t)extra;
		memset(in + n, 'a', tlen);
		strcpy(in + n + tlen, " HTTP/1.1\r\nHost: h\r\n\r\n");
		o = feed(in);
		CHECK_EQ(o->status, extra ? 414 : 0);
		CHECK_EQ(o->nreq, extra ? 0 : 1);
	}
	/* A field line over the line buffer: 431. */
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
	memset(in + n, 'v', SURE_HTTP_LINE_MAX);
	strcpy(in + n + SURE_HTTP_LINE_MAX, "\r\n\r\n");
	o = feed(in);
	CHECK_EQ(o->status, 431);
	/* The raw head over max_head: 431 (414 while still in the request line). */
	struct sure_http_config small = { 200, 1024 };
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\n");
	while (n < 300)
		n += snprintf(in + n, sizeof(in) - (size_t)n, "X-A: 1\r\n");
	strcpy(in + n, "\r\n");
	o = feed_cfg(in, strlen(in), &small);
	CHECK_EQ(o->status, 431);
	o = feed_cfg("\r\n\r\n\r\nGET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n",
		     strlen("\r\n\r\n\r\nGET /") + 200 + strlen(" HTTP/1.1\r\n"), &small);
	CHECK_EQ(o->status, 414);
	/* Exactly at max_head passes. */
	struct sure_http_config exact = { (uint32_t)strlen("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0 };
	o = feed_cfg("GET / HTTP/1.1\r\nHost: h\r\n\r\n", exact.max_head, &exact);
	CHECK_EQ(o->nreq, 1);
	exact.max_head--;
	o = feed_cfg("GET / HTTP/1.1\r\nHost: h\r\n\r\n", exact.max_head + 1, &exact);
	CHECK_EQ(o->status, 431);
	/* Fields: SURE_HEAD_MAX_FIELDS - 1 from the caller (one is the server's id). */
	for (int extra = 0; extra <= 1; extra++) {
		n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\n");
		for (uint32_t i = 1; i < SURE_HEAD_MAX_FIELDS - 1 + (uint32_t)extra; i++)
			n += snprintf(in + n, sizeof(in) - (size_t)n, "X-%u: v\r\n", i);
		strcpy(in + n, "\r\n");
		o = feed(in);
		CHECK_EQ(o->status, extra ? 431 : 0);
		CHECK_EQ(o->nreq, extra ? 0 : 1);
		if (o->nreq)
			CHECK_EQ(H(o, 0)->nfields, SURE_HEAD_MAX_FIELDS - 1);
	}
	/* The head block full (strings), with room kept for the server's id. */
	struct sure_http_config roomy = { STREAM_MAX, 1024 };
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < 4; i++) {
		n += snprintf(in + n, sizeof(in) - (size_t)n, "X-%d: ", i);
		memset(in + n, 'v', 4100);
		n += 4100;
		n += snprintf(in + n, sizeof(in) - (size_t)n, "\r\n");
	}
	strcpy(in + n, "\r\n");
	o = feed_cfg(in, strlen(in), &roomy);
	CHECK_EQ(o->status, 431);
	/* Fewer bytes fit: whatever is accepted leaves room for the id field. */
	for (size_t vlen = 16000; vlen > 15500; vlen -= 10) {
		n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\nX: ");
		/* split over two fields: a line holds at most SURE_HTTP_LINE_MAX */
		memset(in + n, 'v', vlen / 2);
		n += (int)(vlen / 2);
		n += snprintf(in + n, sizeof(in) - (size_t)n, "\r\nY: ");
		memset(in + n, 'w', vlen - vlen / 2);
		n += (int)(vlen - vlen / 2);
		strcpy(in + n, "\r\n\r\n");
		run_whole(in, strlen(in), &roomy, &O_whole);
		if (O_whole.nreq == 1) {
			uint8_t *blk = O_whole.head[0];
			CHECK_EQ(sure_http_head_add(blk, "x-request-id", 12,
						    "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii"
						    "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii",
						    128),
				 0);
		} else {
			CHECK_EQ(O_whole.status, 431);
		}
	}
}

/* A lower limit once the function is known; a body received in place. */
static void test_limit_and_direct_body(void)
{
	const char *in = "POST /invoke/fn HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
	size_t used = 0;
	uint8_t *dst = NULL;

	start(&P, &CFG);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	CHECK_EQ(sure_http_limit_body(&P, 9), -EFBIG);
	CHECK_EQ(P.status, 413);

	start(&P, &CFG);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	CHECK_EQ(sure_http_limit_body(&P, BODY_CAP + 1), -EINVAL);
	CHECK_EQ(sure_http_limit_body(&P, 10), 0);
	CHECK_EQ(sure_http_body_room(&P, &dst), 10);
	CHECK(dst == body_buf);
	memcpy(dst, "01234", 5);
	CHECK_EQ(sure_http_body_commit(&P, 5), SURE_HTTP_MORE);
	CHECK_EQ(sure_http_limit_body(&P, 10), -EINVAL); /* the body has begun */
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"567", 3, &used), SURE_HTTP_MORE);
	CHECK_EQ(sure_http_body_room(&P, &dst), 2);
	CHECK(dst == body_buf + 8);
	CHECK_EQ(sure_http_body_commit(&P, 3), -EINVAL);
	memcpy(dst, "89", 2);
	CHECK_EQ(sure_http_body_commit(&P, 2), SURE_HTTP_DONE);
	CHECK_EQ(P.req.body_len, 10);
	CHECK(memcmp(body_buf, "0123456789", 10) == 0);
	CHECK_EQ(sure_http_body_room(&P, &dst), 0);

	/* chunked: the limit applies to the chunks that follow */
	in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
	start(&P, &CFG);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	CHECK_EQ(sure_http_body_room(&P, &dst), 0);
	CHECK_EQ(sure_http_limit_body(&P, 4), 0);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"4\r\nabcd\r\n1\r\n", 12, &used), -EFBIG);
}

/* The head block is the caller's size: a small one fills up sooner (431). */
static void test_small_head_block(void)
{
	static uint8_t small[sizeof(struct sure_head) + 64];
	const char *in = "GET /invoke/fn/a-rather-long-path-that-does-not-fit HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t used = 0;

	CHECK_EQ(sure_http_parser_init(&P, &CFG, small, sizeof(small), body_buf, BODY_CAP), 0);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), -E2BIG);
	CHECK_EQ(P.status, 431);
	/* The target alone does not fit. */
	in = "GET /invoke/fn/a-path-much-too-long-for-a-block-of-sixty-four-bytes-of-strings HTTP/1.1\r\n";
	CHECK_EQ(sure_http_parser_init(&P, &CFG, small, sizeof(small), body_buf, BODY_CAP), 0);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), -E2BIG);
	CHECK_EQ(used, strlen(in));
	/* Every field fits, but then the server's x-request-id would not. */
	static uint8_t mid[sizeof(struct sure_head) + 2 * sizeof(struct sure_head_field) + 150];
	in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	CHECK_EQ(sure_http_parser_init(&P, &CFG, mid, sizeof(mid), body_buf, BODY_CAP), 0);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), -E2BIG);
	CHECK_EQ(((const struct sure_head *)mid)->nfields, 1);
}

/* No body buffer at init: each body gets its own at the head (set_body). */
static void test_set_body(void)
{
	const char *in = "POST /invoke/fn HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
	static uint8_t mine[16];
	size_t used = 0;
	uint8_t *dst = NULL;

	CHECK_EQ(sure_http_parser_init(&P, &CFG, head_blk, sizeof(head_blk), NULL, 0), 0);
	CHECK_EQ(sure_http_set_body(&P, mine, sizeof(mine)), -EINVAL); /* no head yet */
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	/* The body is due but has nowhere to go: refused, nothing taken. */
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"0123", 4, &used), -EINVAL);
	CHECK_EQ(used, 0);
	CHECK_EQ(sure_http_body_room(&P, &dst), 0);
	CHECK(dst == NULL);
	CHECK_EQ(sure_http_body_commit(&P, 1), -EINVAL);
	CHECK_EQ(sure_http_set_body(&P, NULL, 4), -EINVAL);
	CHECK_EQ(sure_http_set_body(&P, mine, sizeof(mine)), 0);
	CHECK_EQ(P.cfg.max_body, sizeof(mine)); /* lowered to the buffer */
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)"0123", 4, &used), SURE_HTTP_MORE);
	CHECK_EQ(sure_http_set_body(&P, mine, sizeof(mine)), -EINVAL); /* the body has begun */
	CHECK_EQ(sure_http_body_room(&P, &dst), 6);
	CHECK(dst == mine + 4);
	memcpy(dst, "456789", 6);
	CHECK_EQ(sure_http_body_commit(&P, 6), SURE_HTTP_DONE);
	CHECK(memcmp(mine, "0123456789", 10) == 0);

	/* A Content-Length over the buffer: 413 at once. */
	CHECK_EQ(sure_http_parser_init(&P, &CFG, head_blk, sizeof(head_blk), NULL, 0), 0);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	CHECK_EQ(sure_http_set_body(&P, mine, 9), -EFBIG);
	CHECK_EQ(P.status, 413);

	/* chunked: a bigger buffer keeps the configured limit; chunks land in it */
	in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
	CHECK_EQ(sure_http_parser_init(&P, &CFG, head_blk, sizeof(head_blk), NULL, 0), 0);
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_HEAD);
	CHECK_EQ(sure_http_set_body(&P, body_buf, BODY_CAP), 0);
	CHECK_EQ(P.cfg.max_body, CFG.max_body);
	in = "3\r\nabc\r\n0\r\n\r\n";
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_DONE);
	CHECK_EQ(P.req.body_len, 3);
	CHECK(memcmp(body_buf, "abc", 3) == 0);
	/* A request without a body never needs one. */
	CHECK_EQ(sure_http_parser_next(&P), 0);
	in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	CHECK_EQ(sure_http_parse(&P, (const uint8_t *)in, strlen(in), &used), SURE_HTTP_DONE);
	CHECK_EQ(sure_http_set_body(&P, mine, sizeof(mine)), -EINVAL);
	CHECK_EQ(sure_http_set_body(NULL, mine, sizeof(mine)), -EINVAL);
}

int main(void)
{
	RUN(test_get_invoke);
	RUN(test_paths);
	RUN(test_content_length_body);
	RUN(test_chunked_body);
	RUN(test_fields);
	RUN(test_request_id);
	RUN(test_connection);
	RUN(test_expect);
	RUN(test_pipelined);
	RUN(test_refused);
	RUN(test_error_state);
	RUN(test_head_limits);
	RUN(test_limit_and_direct_body);
	RUN(test_small_head_block);
	RUN(test_set_body);
	return CHECK_DONE();
}
