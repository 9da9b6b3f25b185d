/*
 * dp_internal.h - internal: the data plane's state and the calls between its
 * files. They stand in layers, each calling only those below it:
 *
 *   dataplane.c        the control plane's calls: routes, lending, events
 *   dispatch.c         the server's callbacks: each /invoke request, notify
 *                      and tick
 *   dp_plain.c         plain functions' instances: admission, request slots,
 *                      answers, deaths and timeouts
 *   dp_forward.c       invokes another node of the fleet serves, and new
 *                      requests of chains another node leads: where to
 *   dp_chain.c         chains' requests: slots, completions, timeouts
 *   dp_hop*.c          steps another node runs: hand-offs over TCP
 *                      (dp_hop.h lists its files)
 *   dp_chain_answer.c  a chain's answer from its slot
 *   dp_req.c           a request's ids, trace, DONE event, parking, freeing
 *   dp_answer.c        the node's JSON error answers
 *   dp_hop_mac.c       the MACs of chain hops and of their answers
 *   dp_auth.c          who may invoke a private function: the token, or a
 *                      forward signed by another node
 *   dp_state.c         the route table, instance records, the event ring
 *   dp_zstack.c        the af_xdp backend (opened and closed by dataplane.c)
 *
 * One lock (dp->lock) guards all of it. The server's thread takes it for
 * each callback; the control plane's calls take it briefly. It is never
 * held while calling into the server except to answer (sure_http_answer
 * runs on the server's thread, which is the one holding it).
 */
#ifndef SURE_DP_INTERNAL_H
#define SURE_DP_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "http_server.h"
#include "libsure.h"
#include "sha256.h"
#include "sure_abi.h"

#define DP_MAX_ROUTES 1024u
#define DP_HASH 2048u /* open addressing, twice the routes */
#define DP_EVENTS 8192u /* the event ring; DONE events leave room for the rest */
#define DP_EVENTS_DONE_MAX (DP_EVENTS - 512u)

struct dp_route;
struct dp_req;
struct dp_chain;
struct sure_chain;

/* An instance the control plane lent to a route. */
struct dp_inst {
	struct sure_instance *inst;
	struct dp_route *route;
	uint32_t tag;
	uint8_t retire; /* reclaimed while busy: back to the control plane after */
	uint8_t reserved; /* its request area receives a body (take() to run()) */
	/* The requests posted to it and not answered, oldest first (it runs
	 * the oldest; the others wait in its slots); nreq 0: idle. */
	struct dp_req *req[SURE_IO_QUEUE_MAX];
	uint32_t nreq;
	uint8_t woke; /* its oldest request's post woke its sleeping vCPU */
	uint64_t deadline_ns; /* when its oldest request times out */
	uint64_t posted_ns; /* when its oldest request began to run (posted, or the one before answered) */
	uint64_t idle_since_ns;
	struct dp_inst *next, *prev; /* the route's list of lent instances */
	struct dp_inst *busy_next, *busy_prev; /* dp->busy */
};

/* A request the data plane holds (from run() to its answer). */
struct dp_req {
	struct sure_http_exchange *ex; /* NULL once the client left */
	struct dp_route *route;
	struct dp_inst *on;
	uint64_t queued_ns; /* when it started waiting for an instance (0: never) */
	uint64_t wait_ns;
	uint64_t token; /* parked after a death: the control plane answers it */
	uint8_t trace[25]; /* trace id, the node's span as parent, flags */
	uint8_t parked;
	uint8_t timed_out; /* a chain request past its timeout: its failure is a 504 */
	struct dp_chain *chain; /* a chain request: its chain and slot */
	uint32_t slot;
	uint64_t deadline_ns; /* a chain request: when it times out */
	uint64_t sent_ns; /* a chain request: when it was submitted to step 0 */
	uint8_t hop_in; /* a hop another node sent: answered with hop semantics (dp_hop_in.c) */
	uint8_t *hop_hdrs; /* origin: response headers the other nodes' steps set */
	struct dp_hop *hop; /* origin: its hop in progress */
	char request_id[132];
	struct dp_req *next; /* route queue, parked list or free list */
};

