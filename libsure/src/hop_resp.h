/*
 * hop_resp.h - internal: the parser of a peer node's answer to a chain hop
 * (hop_resp.c). A hop is an HTTP/1.1 request to the data plane of the node
 * that runs the next step (dp_hop.c); its answer is either the chain's final
 * answer or, with x-sure-hop-next, the request handed back at the step this
 * node (or another) runs next. The bytes come from the network: every field
 * is checked, nothing is trusted for its length.
 */
#ifndef SURE_HOP_RESP_H
#define SURE_HOP_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Longest answer head taken from a peer. */
#define SURE_HOP_HEAD_MAX 16384u
/* x-sure-hop-mac's length: 64 hex digits of an HMAC-SHA256. */
#define SURE_HOP_RESP_MAC_LEN 64

struct sure_hop_resp {
	uint32_t head_len; /* bytes of the head, the blank line included */
	int status; /* 200..599 */
	uint64_t content_length;
	int keep_alive;
	/* x-sure-hop-next: <from> <to> <status> <hops>: not finished, go on at `to` */
	int has_next;
	uint32_t from, to, next_status, hops;
	/* traceparent: the last span on the peer (trace id, span id, flags) */
	int has_trace;
	uint8_t trace[25];
	/* x-sure-hop-mac: the peer's MAC of this answer (64 hex digits, not
	 * NUL-terminated; checked by the caller, which has the key) */
	int has_mac;
	char mac[SURE_HOP_RESP_MAC_LEN];
};

/*
 * Parses the head at buf[0, len): the head length (> 0) with *out filled,
 * 0 when the blank line has not arrived yet (and len < SURE_HOP_HEAD_MAX),
 * or -EBADMSG (malformed, too long, no Content-Length, chunked, a repeated
 * or malformed x-sure-hop-next or x-sure-hop-mac) with a reason in err.
 * Every other header is added to hdrs (a response head block, struct
 * sure_head) unless it is framing, hop-by-hop or the node's own (date,
 * x-request-id, traceparent, the default content type): -E2BIG when hdrs is
 * full.
 */
int sure_hop_resp_parse(const uint8_t *buf, size_t len, struct sure_hop_resp *out,
			uint8_t *hdrs, char *err, size_t errcap);

/*
 * Exactly `count` decimal numbers, each below 2^32, separated by single spaces
 * and nothing else (no sign, no other blank, nothing after): the form of
 * x-sure-hop and x-sure-hop-next. 0, or -1 for anything else.
 */
int sure_hop_numbers(const uint8_t *v, size_t len, uint32_t *out, int count);

#endif
