/*
 * fuzz_hop_resp.c - libFuzzer target for the parser of another node's answer
 * to a chain hop (src/hop_resp.c): the bytes come from the network. The
 * input lives in a heap block of exactly its size (ASan sees a read past
 * it), headers go into a real response head block, and what the parser
 * accepts must hold: a head that ends in CR LF CR LF within the input, a
 * status in 200..599 written in its first line, a block that the node's own
 * checker still accepts. The seed (an empty input) is a valid answer.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_hop_resp -max_total_time=60
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hop_resp.h"
#include "http_head.h"
#include "libsure.h"
#include "sure_http_abi.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char seed[] = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
				   "x-sure-hop-next: 1 2 0 3\r\nx-sure-hop-mac: 0123456789abcdef"
				   "0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
				   "content-length: 5\r\n\r\nhello";
	const uint8_t *src = size ? data : (const uint8_t *)seed;
	size_t n = size ? size : sizeof(seed) - 1;
	uint8_t *buf = malloc(n ? n : 1);
	static uint8_t hdrs[SURE_RESP_HEAD_CAP];
	struct sure_hop_resp r;
	char err[128];

	if (!buf)
		return 0;
	memcpy(buf, src, n);
	sure_http_resp_head_reset(hdrs);
	int rc = sure_hop_resp_parse(buf, n, &r, hdrs, err, sizeof(err));
	if (!size)
		check(rc > 0 && r.has_next && r.from == 1 && r.to == 2 && r.hops == 3 &&
		      r.content_length == 5 && r.has_mac);
	check(rc == 0 || rc == -EBADMSG || rc == -E2BIG || rc > 0);
	if (rc > 0) {
		check((size_t)rc == r.head_len && r.head_len <= n && r.head_len >= 4);
		check(!memcmp(buf + r.head_len - 4, "\r\n\r\n", 4));
		check(r.status >= 200 && r.status <= 599);
		check(buf[9] - '0' == r.status / 100);
		char e2[128];
		check(sure_http_resp_head_check(hdrs, e2, sizeof(e2)) >= 0);
	}
	free(buf);
	return 0;
}
