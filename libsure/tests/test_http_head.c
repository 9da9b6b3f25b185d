/*
 * test_http_head.c - the head blocks of sure_http_abi.h on the host: the C
 * writer of request heads (what libsure's own HTTP ingress will use) and
 * the checker of response heads a guest wrote. No VM.
 */
#include <errno.h>

#include "check.h"
#include "http_head.h"

static uint8_t blk[SURE_REQ_HEAD_CAP];
static uint8_t resp[SURE_RESP_HEAD_CAP], copy[SURE_RESP_HEAD_CAP];

static const struct sure_head *H(const uint8_t *b)
{
	return (const struct sure_head *)b;
}

static const char *S(const uint8_t *b, struct sure_str s)
{
	return (const char *)b + s.off;
}

static void test_request_head(void)
{
	CHECK_EQ(sure_http_head_init(blk, sizeof(blk), "PATCH", 5, "/users/7", 8, "a=1&b", 5), 0);
	CHECK_EQ(sure_http_head_add(blk, "Content-Type", 12, "text/plain", 10), 0);
	CHECK_EQ(sure_http_head_add(blk, "X-Empty", 7, "", 0), 0);
	const struct sure_head *h = H(blk);
	CHECK_EQ(h->magic, SURE_HEAD_MAGIC);
	CHECK_EQ(h->method, SURE_METHOD_PATCH);
	CHECK(strcmp(S(blk, h->method_name), "PATCH") == 0);
	CHECK(strcmp(S(blk, h->path), "/users/7") == 0);
	CHECK(strcmp(S(blk, h->query), "a=1&b") == 0);
	CHECK_EQ(h->nfields, 2);
	CHECK(strcmp(S(blk, h->field[0].name), "content-type") == 0); /* lower case */
	CHECK(strcmp(S(blk, h->field[0].value), "text/plain") == 0);
	CHECK_EQ(h->field[1].value.len, 0);
	/* Strings never overlap the table. */
	CHECK(h->str_lo >= sizeof(struct sure_head) + 2 * sizeof(struct sure_head_field));

	CHECK_EQ(sure_http_head_init(blk, sizeof(blk), "BREW", 4, "", 0, "", 0), 0);
	CHECK_EQ(H(blk)->method, SURE_METHOD_OTHER);
	CHECK(strcmp(S(blk, H(blk)->path), "/") == 0);
	CHECK_EQ(sure_http_head_init(blk, sizeof(blk), "", 0, "/", 1, "", 0), -EINVAL);
	CHECK_EQ(sure_http_head_init(blk, SURE_REQ_HEAD_CAP + 1, "GET", 3, "/", 1, "", 0), -EINVAL);
}

/* A block that fills up says so (431) and keeps what it had. */
static void test_request_head_full(void)
{
	static char big[SURE_REQ_HEAD_CAP];
	int rc = 0, n = 0;

	memset(big, 'v', sizeof(big));
	CHECK_EQ(sure_http_head_init(blk, sizeof(blk), "GET", 3, "/", 1, "", 0), 0);
	CHECK_EQ(sure_http_head_add(blk, "x", 1, big, sizeof(big)), -ENOSPC);
	CHECK_EQ(H(blk)->nfields, 0);
	CHECK_EQ(H(blk)->str_lo, sizeof(blk) - 7); /* "GET", "/" and "" with their NULs */
	while (rc == 0 && n < 1000) {
		rc = sure_http_head_add(blk, "h", 1, "v", 1);
		n++;
	}
	CHECK_EQ(rc, -E2BIG);
	CHECK_EQ(H(blk)->nfields, SURE_HEAD_MAX_FIELDS);
}

/* The guest side's writer, as libsg does it: fields up, strings down. */
static void add(uint8_t *b, const char *name, const char *value)
{
	struct sure_head *h = (struct sure_head *)b;
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;

	h->str_lo -= (uint32_t)nl;
	memcpy(b + h->str_lo, name, nl);
	h->field[h->nfields].name = (struct sure_str){ h->str_lo, (uint32_t)nl - 1 };
	h->str_lo -= (uint32_t)vl;
	memcpy(b + h->str_lo, value, vl);
	h->field[h->nfields].value = (struct sure_str){ h->str_lo, (uint32_t)vl - 1 };
	h->nfields++;
}