struct dp_route {
	uint32_t id;
	uint8_t live; /* routed: take() claims its requests */
	uint8_t used;
	struct sure_route_config cfg;
	struct dp_inst *insts; /* lent instances */
	struct dp_inst **idle; /* stack: the most recently used on top */
	uint32_t nidle, idle_cap;
	uint32_t instances, running, starting, queued;
	uint64_t requests;
	/* What admission weighs a start against (dp_plain.c worth_starting):
	 * how long its requests run on an instance and how long an instance
	 * takes to come after a NEED, both as the host measured them (moving
	 * averages, 0: none yet), and when the NEED being waited for went out. */
	uint64_t service_ns, start_ns, need_ns;
	/* How long an instance takes to answer a request once it is awake (a
	 * moving average of the host's measure from the post, or from its vCPU
	 * thread's return from sleep when the post woke it; 0: none yet): what
	 * a request posted behind one waits for it (dp_plain.c depth). */
	uint64_t run_ns;
	struct dp_req *qhead, *qtail;
	struct dp_chain *chain; /* a chain's route: the chain attached last, or NULL */
};

/* A chain attached to the data plane (dp_chain.c). */
struct dp_chain {
	uint32_t id;
	uint8_t closing; /* takes no new requests */
	uint8_t awake; /* its consumed nodes say they are awake (sure_dp_chains_idle) */
	struct sure_chain *c;
	struct dp_route *route;
	struct sure_chain_route_config cfg;
	struct dp_req **slot_req; /* per slot: the request in the chain, or NULL */
	uint8_t *reserved; /* per slot: a body is being received into it */
	uint32_t nslots, inflight, nreserved;
	uint32_t away; /* of those in flight, how many are out on a hop to another node */
	uint64_t latency_ns; /* moving average, submit to completion (0: none yet) */
	uint64_t requests;
	uint32_t remote; /* steps another node runs (bit per step) */
	/* While a step cannot start (sure_dataplane_chain_refuse): the answer
	 * every new request gets at once, its JSON and header lines; NULL: none. */
	char *refuse_json, *refuse_headers;
	uint32_t refuse_len, refuse_status;
	struct sockaddr_in peer[SURE_CHAIN_MAX_STEPS]; /* for each remote step */
	struct dp_chain *next;
};

/* An outbound hop: a request handed to a step another node runs (dp_hop.h). */
struct dp_hop;

#define DP_TOKEN_MAX 128
#define DP_HOP_IDLE_MAX 32 /* idle connections kept to other nodes */

