/*
 * dp_hop_mac.c - the MACs that authenticate chain hops between nodes under
 * the key they share (sure_dataplane_set_hop_key): a hop's (x-sure-hop-mac on
 * the request, dp_hop_wire.c writes it, dp_hop_in.c checks it) and its
 * answer's (x-sure-hop-mac on the answer, sealed here for every answer to a
 * hop whose MAC was good, checked by dp_hop.c). HMAC-SHA256 (sha256.c) of
 * parts each ended by a NUL, after a label that keeps the two kinds apart.
 */
#include <stdio.h>
#include <string.h>

#include "dp_internal.h"
#include "dp_trace.h"
#include "http_head.h"

static void absorb(struct sure_sha256 *s, const char *part, size_t len)
{
	sure_sha256_update(s, part, len);
	sure_sha256_update(s, "", 1);
}

const char *sure_dp_hop_method(const uint8_t *head, uint32_t *len)
{
	const struct sure_head *hd = (const struct sure_head *)head;

	if (hd->method == SURE_METHOD_HEAD) {
		*len = 3;
		return "GET";
	}
	*len = hd->method_name.len;
	return (const char *)head + hd->method_name.off;
}

void sure_dp_hop_mac(const struct sure_hmac_key *k, const char *chain, const char *hop,
		     uint32_t hop_len, const char *request_id, const uint8_t *head,
		     uint64_t body_len, char *out)
{
	const struct sure_head *hd = (const struct sure_head *)head;
	const char *blk = (const char *)head;
	struct sure_sha256 s;
	uint8_t mac[SURE_SHA256_LEN];
	char len[24];

	sure_hmac_start(k, &s);
	absorb(&s, "sure-hop-1", 10);
	absorb(&s, chain, strlen(chain));
	absorb(&s, hop, hop_len);
	absorb(&s, request_id, strlen(request_id));
	uint32_t mlen;
	const char *method = sure_dp_hop_method(head, &mlen);
	absorb(&s, method, mlen);
	absorb(&s, blk + hd->path.off, hd->path.len);
	absorb(&s, blk + hd->query.off, hd->query.len);
	absorb(&s, len, (size_t)snprintf(len, sizeof(len), "%llu", (unsigned long long)body_len));
	sure_hmac_finish(k, &s, mac);
	sure_dp_hex(out, mac, sizeof(mac));
}

void sure_dp_hop_answer_mac(const struct sure_hmac_key *k, const char *request_mac, int status,
			    const char *next, uint64_t body_len, char *out)
{
	struct sure_sha256 s;
	uint8_t mac[SURE_SHA256_LEN];
	char num[24];

	sure_hmac_start(k, &s);
	absorb(&s, "sure-hop-answer-1", 17);
	absorb(&s, request_mac, SURE_HOP_MAC_HEX);
	absorb(&s, num, (size_t)snprintf(num, sizeof(num), "%d", status));
	absorb(&s, next ? next : "", next ? strlen(next) : 0);
	absorb(&s, num, (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)body_len));
	sure_hmac_finish(k, &s, mac);
	sure_dp_hex(out, mac, sizeof(mac));
}

void sure_dp_hop_seal(struct sure_dataplane *dp, const struct dp_req *q, uint8_t *blk, int status,
		      const char *next, uint64_t body_len)
{
	uint32_t len = 0;
	const char *request_mac;
	char mac[SURE_HOP_MAC_HEX + 1];

	if (!dp->hop_keyed || !q || !q->hop_in || !q->ex)
		return;
	request_mac = sure_http_head_get(q->ex->head, "x-sure-hop-mac", &len);
	if (!request_mac || len != SURE_HOP_MAC_HEX)
		return; /* hop_in is set only once it was checked */
	sure_dp_hop_answer_mac(&dp->hop_key, request_mac, status, next, body_len, mac);
	sure_http_head_add(blk, "x-sure-hop-mac", 14, mac, SURE_HOP_MAC_HEX);
}