static int check_one(const char *name, const char *value, char *err)
{
	sure_http_resp_head_reset(resp);
	add(resp, name, value);
	return sure_http_resp_head_take(resp, copy, err, 200);
}

static void test_response_head(void)
{
	char err[200];

	sure_http_resp_head_reset(resp);
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), 0);
	add(resp, "Content-Type", "application/json");
	add(resp, "set-cookie", "a=1; Path=/");
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), 2);
	CHECK(strcmp(S(copy, H(copy)->field[1].value), "a=1; Path=/") == 0);

	/* Every hop-by-hop and framing header, in any case. */
	const char *reserved[] = { "Connection", "keep-alive", "Transfer-Encoding", "TE",
				   "trailer", "Upgrade", "Content-Length", "Proxy-Connection",
				   "proxy-authenticate", "Proxy-Authorization" };
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		CHECK_EQ(check_one(reserved[i], "x", err), -EPERM);
		CHECK(strstr(err, reserved[i]) != NULL);
	}
	/* The node's own namespace, in any case: x-sure-hop-next would steer a
	 * chain between nodes. Names that only look alike are a function's. */
	const char *own[] = { "x-sure-hop-next", "X-Sure-Node", "x-sure-", "X-SURE-HOP-MAC" };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		CHECK_EQ(check_one(own[i], "1 2 200 1", err), -EPERM);
		CHECK(strstr(err, "the node's own") != NULL);
	}
	CHECK_EQ(check_one("x-sure", "v", err), 1);
	CHECK_EQ(check_one("x-surely", "v", err), 1);
	CHECK_EQ(check_one("x-a", "one\r\nSet-Cookie: evil=1", err), -EINVAL);
	CHECK(strstr(err, "x-a") && strstr(err, "control character"));
	CHECK_EQ(check_one("x-a", "bell\x07", err), -EINVAL);
	CHECK_EQ(check_one("x-a", "tab\tand utf-8 \xc3\xa9", err), 1);
	CHECK_EQ(check_one("bad name", "v", err), -EINVAL);
	CHECK(strstr(err, "bad name") && strstr(err, "token"));
	CHECK_EQ(check_one("", "v", err), -EINVAL);
	CHECK_EQ(check_one("x:y", "v", err), -EINVAL);
	/* A name with a newline is shown without it. */
	CHECK_EQ(check_one("a\nb", "v", err), -EINVAL);
	CHECK(strchr(err, '\n') == NULL);
}

static void test_response_head_malformed(void)
{
	char err[200];
	struct sure_head *h = (struct sure_head *)resp;

	sure_http_resp_head_reset(resp);
	add(resp, "a", "b");
	h->field[0].value.off = SURE_RESP_HEAD_CAP - 1; /* no room for the NUL */
	h->field[0].value.len = 1;
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), -EPROTO);
	sure_http_resp_head_reset(resp);
	add(resp, "a", "b");
	h->field[0].name.off = 8; /* inside the table */
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), -EPROTO);
	sure_http_resp_head_reset(resp);
	add(resp, "a", "b");
	h->nfields = 100000;
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), -EPROTO);
	sure_http_resp_head_reset(resp);
	add(resp, "a", "b");
	h->field[0].value.len = 0xffffffffu;
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), -EPROTO);
	sure_http_resp_head_reset(resp);
	add(resp, "a", "b");
	h->magic = 0;
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), -EPROTO);
	/* No headers: nothing to check, whatever else the block says. */
	h->nfields = 0;
	CHECK_EQ(sure_http_resp_head_take(resp, copy, err, sizeof(err)), 0);
}

/* The node writes into the copy it took (traceparent, x-sure-hop-next):
 * whatever cursor, capacity, magic or count the guest wrote, those writes
 * land inside the copy's block, and the copy holds the guest's fields and the
 * node's, in order. The copy sits between two guard areas that must stay
 * untouched. */
