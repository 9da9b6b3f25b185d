/*
 * dp_trace.h - internal: the W3C traceparent, read from what a client or
 * another node sends and written into the node's answers and hops
 * (dp_trace.c). What is read is untrusted: fuzzed by tests/fuzz_traceparent.c.
 */
#ifndef SURE_DP_TRACE_H
#define SURE_DP_TRACE_H

#include <stddef.h>
#include <stdint.h>

/*
 * "vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>[-more]" in the
 * len bytes at v (not NUL-terminated), by the rules of parseTraceparent in
 * runtime/gateway/trace.ts: version ff is invalid, version 00 is exactly 55
 * bytes, later versions may add "-..." fields, all-zero ids are invalid.
 * 0 with trace (16 bytes) and *flags set, or -1 (trace and flags undefined).
 */
int sure_dp_parse_traceparent(const char *v, uint32_t len, uint8_t *trace, uint8_t *flags);
/* The same, keeping the parent id: ctx = trace id (16), parent id (8), flags
 * (1), the context a chain hop's steps continue. 0 or -1. */
int sure_dp_parse_trace_context(const char *v, uint32_t len, uint8_t *ctx);

/* SURE_TRACEPARENT_LEN: "00-<trace id>-<parent id>-<flags>" of version 00. */
#define SURE_TRACEPARENT_LEN 55
/* Writes ctx (trace id, parent id, flags, as above) as a version 00
 * traceparent: SURE_TRACEPARENT_LEN characters and a NUL. */
void sure_dp_format_trace_context(char *out, const uint8_t *ctx);
/* Writes the n bytes at b as 2n lower-case hex digits and a NUL. */
void sure_dp_hex(char *out, const uint8_t *b, size_t n);

#endif
