/*
 * dp_forward.c - invokes of functions that other nodes of a fleet run. The
 * control plane publishes, for each public function this node does not
 * serve, the live nodes that run it (from their heartbeats) and how long an
 * exchange may take; an /invoke of one goes straight to the next of those
 * nodes in turn, through the HTTP server's tunnel (http_forward.c), so no
 * JavaScript runs for it on either node. A private function's request goes
 * the same way when it carries this node's token and the nodes share a key
 * (dp_auth.c signs it for the other node, and the token stays here). What is
 * not here (a chain, a request another node already forwarded, a CloudEvent
 * to unpack, no node to send it to, a private function's request without
 * the token or without a key) goes to the Hono app, which answers or
 * forwards it as before (runtime/fleet/forward_direct.ts, or over NATS).
 *
 * The same tunnel takes a new request for an attached chain whose first
 * step another node runs to that node, which leads it (chain_entry()). On
 * the af_xdp backend that connection is the Z-stack's, as the chain's hops
 * are (its peers' addresses are their Z-stacks'); fleet members' public
 * addresses are the kernel's, as the Hono app's forwards went.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_internal.h"
#include "http_head.h"

#define FWD_TARGETS 16u
#define FWD_SLACK_MS 3000u

struct dp_fwd {
	char name[64];
	uint32_t n, turn, timeout_ms;
	uint8_t priv; /* SURE_DP_FORWARD_PRIVATE: sent on signed, with this node's token only */
	struct {
		char node[32];
		struct sockaddr_in addr;
	} t[FWD_TARGETS];
};

static struct dp_fwd *lookup(struct sure_dataplane *dp, const char *name)
{
	for (uint32_t k = sure_dp_name_hash(name) % DP_HASH, n = 0; n < DP_HASH;
	     n++, k = (k + 1) % DP_HASH) {
		int32_t v = dp->fwd_hash[k];
		if (v == 0)
			return NULL;
		if (!strcmp(dp->fwd[v - 1]->name, name))
			return dp->fwd[v - 1];
	}
	return NULL;
}

/* A node's name as the fleet has them: a-z, 0-9 and '-', 1 to 31. */
static int node_name(const char *s, size_t len)
{
	if (len == 0 || len > 31)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* "node=a.b.c.d:port ..." into f's targets: 0 or -EINVAL. */
static int parse_targets(struct dp_fwd *f, const char *s)
{
	f->n = 0;
	while (*s) {
		const char *end = strchr(s, ' '), *eq, *colon;
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char addr[INET_ADDRSTRLEN];
		char *stop;
		unsigned long port;

		if (len == 0) {
			s++;
			continue;
		}
		eq = memchr(s, '=', len);
		colon = eq ? memchr(eq, ':', len - (size_t)(eq - s)) : NULL;
		if (!eq || !colon || f->n == FWD_TARGETS || !node_name(s, (size_t)(eq - s)) ||
		    (size_t)(colon - eq - 1) >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, eq + 1, (size_t)(colon - eq - 1));
		addr[colon - eq - 1] = 0;
		port = strtoul(colon + 1, &stop, 10);
		if (stop != s + len || stop == colon + 1 || port == 0 || port > 65535)
			return -EINVAL;
		memset(&f->t[f->n], 0, sizeof(f->t[f->n]));
		memcpy(f->t[f->n].node, s, (size_t)(eq - s));
		f->t[f->n].addr.sin_family = AF_INET;
		f->t[f->n].addr.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &f->t[f->n].addr.sin_addr) != 1)
			return -EINVAL;
		f->n++;
		s += len;
	}
	return 0;
}

SURE_API int sure_dataplane_forward(struct sure_dataplane *dp, const char *self, const char *name,
				    uint32_t timeout_ms, uint32_t flags, const char *targets)
{
	struct dp_fwd next = { 0 }, *f;
	int rc;

	if (!dp || !self || !name || !targets || !node_name(self, strlen(self)) ||
	    strnlen(name, sizeof(next.name)) == sizeof(next.name) || !name[0] ||
	    timeout_ms == 0 || timeout_ms > 3600u * 1000 || (flags & ~SURE_DP_FORWARD_PRIVATE))
		return -EINVAL;
	rc = parse_targets(&next, targets);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&dp->lock);
	f = lookup(dp, name);
	if (!f && next.n) {
		f = dp->nfwd < DP_MAX_ROUTES ? calloc(1, sizeof(*f)) : NULL;
		if (!f) {
			pthread_mutex_unlock(&dp->lock);
			return dp->nfwd < DP_MAX_ROUTES ? -ENOMEM : -ENOSPC;
		}
		snprintf(f->name, sizeof(f->name), "%s", name);
		dp->fwd[dp->nfwd++] = f;
		uint32_t k = sure_dp_name_hash(name) % DP_HASH;
		while (dp->fwd_hash[k])
			k = (k + 1) % DP_HASH;
		dp->fwd_hash[k] = (int32_t)dp->nfwd;
	}
	if (f) {
		memcpy(f->t, next.t, sizeof(f->t));
		f->n = next.n;
		f->timeout_ms = timeout_ms;
		f->priv = (flags & SURE_DP_FORWARD_PRIVATE) != 0;
	}
	snprintf(dp->node, sizeof(dp->node), "%s", self);
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

