/*
 * dp_answer.c - the node's own answers on the data plane: the JSON error
 * shape of runtime/errors.ts ({"error": code, "message": ..., details})
 * with its headers (content-type, retry-after), written as a response head
 * block so that the server frames them like a function's answer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dp_internal.h"

size_t sure_dp_json_escape(char *out, size_t cap, size_t at, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s && at + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[at++] = '\\';
			out[at++] = (char)c;
		} else if (c < 0x20) {
			at += (size_t)snprintf(out + at, cap - at, "\\u00%c%c", hex[c >> 4],
					       hex[c & 15]);
		} else {
			out[at++] = (char)c;
		}
	}
	out[at] = 0;
	return at;
}

/* The head block for a JSON answer plus header lines "name: value\n". */
static uint8_t *json_head(struct sure_dataplane *dp, const char *headers)
{
	uint8_t *blk = dp->err_head;

	/* The writer wants a method; a response block has none (zeroed below). */
	if (sure_http_head_init(blk, sizeof(dp->err_head), "-", 1, "", 0, "", 0) < 0)
		return NULL;
	sure_http_head_add(blk, "content-type", 12, "application/json", 16);
	if (dp->traceparent[0])
		sure_http_head_add(blk, "traceparent", 11, dp->traceparent, 55);
	while (headers && *headers) {
		const char *colon = strchr(headers, ':');
		const char *end = strchr(headers, '\n');
		if (!colon || !end || colon > end)
			break;
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		if (v <= end)
			sure_http_head_add(blk, headers, (size_t)(colon - headers), v,
					   (size_t)(end - v));
		headers = end + 1;
	}
	/* A response block carries no method, path or query. */
	struct sure_head *h = (struct sure_head *)blk;
	h->method = 0;
	h->method_name = h->path = h->query = (struct sure_str){ 0, 0 };
	return blk;
}

void sure_dp_answer_json(struct sure_dataplane *dp, struct sure_http_exchange *ex,
			 const struct dp_req *q, int status, const char *json, uint32_t len,
			 const char *headers)
{
	uint8_t *blk = json_head(dp, headers);

	if (blk)
		sure_dp_hop_seal(dp, q, blk, status, NULL, len);
	sure_http_answer(ex, status, blk, (const uint8_t *)json, len);
}

void sure_dp_error(struct sure_dataplane *dp, struct sure_http_exchange *ex, const struct dp_req *q,
		   int status, const char *code, const char *extra, const char *headers,
		   const char *fmt, ...)
{
	char msg[512], body[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t at = (size_t)snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"", code);
	at = sure_dp_json_escape(body, sizeof(body) - 300, at, msg);
	at += (size_t)snprintf(body + at, sizeof(body) - at, "\"%s}", extra ? extra : "");
	if (at >= sizeof(body))
		at = sizeof(body) - 1;
	sure_dp_answer_json(dp, ex, q, status, body, (uint32_t)at, headers);
}
