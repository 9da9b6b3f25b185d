/*
 * dp_auth.c - who may invoke a private function here: a caller that sends
 * this node's admin token (Authorization: Bearer), or another node of the
 * fleet that checked its caller's token against its own and forwarded the
 * request (dp_forward.c), signed with the key the nodes share (the hop key,
 * sure_dataplane_set_hop_key): x-sure-forward-mac, an HMAC-SHA256 of the
 * sender's name (its x-sure-forwarded-by), the function, the method, path
 * and query a function sees and the body's length. The sender drops its
 * caller's Authorization, its own token, from what it sends on.
 *
 * Like a hop's MAC, it proves that a node with the key sent the request; the
 * body's bytes are not in it, nor is anything against a replay by whoever
 * can read the link between the nodes (which wants a private network or a
 * VPN, as hops do).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dp_internal.h"
#include "dp_trace.h"
#include "http_head.h"

#define FORWARD_LABEL "sure-forward-1"

_Static_assert(SURE_FORWARD_MAC_HEX == 2 * SURE_SHA256_LEN, "a MAC is SHA-256's, in hex");

static void absorb(struct sure_sha256 *s, const char *part, size_t len)
{
	sure_sha256_update(s, part, len);
	sure_sha256_update(s, "", 1);
}

static void forward_mac(const struct sure_hmac_key *k, const char *from, const char *name,
			const char *method, size_t method_len, const char *path, size_t path_len,
			const char *query, size_t query_len, uint64_t body_len, char *out)
{
	struct sure_sha256 s;
	uint8_t mac[SURE_SHA256_LEN];
	char len[24];

	sure_hmac_start(k, &s);
	absorb(&s, FORWARD_LABEL, sizeof(FORWARD_LABEL) - 1);
	absorb(&s, from, strlen(from));
	absorb(&s, name, strlen(name));
	absorb(&s, method, method_len);
	absorb(&s, path, path_len);
	absorb(&s, query, query_len);
	absorb(&s, len, (size_t)snprintf(len, sizeof(len), "%llu", (unsigned long long)body_len));
	sure_hmac_finish(k, &s, mac);
	sure_dp_hex(out, mac, sizeof(mac));
}

/* The request's MAC as the head block has it (req's body: its Content-Length;
 * only requests whose end the head tells are forwarded from C). */
static void head_mac(const struct sure_hmac_key *k, const char *from,
		     const struct sure_http_req *req, const uint8_t *head, char *out)
{
	const struct sure_head *hd = (const struct sure_head *)head;
	const char *blk = (const char *)head;

	forward_mac(k, from, req->name, blk + hd->method_name.off, hd->method_name.len,
		    blk + hd->path.off, hd->path.len, blk + hd->query.off, hd->query.len,
		    req->has_length ? req->content_length : 0, out);
}

int sure_dp_authorized(const struct sure_dataplane *dp, const uint8_t *head)
{
	uint32_t len = 0;
	const char *v = sure_http_head_get(head, "authorization", &len);
	uint8_t diff;

	if (!v || dp->token_len == 0 || len < 7 || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	v += 7;
	len -= 7;
	while (len && *v == ' ') {
		v++;
		len--;
	}
	while (len && v[len - 1] == ' ')
		len--;
	diff = len != dp->token_len;
	for (uint32_t i = 0; i < dp->token_len; i++)
		diff |= (uint8_t)(i < len ? v[i] : 0) ^ (uint8_t)dp->token[i];
	return diff == 0;
}

int sure_dp_forward_signed(const struct sure_dataplane *dp, const struct sure_http_req *req,
			   const uint8_t *head)
{
	uint32_t from_len = 0, mac_len = 0;
	const char *from = sure_http_head_get(head, SURE_FORWARDED_BY, &from_len);
	const char *got = sure_http_head_get(head, SURE_FORWARD_MAC, &mac_len);
	char want[SURE_FORWARD_MAC_HEX + 1], name[32];

	/* A chunked body's length is not in the head, so it is never signed;
	 * and a request that sends a token has that token checked, whatever
	 * else it carries (the forwarding node sends none on). */
	if (!dp->hop_keyed || !from || !got || mac_len != SURE_FORWARD_MAC_HEX || req->chunked ||
	    from_len == 0 || from_len >= sizeof(name) ||
	    sure_http_head_get(head, "authorization", &mac_len))
		return 0;
	memcpy(name, from, from_len);
	name[from_len] = 0;
	head_mac(&dp->hop_key, name, req, head, want);
	return sure_equal_ct((const uint8_t *)got, (const uint8_t *)want, SURE_FORWARD_MAC_HEX);
}

int sure_dp_forward_seal(const struct sure_dataplane *dp, const struct sure_http_req *req,
			 const uint8_t *head, char *mark, size_t cap)
{
	char mac[SURE_FORWARD_MAC_HEX + 1];
	int n;

	head_mac(&dp->hop_key, dp->node, req, head, mac);
	n = snprintf(mark, cap, SURE_FORWARDED_BY ": %s\r\n" SURE_FORWARD_MAC ": %s\r\n", dp->node,
		     mac);
	return n > 0 && (size_t)n < cap ? 0 : -ENOSPC;
}

SURE_API int sure_forward_mac(const uint8_t *key, uint32_t key_len, const char *from,
			      const char *name, const char *method, const char *path,
			      const char *query, uint64_t body_len, char *out)
{
	struct sure_hmac_key k;

	if (!key || key_len < 16 || key_len > 1024 || !from || !name || !method || !path ||
	    !query || !out)
		return -EINVAL;
	sure_hmac_key_init(&k, key, key_len);
	forward_mac(&k, from, name, method, strlen(method), path, strlen(path), query,
		    strlen(query), body_len, out);
	return 0;
}