SURE_API int sure_dataplane_forward_dead(struct sure_dataplane *dp, const char *node)
{
	if (!dp || !node || !node_name(node, strlen(node)))
		return -EINVAL;
	return sure_http_server_fail_node(dp->srv, node);
}

/* Marks a request sent on to a chain's first node, as chain_entry.ts marks
 * it: that node never sends it on again (its manifest would have to say
 * another node leads, and then its Hono app says the manifests differ). */
#define ENTRY_MARK "x-sure-chain-entry"

/* A new request for a chain whose first step another node runs: that node
 * leads it (runtime/gateway/chain_entry.ts did this over HTTP), so it goes
 * to its data plane as it came. Hops come here as hops (take() has them).
 * `lock` held. */
static int chain_entry(const struct dp_chain *dc, struct sure_http_forward *fw)
{
	memset(fw, 0, sizeof(*fw));
	fw->addr = dc->peer[0];
	snprintf(fw->node, sizeof(fw->node), "%s", dc->cfg.step_node[0]);
	snprintf(fw->name, sizeof(fw->name), "%s", dc->cfg.name);
	/* That node answers the chain's own timeout; this bounds one that does not. */
	fw->timeout_ms = dc->cfg.timeout_ms > UINT32_MAX - FWD_SLACK_MS
				 ? UINT32_MAX
				 : dc->cfg.timeout_ms + FWD_SLACK_MS;
	snprintf(fw->mark, sizeof(fw->mark), ENTRY_MARK ": 1\r\n");
	fw->chain = 1;
	fw->zstack = 1; /* from the Z-stack on af_xdp, as the chain's hops go */
	return 1;
}

int sure_dp_forward(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		    struct sure_http_forward *fw)
{
	struct sure_dataplane *dp = ctx;
	uint32_t len = 0;
	int rc = 0;

	/* A hop is a hop, and CloudEvents are the Hono app's to unpack first. */
	if (sure_http_head_get(head, "x-sure-hop", &len))
		return 0;
	const char *ct = sure_http_head_get(head, "content-type", &len);
	if (ct && len >= 23 && !strncasecmp(ct, "application/cloudevents", 23))
		return 0;
	/* Sent here by another node: never on again (no loops). */
	int entered = sure_http_head_get(head, ENTRY_MARK, &len) != NULL;
	int forwarded = sure_http_head_get(head, SURE_FORWARDED_BY, &len) != NULL;
	pthread_mutex_lock(&dp->lock);
	struct dp_route *r = sure_dp_lookup(dp, req->name);
	if (r && r->live && r->chain) {
		if ((r->chain->remote & 1u) && !entered)
			rc = chain_entry(r->chain, fw);
	} else if (!forwarded) {
		struct dp_fwd *f = r && r->live ? NULL : lookup(dp, req->name);
		/* A private one goes only with this node's token, which stays
		 * here, and signed for that node; else the Hono app answers the
		 * 401, or sends it over NATS (no key). */
		if (f && f->priv && (!dp->hop_keyed || !sure_dp_authorized(dp, head)))
			f = NULL;
		if (f && f->n && dp->node[0]) {
			uint32_t k = f->turn++ % f->n;
			memset(fw, 0, sizeof(*fw));
			fw->addr = f->t[k].addr;
			memcpy(fw->node, f->t[k].node, sizeof(fw->node));
			memcpy(fw->name, f->name, sizeof(fw->name));
			fw->timeout_ms = f->timeout_ms;
			if (!f->priv) {
				snprintf(fw->mark, sizeof(fw->mark), SURE_FORWARDED_BY ": %s\r\n",
					 dp->node);
				rc = 1;
			} else if (sure_dp_forward_seal(dp, req, head, fw->mark, sizeof(fw->mark)) == 0) {
				fw->drop_auth = 1;
				rc = 1;
			}
		}
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

void sure_dp_forwards_free(struct sure_dataplane *dp)
{
	for (uint32_t k = 0; k < dp->nfwd; k++)
		free(dp->fwd[k]);
	dp->nfwd = 0;
}
