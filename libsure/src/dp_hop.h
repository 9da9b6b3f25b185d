/*
 * dp_hop.h - internal to the dp_hop*.c files: chain steps that run on another
 * node.
 *
 * Every node of a chain applies the same manifest and runs the steps that
 * name it; a step that names another node has no VM here, and the data plane
 * consumes its rings instead (its doorbell is in the epoll set, and it says
 * it always sleeps, so every push rings). The node a request came in on (its
 * origin) leads it from hop to hop:
 *
 *   origin   a hand-off to a remote step r is checked like a completion
 *            (slot, generation, sender, extent, length), then sent as an
 *            HTTP/1.1 request to r's node: the client's method, path, query
 *            and headers, x-request-id, traceparent (the last step's span),
 *            x-sure-hop: <from> <to> <status> <hops>, and the bytes straight
 *            from the extent. The answer's body is received straight into the
 *            slot's extent 0; its headers are kept with the request.
 *   peer     takes x-sure-hop only from the nodes that run the chain's other
 *            steps, receives the body into a slot of its own pool (take()),
 *            and pushes it into ring(from -> to) as `from` would: its step
 *            works in place on the received buffer. When its steps hand the
 *            request to a step it does not run, it answers the hop with
 *            x-sure-hop-next and the bytes; a completion answers it as any
 *            request (the chain's final answer, or its error).
 *   origin   x-sure-hop-next: the request goes on at `to` (here: pushed into
 *            ring(from -> to); elsewhere: the next hop); otherwise the answer
 *            is the chain's, with the headers every node's steps set.
 *
 * A node that cannot be reached, or that answers something malformed, fails
 * the request at once with 502 peer_unreachable naming it; the chain's timeout
 * bounds the rest (a late answer finds the slot's generation moved on).
 * A connection whose answer said keep-alive stays open for the next hop to
 * the same node (up to DP_HOP_IDLE_MAX, for HOP_IDLE_NS); a hop on such a
 * connection that finds it closed before any answer came (the peer let it
 * go) is sent again once on a fresh one. With the af_xdp backend,
 * hops go over the Z-stack (zstack.h) from a local port the XDP program
 * steers back to it; with sockets, over kernel TCP.
 *
 * The files, each calling only those after it:
 *   dp_hop_in.c    the remote steps' addresses, hand-offs the steps here
 *                  make to remote steps, and hops other nodes send here
 *   dp_hop.c       an outbound hop: connect, send, read the answer, go on
 *   dp_hop_idle.c  connections kept open between hops
 *   dp_hop_wire.c  what a hop says: its request head and trace context
 * and, below the whole data plane's answers (dp_internal.h), dp_hop_mac.c:
 * the MACs of hops and of their answers under the nodes' hop key.
 */
#ifndef SURE_DP_HOP_H
#define SURE_DP_HOP_H

#include <stdint.h>

#include "chain.h"
#include "dp_internal.h"
#include "hop_resp.h"

#define DP_HOP_OUT_CAP (SURE_REQ_HEAD_CAP + 2048u) /* a hop's request head */

enum hop_state { HOP_CONNECT, HOP_SEND, HOP_HEAD, HOP_BODY, HOP_DEAD };

struct dp_hop {
	int fd; /* kernel TCP, or -1 with zs */
	struct zs_sock *zs; /* the Z-stack's socket (af_xdp), or NULL */
	struct sure_dataplane *dp;
	int state;
	struct dp_chain *dc;
	struct dp_req *q;
	uint32_t slot, to;
	uint16_t gen;
	uint8_t away; /* counted in dc->away (hop_end counts it back once) */
	uint64_t deadline_ns; /* connect */
	char *out; /* the request head */
	size_t out_len, out_off;
	const uint8_t *body;
	uint64_t body_len, body_off;
	uint8_t *dst; /* the slot's extent 0: the answer's body */
	uint64_t dst_cap, got;
	struct sure_hop_resp resp;
	char mac[SURE_HOP_RESP_MAC_LEN + 1]; /* the request's x-sure-hop-mac ("" without a key) */
	size_t in_len;
	int reused; /* on a connection an earlier hop left open: one retry if it was closed */
	uint64_t unacked_since_ns; /* what it sent is not acknowledged since then (0: it is) */
	struct dp_hop *next;
	uint8_t in[SURE_HOP_HEAD_MAX];
};

/* The request leaves its chain's books (answered or failed by the caller). */
static inline void sure_dp_hop_forget(struct dp_chain *dc, uint32_t slot)
{
	dc->slot_req[slot] = NULL;
	dc->inflight--;
}

/* ---- dp_hop.c ---- */
/* The origin sends q (its slot's bytes) to the node that runs step `to`;
 * what cannot be sent fails q with 502 peer_unreachable. */
void sure_dp_hop_start(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		       const struct sure_completion *cp, uint32_t to, const uint8_t *trace);

/* ---- dp_hop_idle.c ---- */
/* The newest idle connection to peer that is still usable, taken out of the
 * kept ones (others to peer that are not usable go): 1, or 0 when none is. */
int sure_dp_hop_idle_take(struct sure_dataplane *dp, const struct sockaddr_in *peer,
			  struct dp_hop_idle *out);
/* A hop answered in full on a connection the peer keeps: kept for the next
 * (h no longer owns its socket). */
void sure_dp_hop_idle_keep(struct sure_dataplane *dp, struct dp_hop *h);
/* Closes those kept longer than HOP_IDLE_NS. */
void sure_dp_hop_idle_expire(struct sure_dataplane *dp, uint64_t now_ns);
/* Closes them all. */
void sure_dp_hop_idle_free(struct sure_dataplane *dp);

/* ---- dp_hop_wire.c ---- */
/* Writes h's request head for q's hand-off cp to step `to` (trace: its
 * context, 25 bytes) into h->out: 0, or -E2BIG when it does not fit. */
int sure_dp_hop_build_request(struct dp_hop *h, struct dp_req *q, const struct sure_completion *cp,
			      uint32_t to, const uint8_t *trace);
/* The slot's trace context as the last step left it (its span is the next
 * hop's parent), or the request's own when a step wiped it (25 bytes). */
void sure_dp_hop_slot_trace(struct dp_chain *dc, struct dp_req *q, uint32_t slot, uint8_t *out);

#endif
