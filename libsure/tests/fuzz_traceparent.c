/*
 * fuzz_traceparent.c - libFuzzer target for the data plane's reading of a
 * client's traceparent header (src/dp_trace.c). The value is any bytes; it
 * lives in a heap block of exactly its size, so ASan sees a read past it.
 * An accepted value must satisfy the rules themselves: dashes at 2, 35 and
 * 52, hex everywhere else in the first 55 bytes, not version ff, exactly 55
 * bytes for version 00, a '-' after byte 55 otherwise, ids not all zero, and
 * the trace id and flags returned must be what those digits say. Its
 * context, written back (sure_dp_format_trace_context, what the node sends
 * on), must be the same 55 bytes in lower case, as version 00.
 * The seed (an empty input) is a valid header.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_traceparent -max_total_time=60
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dp_trace.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int byte_at(const char *v, size_t i)
{
	return hexval(v[i]) * 16 + hexval(v[i + 1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char seed[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	const char *src = size ? (const char *)data : seed;
	size_t n = size ? size : sizeof(seed) - 1;
	char *v = malloc(n ? n : 1);
	uint8_t trace[16], flags = 0;

	if (!v)
		return 0;
	memcpy(v, src, n);
	int rc = sure_dp_parse_traceparent(v, (uint32_t)n, trace, &flags);
	if (!size)
		check(rc == 0);
	if (rc == 0) {
		check(n >= 55 && v[2] == '-' && v[35] == '-' && v[52] == '-');
		for (size_t i = 0; i < 55; i++)
			check(i == 2 || i == 35 || i == 52 || hexval(v[i]) >= 0);
		int ver = byte_at(v, 0);
		check(ver != 0xff && (ver != 0 || n == 55) && (n == 55 || v[55] == '-'));
		int zero_trace = 1, zero_parent = 1;
		for (size_t i = 0; i < 16; i++) {
			check(trace[i] == byte_at(v, 3 + 2 * i));
			zero_trace &= trace[i] == 0;
		}
		for (size_t i = 0; i < 8; i++)
			zero_parent &= byte_at(v, 36 + 2 * i) == 0;
		check(!zero_trace && !zero_parent);
		check(flags == byte_at(v, 53));

		uint8_t ctx[25];
		char out[SURE_TRACEPARENT_LEN + 1];
		check(sure_dp_parse_trace_context(v, (uint32_t)n, ctx) == 0);
		sure_dp_format_trace_context(out, ctx);
		check(out[SURE_TRACEPARENT_LEN] == 0 && out[0] == '0' && out[1] == '0');
		for (size_t i = 2; i < SURE_TRACEPARENT_LEN; i++)
			check(out[i] == tolower((unsigned char)v[i]));
	}
	free(v);
	return 0;
}