static void test_taken_copy_is_the_nodes(void)
{
	static uint8_t guarded[3 * SURE_RESP_HEAD_CAP];
	uint8_t *dst = guarded + SURE_RESP_HEAD_CAP;
	struct sure_head *h = (struct sure_head *)resp;
	const uint32_t cursors[] = { 0, 1, SURE_RESP_HEAD_CAP, SURE_RESP_HEAD_CAP + 4096,
				     SURE_REQ_HEAD_CAP, 1u << 20, 0xffffffffu };
	char err[200];

	for (size_t k = 0; k < sizeof(cursors) / sizeof(cursors[0]); k++) {
		for (int fields = 0; fields < 2; fields++) {
			sure_http_resp_head_reset(resp);
			if (fields)
				add(resp, "X-Mine", "v");
			h->str_lo = cursors[k];
			h->cap = cursors[(k + 3) % (sizeof(cursors) / sizeof(cursors[0]))];
			memset(guarded, 0xa5, sizeof(guarded));
			CHECK_EQ(sure_http_resp_head_take(resp, dst, err, sizeof(err)), fields);
			for (int i = 0; i < 40; i++)
				sure_http_head_add(dst, "traceparent", 11, "00-0123456789abcdef", 19);
			for (uint32_t i = 0; i < SURE_RESP_HEAD_CAP; i++)
				if (guarded[i] != 0xa5 || guarded[2 * SURE_RESP_HEAD_CAP + i] != 0xa5) {
					CHECK(!"a write outside the taken copy");
					break;
				}
			const struct sure_head *d = H(dst);
			CHECK_EQ(d->cap, SURE_RESP_HEAD_CAP);
			CHECK(d->str_lo <= SURE_RESP_HEAD_CAP);
			CHECK_EQ(d->nfields, (uint32_t)fields + 40);
			if (fields) /* the guest's case is kept: it goes to the wire so */
				CHECK(strcmp(S(dst, d->field[0].name), "X-Mine") == 0);
			CHECK(strcmp(S(dst, d->field[fields].name), "traceparent") == 0);
		}
	}
	/* Fields that pass the check one by one but cannot all fit once laid
	 * out (every one points at the same long value) are refused whole. */
	sure_http_resp_head_reset(resp);
	add(resp, "x-a", "");
	char big[2048];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	add(resp, "x-b", big);
	for (uint32_t i = 2; i < 8; i++)
		h->field[i] = h->field[1];
	h->nfields = 8;
	CHECK_EQ(sure_http_resp_head_take(resp, dst, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "do not fit") != NULL);
	CHECK_EQ(H(dst)->nfields, 0);
}

/* A field dropped is gone from the table and from the block's bytes; the
 * others stay, in order, and the block still takes more. */
static void test_drop(void)
{
	static const char secret[] = "Bearer 0123456789abcdef";

	CHECK_EQ(sure_http_head_init(blk, sizeof(blk), "POST", 4, "/", 1, "", 0), 0);
	CHECK_EQ(sure_http_head_add(blk, "Authorization", 13, secret, sizeof(secret) - 1), 0);
	CHECK_EQ(sure_http_head_add(blk, "Host", 4, "h", 1), 0);
	CHECK_EQ(sure_http_head_add(blk, "authorization", 13, "x", 1), 0);
	CHECK_EQ(sure_http_head_add(blk, "authorization-hint", 18, "1", 1), 0);
	sure_http_head_drop(blk, "authorization");
	const struct sure_head *h = H(blk);
	uint32_t len = 0;
	CHECK_EQ(h->nfields, 2);
	CHECK(strcmp(S(blk, h->field[0].name), "host") == 0);
	CHECK(strcmp(S(blk, h->field[1].name), "authorization-hint") == 0);
	CHECK(sure_http_head_get(blk, "authorization", &len) == NULL);
	CHECK(memmem(blk, sizeof(blk), "0123456789abcdef", 16) == NULL);
	CHECK(memmem(blk, sizeof(blk), "authorization\0", 14) == NULL);
	CHECK_EQ(h->field[2].name.len, 0); /* the freed slots too */
	CHECK_EQ(sure_http_head_add(blk, "x-request-id", 12, "r", 1), 0);
	CHECK_EQ(h->nfields, 3);
	sure_http_head_drop(blk, "absent");
	CHECK_EQ(h->nfields, 3);
}

int main(void)
{
	RUN(test_request_head);
	RUN(test_request_head_full);
	RUN(test_response_head);
	RUN(test_response_head_malformed);
	RUN(test_taken_copy_is_the_nodes);
	RUN(test_drop);
	return CHECK_DONE();
}
