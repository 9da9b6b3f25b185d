/*
 * dp_trace.c - see dp_trace.h. In parsing, every index is below 55, and
 * 55 <= len is checked first, so no byte past the value is read.
 */
#include "dp_trace.h"

#include <stddef.h>

/* n bytes from 2n lower-case hex digits: 0, or -1. */
static int from_hex(uint8_t *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t)k];
			if (c >= '0' && c <= '9')
				v = v * 16 + (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (c - 'A' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int sure_dp_parse_traceparent(const char *v, uint32_t len, uint8_t *trace, uint8_t *flags)
{
	uint8_t ver, parent[8];

	if (!v || len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -1;
	if (from_hex(&ver, v, 1) < 0 || from_hex(trace, v + 3, 16) < 0 ||
	    from_hex(parent, v + 36, 8) < 0 || from_hex(flags, v + 53, 1) < 0)
		return -1;
	if (ver == 0xff || (ver == 0 && len != 55) || (len > 55 && v[55] != '-'))
		return -1;
	return all_zero(trace, 16) || all_zero(parent, 8) ? -1 : 0;
}

int sure_dp_parse_trace_context(const char *v, uint32_t len, uint8_t *ctx)
{
	uint8_t flags;

	if (sure_dp_parse_traceparent(v, len, ctx, &flags) < 0 || from_hex(ctx + 16, v + 36, 8) < 0)
		return -1;
	ctx[24] = flags;
	return 0;
}

void sure_dp_hex(char *out, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

void sure_dp_format_trace_context(char *out, const uint8_t *ctx)
{
	/* Each NUL sure_dp_hex leaves is overwritten by the next dash. */
	out[0] = '0';
	out[1] = '0';
	out[2] = '-';
	sure_dp_hex(out + 3, ctx, 16);
	out[35] = '-';
	sure_dp_hex(out + 36, ctx + 16, 8);
	out[52] = '-';
	sure_dp_hex(out + 53, ctx + 24, 1);
}