struct sure_dataplane {
	pthread_mutex_t lock;
	char token[DP_TOKEN_MAX + 1]; /* the admin token, for private routes ("" : none set) */
	uint32_t token_len;
	struct sure_http_server *srv;
	struct zstack *zs; /* the af_xdp backend's stack, or NULL (sockets) */
	int notify_fd; /* eventfd every lent instance's vCPU thread writes */
	uint32_t tick_ms;
	/* CPUs the vCPU threads run on (admission weighs starts by it), read at
	 * start and each tick: sure_vcpu_cpu_count takes a lock and may make a
	 * syscall, too much for each queued request. */
	uint32_t vcpu_cpus;
	struct dp_route *routes[DP_MAX_ROUTES];
	uint32_t nroutes;
	int32_t hash[DP_HASH]; /* route id + 1, 0 empty */
	/* Functions other nodes of the fleet run (dp_forward.c), hashed as the
	 * routes are; an entry stays once made (no targets: nothing forwarded). */
	struct dp_fwd *fwd[DP_MAX_ROUTES];
	uint32_t nfwd;
	int32_t fwd_hash[DP_HASH];
	char node[32]; /* this node's name: the forwards' mark */
	struct dp_inst *busy; /* instances running a request */
	struct dp_inst *reserved; /* instances receiving a body (busy_next links them) */
	struct dp_req *free_reqs;
	struct dp_req *parked;
	struct dp_chain *chains; /* attached chains */
	uint32_t next_chain_id;
	int chain_ep; /* epoll set of the attached chains' gateway doorbells */
	int hop_ep; /* epoll set of the outbound hops' sockets */
	struct dp_hop *hops; /* outbound hops in progress */
	struct dp_hop *hop_spare; /* ended ones kept for the next (dp_hop.c: no allocation per hop) */
	uint32_t nhop_spare;
	/* Connections to other nodes kept open after a hop's answer, for the
	 * next hop there (dp_hop_idle.c): newest last. */
	struct dp_hop_idle {
		int fd; /* kernel TCP, or -1 with zs */
		struct zs_sock *zs;
		struct sockaddr_in peer;
		uint64_t since_ns;
	} hop_idle[DP_HOP_IDLE_MAX];
	uint32_t nhop_idle;
	int hop_keepalive; /* keep them at all (SURE_HOP_KEEPALIVE) */
	/* The nodes' shared key for hops (sure_dataplane_set_hop_key), if any. */
	struct sure_hmac_key hop_key;
	int hop_keyed;
	uint64_t hops_refused; /* from elsewhere, or without the key's MAC */
	uint64_t hops_out, hops_in, hop_failures; /* counted here, shown in stats */
	uint64_t hop_connects; /* connections opened for hops */
	uint64_t next_token;
	uint64_t next_runaway_ns; /* the next look for idle instances that never slept */
	uint64_t rng[2];
	/* events: a ring the control plane drains */
	pthread_cond_t ev_cond;
	struct sure_dp_event *ev;
	uint32_t ev_head, ev_len;
	/* The reader's wake-ups (sure_dataplane_events): events other than
	 * DONE in the ring, how many events end its linger, and a kick. */
	uint32_t ev_urgent, ev_want, ev_kick;
	uint64_t ev_last_ns; /* when the reader last returned */
	/* Folding DONE events for the reader (sure_dataplane_fold_done): on,
	 * and the bucket bounds. */
	int fold;
	uint32_t fold_nbounds;
	uint64_t fold_bounds[SURE_DP_FOLD_BOUNDS];
	uint64_t events_dropped;
	uint64_t copied_in;
	uint64_t pipelined, requeued, withdrawn; /* sure_dataplane_stats */
	uint8_t resp_head[SURE_RESP_HEAD_CAP]; /* the checked copy of a guest's head */
	uint8_t err_head[512]; /* head block of the node's own error answers */
	/* the traceparent of the request being answered (the node's span), or "" */
	char traceparent[56];
	/* The request log written here (dp_reqlog.c): per stream (0 stdout,
	 * 1 stderr) its fd (-1: off), the lines buffered (the last len of the
	 * total bytes ever buffered), up to which total the control plane has
	 * had the events (ready), and the flusher's copy. pos: per event in the
	 * ring, the totals once its line was buffered. All but out: `lock`. */
	struct dp_reqlog {
		int fd[2];
		char *buf[2], *out[2];
		size_t len[2];
		uint64_t total[2], ready[2];
		uint64_t (*pos)[2];
		uint64_t dropped;
		long iso_sec;
		char iso[24];
		pthread_mutex_t flush_lock;
	} reqlog;
};

/* ---- dp_auth.c: who may invoke a private function ---- */
#define SURE_FORWARDED_BY "x-sure-forwarded-by"
#define SURE_FORWARD_MAC "x-sure-forward-mac"
/* Authorization: Bearer <the node's token>, compared in constant time. `lock` held. */
int sure_dp_authorized(const struct sure_dataplane *dp, const uint8_t *head);
/* Forwarded by a node with the hop key, which checked its caller's token:
 * x-sure-forward-mac is the MAC of x-sure-forwarded-by, the function, the
 * method, path, query and Content-Length, and no Authorization came (a
 * token sent is the token checked). `lock` held. */
int sure_dp_forward_signed(const struct sure_dataplane *dp, const struct sure_http_req *req,
			   const uint8_t *head);
/* The two header lines that sign req as forwarded by this node (dp->node),
 * into mark (cap bytes): 0, or -ENOSPC. The hop key must be set. `lock` held. */
int sure_dp_forward_seal(const struct sure_dataplane *dp, const struct sure_http_req *req,
			 const uint8_t *head, char *mark, size_t cap);

/* ---- dp_forward.c: invokes of functions other nodes run ---- */
/* The server's forward(): another node for an /invoke no route here serves. */
int sure_dp_forward(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		    struct sure_http_forward *fw);
void sure_dp_forwards_free(struct sure_dataplane *dp);

