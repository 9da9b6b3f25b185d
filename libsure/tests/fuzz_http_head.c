/*
 * fuzz_http_head.c - libFuzzer target for the host's check of a response
 * head block (src/http_head.c): the block is guest memory, so every byte of
 * it may be anything. The input is the block (zero-padded to its size, in a
 * buffer of exactly that size so ASan sees any read past it), optionally
 * starting from a well-formed block the input then patches. A block the
 * checker accepts must be safe to read as sure_http_abi.h says: every
 * string inside it, after the field table, NUL-terminated, with names that
 * are tokens and values without control characters. The request writer is
 * driven from the same input: it must never write past its block, and
 * neither may the node's own additions to a copy it took.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_http_head -max_total_time=60
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "http_head.h"
#include "libsure.h"

static void check_accepted(const uint8_t *b, int n)
{
	const struct sure_head *h = (const struct sure_head *)b;
	uint32_t tend = sizeof(*h) + (uint32_t)n * sizeof(struct sure_head_field);

	if (n < 0)
		return;
	/* The copy's bookkeeping is the node's, whatever the guest wrote. */
	if (h->nfields != (uint32_t)n || tend > SURE_RESP_HEAD_CAP || h->magic != SURE_HEAD_MAGIC ||
	    h->cap != SURE_RESP_HEAD_CAP || h->str_lo < tend || h->str_lo > SURE_RESP_HEAD_CAP)
		abort();
	for (int i = 0; i < n; i++) {
		const struct sure_str s[2] = { h->field[i].name, h->field[i].value };
		for (int k = 0; k < 2; k++) {
			if (s[k].off < tend || (uint64_t)s[k].off + s[k].len >= SURE_RESP_HEAD_CAP ||
			    b[s[k].off + s[k].len] != 0)
				abort();
			for (uint32_t j = 0; j < s[k].len; j++)
				if (b[s[k].off + j] < 0x20 && b[s[k].off + j] != '\t')
					abort();
		}
	}
}

static void write_request(struct fuzz_in *in)
{
	uint32_t cap = 64 + fin_u32(in, SURE_REQ_HEAD_CAP) % (SURE_REQ_HEAD_CAP - 63);
	uint8_t *blk = malloc(cap);
	char s[512];

	if (!blk)
		abort();
	size_t ml = fin_bytes(in, s, fin_u8(in, 3) % 16);
	if (sure_http_head_init(blk, cap, ml ? s : "GET", ml ? ml : 3, "/p", 2, "q", 1) == 0) {
		for (int i = 0; i < 300 && fin_more(in); i++) {
			size_t nl = fin_u8(in, 1) % 64 + 1, vl = fin_u32(in, 1) % sizeof(s);
			memset(s, 'x', sizeof(s));
			fin_bytes(in, s, nl);
			if (sure_http_head_add(blk, s, nl, s, vl) < 0)
				break;
		}
	}
	free(blk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t *blk = calloc(1, SURE_RESP_HEAD_CAP), *copy = malloc(SURE_RESP_HEAD_CAP);
	char err[128];

	if (!blk || !copy)
		abort();
	if (fin_u8(&in, 1) & 1) {
		/* A well-formed block with a header, then patched by the input. */
		sure_http_resp_head_reset(blk);
		struct sure_head *h = (struct sure_head *)blk;
		h->str_lo -= 8;
		memcpy(blk + h->str_lo, "x-a\0v\0", 6);
		h->field[0].name = (struct sure_str){ h->str_lo, 3 };
		h->field[0].value = (struct sure_str){ h->str_lo + 4, 1 };
		h->nfields = 1;
		for (int i = 0; i < 32 && fin_more(&in); i++)
			blk[fin_u32(&in, 0) % SURE_RESP_HEAD_CAP] = fin_u8(&in, 0);
	} else {
		fin_bytes(&in, blk, SURE_RESP_HEAD_CAP);
	}
	int n = sure_http_resp_head_take(blk, copy, err, sizeof(err));
	check_accepted(copy, n);
	/* What the node adds to an accepted copy stays inside it (ASan: the
	 * copy is a buffer of exactly its size). */
	for (int i = 0; n >= 0 && i < 64; i++)
		if (sure_http_head_add(copy, "traceparent", 11, "00-0123456789abcdef", 19) < 0)
			break;
	check_accepted(copy, n >= 0 ? (int)((const struct sure_head *)copy)->nfields : n);
	write_request(&in);
	free(blk);
	free(copy);
	return 0;
}
