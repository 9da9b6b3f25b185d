/*
 * test_hop_resp.c - the parser of another node's answer to a chain hop
 * (src/hop_resp.c) on answers as sure's data plane writes them, and on the
 * malformed ones it must refuse. No VM, no socket.
 */
#include <errno.h>

#include "check.h"
#include "hop_resp.h"
#include "libsure.h"

static uint8_t hdrs[SURE_RESP_HEAD_CAP];

static int parse(const char *text, struct sure_hop_resp *r, char *err)
{
	sure_http_resp_head_reset(hdrs);
	return sure_hop_resp_parse((const uint8_t *)text, strlen(text), r, hdrs, err, 128);
}

static const char *field(uint32_t i, int value)
{
	const struct sure_head *h = (const struct sure_head *)hdrs;
	const struct sure_str s = value ? h->field[i].value : h->field[i].name;
	return (const char *)hdrs + s.off;
}

static void test_hand_back(void)
{
	struct sure_hop_resp r;
	char err[128];
	const char *a = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
			"x-sure-hop-next: 1 2 201 3\r\ntraceparent: "
			"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
			"x-custom: kept\r\ndate: Thu, 03 Dec 2026 10:00:00 GMT\r\n"
			"x-sure-hop-mac: 0123456789abcdef0123456789abcdef"
			"0123456789abcdef0123456789abcdef\r\nX-Sure-Node: b\r\n"
			"x-request-id: abc\r\ncontent-length: 5\r\n\r\nhello";
	int rc = parse(a, &r, err);
	CHECK_EQ(rc, (int)(strlen(a) - 5));
	CHECK_EQ(r.status, 200);
	CHECK_EQ(r.content_length, 5);
	CHECK(r.has_next && r.from == 1 && r.to == 2 && r.next_status == 201 && r.hops == 3);
	CHECK(r.has_trace && r.trace[0] == 0x0a && r.trace[16] == 0xb7 && r.trace[24] == 1);
	CHECK(r.keep_alive);
	CHECK(r.has_mac && !memcmp(r.mac, "0123456789abcdef", 16) && r.mac[63] == 'f');
	/* Kept: the steps' own headers; dropped: framing, the node's own (x-sure-*
	 * too), the default type. */
	CHECK_EQ(((const struct sure_head *)hdrs)->nfields, 1);
	CHECK(strcmp(field(0, 0), "x-custom") == 0 && strcmp(field(0, 1), "kept") == 0);
}

static void test_final_and_partial(void)
{
	struct sure_hop_resp r;
	char err[128];
	const char *a = "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\n"
			"connection: close\r\ncontent-length: 2\r\n\r\n{}";
	CHECK(parse(a, &r, err) > 0);
	CHECK_EQ(r.status, 502);
	CHECK(!r.has_next && !r.keep_alive);
	CHECK(strcmp(field(0, 1), "application/json") == 0);
	/* Not all there yet: 0, whatever the cut. */
	for (size_t cut = 0; cut < strlen(a) - 2; cut++) {
		sure_http_resp_head_reset(hdrs);
		int rc = sure_hop_resp_parse((const uint8_t *)a, cut, &r, hdrs, err, sizeof(err));
		CHECK(rc == 0 || cut >= strlen(a) - 2);
	}
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n", /* no content-length */
		"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nx: a\nb\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: x\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nx-sure-hop-next: 1 2 3\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nx-sure-hop-next: 1 2 3 99999999999\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nx-sure-hop-mac: abc\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nx-sure-hop-mac: 0123456789abcdef0123456789abcdef0123456789abcdef"
		"0123456789abcdef\r\nx-sure-hop-mac: 0123456789abcdef0123456789abcdef0123456789abcdef"
		"0123456789abcdef\r\ncontent-length: 0\r\n\r\n",
	};
	struct sure_hop_resp r;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r, err);
		if (rc != -EBADMSG)
			fprintf(stderr, "  case %zu: %d\n", i, rc);
		CHECK_EQ(rc, -EBADMSG);
		CHECK(err[0] != 0);
	}
	/* A head that never ends: refused once it is longer than any answer's. */
	static uint8_t big[SURE_HOP_HEAD_MAX + 8];
	memset(big, 'a', sizeof(big));
	CHECK_EQ(sure_hop_resp_parse(big, sizeof(big), &r, hdrs, err, sizeof(err)), -EBADMSG);
}

/* The numbers of x-sure-hop and x-sure-hop-next: digits and single spaces only. */
static void test_numbers(void)
{
	static const char *const bad[] = {
		"", "1 2 3", "1 2 3 4 5", "+1 2 3 4", "-0 2 3 4", " 1 2 3 4", "1  2 3 4",
		"1 2 3 4 ", "1\t2 3 4", "1 2 3 4294967296", "1 2 3 0x10",
	};
	uint32_t v[4];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sure_hop_numbers((const uint8_t *)bad[i], strlen(bad[i]), v, 4);
		if (rc != -1)
			fprintf(stderr, "  \"%s\" taken\n", bad[i]);
		CHECK_EQ(rc, -1);
	}
	const char *ok = "0 12 200 4294967295";
	CHECK_EQ(sure_hop_numbers((const uint8_t *)ok, strlen(ok), v, 4), 0);
	CHECK_EQ(v[0], 0);
	CHECK_EQ(v[1], 12);
	CHECK_EQ(v[2], 200);
	CHECK_EQ(v[3], 4294967295u);
}

int main(void)
{
	RUN(test_numbers);
	RUN(test_hand_back);
	RUN(test_final_and_partial);
	RUN(test_refused);
	return CHECK_DONE();
}