/* ---- dispatch.c: the server's callbacks ---- */
extern const struct sure_http_ops sure_dp_ops;
void sure_dp_on_notify(void *arg);
void sure_dp_on_tick(void *arg, uint64_t now_ns);

/* ---- dp_plain.c: plain functions' instances ---- */
/* A lent instance is free (an answer, a lend): it takes queued requests up
 * to its depth; one with none goes on the idle stack (or back to the
 * control plane if it was reclaimed). */
void sure_dp_release(struct sure_dataplane *dp, struct dp_inst *i);
/* Copies q into a free slot of i and posts it: 1 if it was, 0 if not
 * (refused, or back in the queue), -1 if not and i is gone (it died with
 * nothing else in flight: q is parked). */
int sure_dp_start_on(struct sure_dataplane *dp, struct dp_inst *i, struct dp_req *q);
/* admit() of runtime/scheduler/autoscale.ts for q, which no idle instance
 * took: refused (429, 503), or queued (asking for an instance if one is
 * worth it) and then posted behind a busy instance's request if quick. */
void sure_dp_admit(struct sure_dataplane *dp, struct dp_route *r, struct dp_req *q);
/* Every busy instance's answers taken: 1 if any was. arm: the server is
 * about to sleep, so each still busy is asked to ring NOTIFY for an answer
 * after this look (Dekker with the guest's answer). */
int sure_dp_look_busy(struct sure_dataplane *dp, int arm);
/* Timeouts of running requests, instances that never went back to sleep,
 * and queues that waited past a start. */
void sure_dp_plain_tick(struct sure_dataplane *dp, uint64_t now_ns);
/* Answers every queued request of r with this (the control plane's) error. */
void sure_dp_fail_queued(struct sure_dataplane *dp, struct dp_route *r, int status,
			 const char *json, uint32_t len, const char *headers);
/* Answers the parked request token: 0, or -ENOENT (unknown, or the client left). */
int sure_dp_answer_parked(struct sure_dataplane *dp, uint64_t token, int status,
			  const char *json, uint32_t len, const char *headers);

/* ---- dp_reqlog.c: the request log ---- */
/* Buffers the request log's line for ev (target "function" or "chain",
 * name): if the log is on. `lock` held. */
void sure_dp_reqlog(struct sure_dataplane *dp, const struct sure_dp_event *ev, const char *target,
		    const char *name);
/* Event ev_index of the ring was queued: its line (if any) is buffered.
 * `lock` held. */
void sure_dp_reqlog_queued(struct sure_dataplane *dp, uint32_t ev_index);
/* The control plane has the events up to ev_index: their lines may go out.
 * `lock` held. */
void sure_dp_reqlog_taken(struct sure_dataplane *dp, uint32_t ev_index);
/* 0, or -ENOMEM. */
int sure_dp_reqlog_init(struct sure_dataplane *dp);
/* Writes what is left and frees the buffers (the server has stopped). */
void sure_dp_reqlog_free(struct sure_dataplane *dp);

/* ---- dp_req.c: a request's life ---- */
/* q's request id (the client's x-request-id, else a new UUID) and trace
 * context (the caller's traceparent, else a new trace; the node's span). */
void sure_dp_identify(struct sure_dataplane *dp, struct dp_req *q, struct sure_http_exchange *ex);
/* The DONE event of q (rc: 1 for a chain's hand-off loop). */
void sure_dp_done(struct sure_dataplane *dp, struct dp_req *q, uint32_t tag, int status,
		  const char *code, uint64_t out_bytes, int32_t rc);
void sure_dp_req_free(struct sure_dataplane *dp, struct dp_req *q);
/* dp->traceparent := the node's span of q's trace (what it answers with). */
void sure_dp_set_traceparent(struct sure_dataplane *dp, const struct dp_req *q);
/* Parks q for the control plane's answer: ev (kind, route, tag, rc...) gets
 * q's token, trace and request id and is sent. */
void sure_dp_park(struct sure_dataplane *dp, struct dp_req *q, struct sure_dp_event *ev);
/* Copies a request head block (table, then strings at the same offsets). */
void sure_dp_copy_head(uint8_t *dst, const uint8_t *head);
/* Answers a request the guest's sidecar refused or whose handle() failed
 * (reason != SURE_REASON_HANDLER): 1, else 0. fn names the function. */
int sure_dp_refused(struct sure_dataplane *dp, struct dp_req *q, const char *fn, int reason,
		    int rc, uint32_t deadline_ms);

/* ---- dp_chain.c: chain requests ---- */
/* take() of a chain's route: its body limit, and a slot to receive the body into. */
void sure_dp_chain_take(struct sure_dataplane *dp, struct dp_route *r,
			const struct sure_http_req *req, uint64_t *max_body, uint8_t **body,
			uint64_t *body_cap);
/* run(): q (id, trace and route set) is a chain's request, or its body was
 * received into a chain's pool: 1 (it is handled), else 0. */
int sure_dp_chain_run(struct sure_dataplane *dp, struct dp_req *q);
/* A body slot given out by take() whose request never ran: 1 if it was a chain's. */
int sure_dp_chain_cancel(struct sure_dataplane *dp, const uint8_t *body);
void sure_dp_chain_tick(struct sure_dataplane *dp, uint64_t now_ns);
/* The server's thread: a chain's gateway doorbell rang. */
void sure_dp_on_chains(void *arg);
/* The server has nothing else to do (dispatch.c idle): a look at the rings
 * the data plane consumes. While requests are in a chain its gateway says it
 * is awake, so hand-backs ring no doorbell; arm: it says it sleeps again,
 * then one more look. 1: something was handed back; 0: requests are still in
 * chains and an answer is due within a spell of polling; -1: none is.
 * `lock` held. */
/* How long the server polls for a chain's answers before it sleeps (dispatch.c idle). */
/* Longest nap between looks at a chain's rings while they are polled: half
 * the time to its next answer, at most this (sure_dp_chains_idle). */
#define SURE_DP_NAP_MAX_NS 20000u
#define SURE_DP_POLL_CHAIN_NS 100000ull
int sure_dp_chains_idle(struct sure_dataplane *dp, int arm, uint64_t *nap_ns);
/* dp stopped: forgets every chain (the server is gone). */
void sure_dp_chains_free(struct sure_dataplane *dp);

/* ---- dp_chain_answer.c ---- */
/* Answers q from its slot (a completion at the gateway, or a hop's answer
 * another node asked for), frees the slot and q. */
void sure_dp_chain_answer(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			  const struct sure_completion *cp);

/* ---- dp_hop_in.c, dp_hop.c: steps another node runs ---- */
/* Attach: the remote steps' addresses from cfg (-EINVAL names none bad). */
int sure_dp_hop_attach(struct dp_chain *dc, char *err, size_t errcap);
/* run() of a hop another node sent (x-sure-hop): 1 if it was one (handled). */
int sure_dp_hop_in(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
		   uint32_t slot);
/* Hand-offs to the steps other nodes run: collected and sent on (how many). */
/* A hand-off to step `node`, which another node runs, of request q (a
 * request of this attachment, not out at another node already): sent there,
 * or answered (the client left, a loop, the peer's own hop answered). */
void sure_dp_hop_hand_off(struct sure_dataplane *dp, struct dp_chain *dc, struct dp_req *q,
			  struct sure_completion *cp, uint32_t node);
/* The server's thread: a hop socket is ready. */
void sure_dp_on_hops(void *arg);
/* q leaves (timeout, release): its hop in progress is dropped. */
void sure_dp_hop_cancel(struct sure_dataplane *dp, struct dp_req *q);
void sure_dp_hops_free(struct sure_dataplane *dp);
/* Connects that take too long fail. */
void sure_dp_hop_tick(struct sure_dataplane *dp, uint64_t now_ns);

/* ---- dp_hop_mac.c: the MACs of chain hops between nodes ---- */
/* The method a hop is sent with for a request whose head is `head`: the
 * client's, except HEAD, sent as GET, since an answer to HEAD has no body and
 * a hop's answer carries the request's bytes on (the step another node runs
 * sees GET; the client's answer still has no body). */
const char *sure_dp_hop_method(const uint8_t *head, uint32_t *len);
/* x-sure-hop-mac: HMAC-SHA256, under the nodes' shared key, of what a hop
 * asks for: the chain, its x-sure-hop value, the request id, the method
 * (sure_dp_hop_method), path and query (from the head block), and the body's
 * length, each ended by
 * a NUL. Written as 64 lower-case hex digits and a NUL. It proves that a
 * node with the key sent it; the body's bytes are not in it (hashing them
 * would cost more than the hop), nor is anything against a replay by whoever
 * can read the link between the nodes. */
#define SURE_HOP_MAC_HEX (2 * SURE_SHA256_LEN)
void sure_dp_hop_mac(const struct sure_hmac_key *k, const char *chain, const char *hop,
		     uint32_t hop_len, const char *request_id, const uint8_t *head,
		     uint64_t body_len, char *out);
/* The MAC of the answer to a hop: of the hop's own MAC (which binds what it
 * asked), the status, the x-sure-hop-next value ("" for a final answer) and
 * the body's length. Written as above. */
void sure_dp_hop_answer_mac(const struct sure_hmac_key *k, const char *request_mac, int status,
			    const char *next, uint64_t body_len, char *out);
/* Adds x-sure-hop-mac to the response head blk of q's answer when q is a hop
 * another node sent with a good MAC (and this node has a key): next as above. */
void sure_dp_hop_seal(struct sure_dataplane *dp, const struct dp_req *q, uint8_t *blk, int status,
		      const char *next, uint64_t body_len);

/* ---- dp_state.c ---- */
/* Creates or updates the route cfg->name (lock held): its id or -errno. */
int sure_dp_route_locked(struct sure_dataplane *dp, const struct sure_route_config *cfg);
struct dp_route *sure_dp_lookup(struct sure_dataplane *dp, const char *name);
/* The routes' hash of a name (FNV-1a), also the forwards' (dp_forward.c). */
static inline uint32_t sure_dp_name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}
/* Appends an event (lock held); DONE events may be dropped when the ring is nearly full. */
void sure_dp_event(struct sure_dataplane *dp, const struct sure_dp_event *ev);
/* Takes idle instance i out of the route's idle stack. */
void sure_dp_idle_remove(struct dp_route *r, struct dp_inst *i);
/* Unlinks and frees a lent instance (not busy). */
void sure_dp_inst_free(struct dp_route *r, struct dp_inst *i);

/* ---- dp_answer.c ---- */
/* Answers q with the node's error, counts it (DONE) and frees q. */
#define SURE_DP_FAIL(dp, q, status, code, extra, headers, ...)                          \
	do {                                                                             \
		sure_dp_set_traceparent(dp, q);                                          \
		sure_dp_done(dp, q, 0, status, code, 0, 0);                              \
		if ((q)->ex)                                                             \
			sure_dp_error(dp, (q)->ex, q, status, code, extra, headers, __VA_ARGS__); \
		(q)->ex = NULL; /* answered: the server freed it */                      \
		sure_dp_req_free(dp, q);                                                 \
	} while (0)

/* Appends the NUL-terminated s to out at `at` as the inside of a JSON string
 * (stopping short of cap, and leaving a NUL): the new end. */
size_t sure_dp_json_escape(char *out, size_t cap, size_t at, const char *s);
/* Answers ex with the node's JSON error {"error","message",...extra} and
 * headers (lines "name: value\n", or NULL); q: its request, if it has one
 * (a hop's answer is sealed, sure_dp_hop_seal). */
void sure_dp_error(struct sure_dataplane *dp, struct sure_http_exchange *ex, const struct dp_req *q,
		   int status, const char *code, const char *extra, const char *headers,
		   const char *fmt, ...) __attribute__((format(printf, 8, 9)));
/* Answers ex with a JSON body made elsewhere (the control plane's); q as above. */
void sure_dp_answer_json(struct sure_dataplane *dp, struct sure_http_exchange *ex,
			 const struct dp_req *q, int status, const char *json, uint32_t len,
			 const char *headers);

/* dp_zstack.c: the af_xdp backend. Opens the Z-stack cfg asks for into
 * dp->zs and points the server's config at it (0 or -errno); fills the
 * stack's counters; closes it (after the server stopped). */
int sure_dp_zstack_open(struct sure_dataplane *dp, const struct sure_dataplane_config *cfg,
			struct sure_http_server_config *sc);
void sure_dp_zstack_stats(struct sure_dataplane *dp, struct sure_dataplane_stats *out);
void sure_dp_zstack_close(struct sure_dataplane *dp);

#endif
