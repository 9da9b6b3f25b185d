/*
 * http_server.h - internal: the HTTP/1.1 server of libsure's data plane
 * (kernel TCP and, with cfg.zs, the Z-stack; epoll; one data-plane thread).
 *
 * It owns the listening socket and every client connection. It parses with
 * http_parse.c, keeps requests of a connection in order (pipelining: the
 * answer to request n is written before that of n+1, whatever order they
 * finish in), answers `100 Continue`, enforces slow-client timeouts and
 * drains gracefully. It serves /invoke/<name> requests that its owner (the
 * dispatcher, struct sure_http_ops) takes; any other request, and an
 * /invoke the owner does not take, goes through a tunnel to the upstream
 * (the node's Hono app on a unix socket): from the first byte of that
 * request on, bytes are relayed both ways unchanged, for that exchange only
 * where both its ends are known (http_tunnel.c), else until either side
 * closes, so users see one port.
 *
 * Threading: everything here runs on the server's thread, and so do the
 * ops callbacks. sure_http_answer*() must be called on that thread too
 * (the owner gets onto it with sure_http_server_watch()/_tick);
 * sure_http_server_stop() may be called from any thread.
 */
#ifndef SURE_HTTP_SERVER_H
#define SURE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http_parse.h"

struct zstack;

struct sure_http_server;

/* One request being served on the invoke path: from the owner's take() until
 * it is answered (or cancelled). The server allocates it; the owner may keep
 * its own state in `owner`. */
struct sure_http_exchange {
	struct sure_http_server *srv;
	const struct sure_http_req *req; /* name, request id, keep-alive, lengths */
	uint8_t *head; /* the request head block (struct sure_head), SURE_REQ_HEAD_CAP */
	uint8_t *body; /* the decoded body: body_len bytes */
	uint64_t body_len;
	uint64_t started_ns; /* CLOCK_MONOTONIC when its first byte arrived */
	uint32_t route; /* what take() set */
	const struct sockaddr *peer; /* the client's address */
	void *owner; /* the owner's */
	/* The owner's: the x-request-id to answer with (NUL-terminated, sane,
	 * alive until the answer), e.g. one it made up. NULL or "": the client's
	 * (req->request_id) if it sent a sane one, else none. */
	const char *request_id;
};

/* Where forward() sends an /invoke: another node's public port. */
struct sure_http_forward {
	struct sockaddr_in addr;
	char node[32]; /* its name: x-sure-node on the answer, and in errors */
	char name[64]; /* the function, for errors */
	uint32_t timeout_ms; /* the whole exchange, else 504 (or cut, once answering) */
	/* header lines added to the request: "name: value\r\n..." */
	char mark[192];
	/* The request's Authorization is this node's token, checked here: never
	 * sent on (the owner signed the request for that node in mark instead),
	 * nor any x-sure-forward-mac the client sent. */
	uint8_t drop_auth;
	/* name is a chain whose first step that node runs: a failure is the
	 * chain's 502 peer_unreachable (with "chain"), not forward_failed. */
	uint8_t chain;
	/* addr is a Z-stack's (a chain's peers are, as its hops go): connect
	 * from the server's Z-stack (cfg.zs; none: kernel TCP). 0: kernel TCP,
	 * as to a fleet member's public address. */
	uint8_t zstack;
};

/* What the owner says of polling (sure_http_ops.idle). */
struct sure_http_poll {
	uint64_t for_ns; /* how long from the first look that found something outstanding */
	/* How long the server may sleep between looks (its sockets still wake
	 * it): answers due tens of microseconds apart are then looked for a few
	 * times, not hundreds. 0: look again at once. */
	uint64_t nap_ns;
};

struct sure_http_ops {
	/*
	 * At the head of an /invoke/<name> request (before any body byte):
	 * > 0  the owner serves it: *max_body is its body limit (413 past it),
	 *      *route is stored in the exchange; *body and *body_cap may point to where
	 *      the body must land (e.g. the instance's request area), else the
	 *      server uses a buffer of its own (then ex->body is that buffer).
	 *      A request the head ends (no Content-Length, or 0, and not
	 *      chunked) has no body: a buffer given for it is not used, so an
	 *      owner reserves memory only when a body follows.
	 *   0  not the owner's: it goes through a tunnel to the upstream
	 * < 0  -ENOENT etc. are not used: an unknown name is simply 0
	 */
	int (*take)(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		    uint64_t *max_body, uint32_t *route, uint8_t **body, uint64_t *body_cap);
	/* The request is complete: run it, answer later (or at once) with
	 * sure_http_answer*. Never called from inside sure_http_answer*. */
	void (*run)(void *ctx, struct sure_http_exchange *ex);
	/* The client went away, timed out or sent a bad body (or the server
	 * stops) before ex was answered: the owner must forget ex (it is freed
	 * after this returns) and not answer it (sure_http_answer* now refuse
	 * it with -EINVAL). Called once for every request take() accepted that
	 * is not answered, also before run() when the body never completed: then
	 * ex->req, ex->route and ex->body (the owner's buffer, if it gave one)
	 * say which request it was. A client that closes (or half-closes) its
	 * side while the owner holds ex counts as gone, as in nginx (499).
	 * Never called from inside sure_http_answer*. */
	void (*cancel)(void *ctx, struct sure_http_exchange *ex);
	/*
	 * An /invoke that take() did not take (optional, NULL: none): > 0 sends
	 * it to the node *fw names instead of the upstream (http_forward.c), 0
	 * to the upstream. A node that refuses the connection gets it to the
	 * upstream after all; anything else that fails before the node answered
	 * is the server's 502 forward_failed (or 504 function_timeout).
	 */
	int (*forward)(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		       struct sure_http_forward *fw);
	/*
	 * The server has no event to handle (optional): the owner looks at what
	 * it would be woken for (a guest's answer, say). > 0: that look
	 * answered something, so the server does not wait this round.
	 * arm 0: the server polls for a while before it sleeps (a wake-up
	 * costs a guest an exit): 0 means something is still outstanding and
	 * worth polling for, for up to *poll_ns from the first such look (the
	 * owner knows how soon its answers come), < 0 that nothing is; and how
	 * long the server may nap between looks (poll->nap_ns; 0: it looks
	 * again at once). arm 1: the server is about to sleep; the owner
	 * arranges to be woken for what comes after this look.
	 */
	int (*idle)(void *ctx, int arm, struct sure_http_poll *poll);
};

enum { SURE_HTTP_IO_EPOLL = 0, SURE_HTTP_IO_URING = 1 };

struct sure_http_server_config {
	const char *host; /* listen address (numeric IPv4/IPv6), e.g. "127.0.0.1" */
	uint16_t port; /* 0: any free port (sure_http_server_port tells) */
	const char *upstream; /* unix socket path of the upstream (the Hono app);
			       * "@name": an abstract one; NULL: tunnels answer 502 */
	uint32_t max_conns; /* 0: 4096; more are accepted and closed at once */
	uint32_t max_head; /* raw head bytes, 0: the parser's default (431 past it);
			    * at most 1 MiB (each connection buffers max_head + 16 KiB) */
	uint64_t max_body; /* body limit before the owner's (413), 0: 1 MiB */
	uint32_t header_timeout_ms; /* head must arrive within (0: 10 s): 408, close */
	uint32_t body_timeout_ms; /* no body byte for this long (0: 10 s): 408, close */
	uint32_t idle_timeout_ms; /* keep-alive connection idle (0: 60 s): close */
	uint32_t write_timeout_ms; /* client reads nothing of the answer for this
				    * long (0: 30 s): close. Tunnels have no timeout. */
	uint64_t cpu_mask; /* CPUs (bit n: CPU n) the server's thread may run on; 0: anywhere */
	/* Also (or, with host "", only) the Z-stack (zstack.h): the server
	 * accepts on it too, at the same port of the stack's own address (port
	 * must not be 0 then), and runs it on its thread from start to stop: the
	 * owner must not touch the stack meanwhile except from the ops
	 * callbacks, watches and ticks, which run on that thread. NULL: none. */
	struct zstack *zs;
	/* 1: listen, but accept nothing until sure_http_server_open(), so that
	 * no request reaches an owner that is not ready (its routes, the
	 * upstream), while a taken port is still found at start: connections
	 * made meanwhile wait in the kernel's backlog and are served once open
	 * (the Z-stack's listener only comes then: its peers are refused
	 * before). 0: accept at once. */
	uint8_t hold_accept;
	/* How kernel clients are read: SURE_HTTP_IO_EPOLL (0), or
	 * SURE_HTTP_IO_URING, whose start fails (-ENOSYS, -EPERM,
	 * -EOPNOTSUPP) on a kernel or under a seccomp policy without the
	 * io_uring it needs (Linux 5.19+). http_uring.c says what it saves. */
	uint8_t io;
	const struct sure_http_ops *ops;
	void *ctx;
};

/* Binds, listens and starts the server's thread (accepting unless
 * cfg->hold_accept). 0 or -errno (-EADDRINUSE, -EINVAL for a host that is no numeric address,
 * -ENAMETOOLONG...). The strings of cfg are not kept. */
int sure_http_server_start(const struct sure_http_server_config *cfg,
			   struct sure_http_server **out);
/* Starts accepting on a server started with hold_accept: the kernel
 * listener at once, the Z-stack's from the server's thread right after.
 * Once; not after sure_http_server_stop. 0 or -errno. */
int sure_http_server_open(struct sure_http_server *srv);
/* The port it listens on. */
uint16_t sure_http_server_port(struct sure_http_server *srv);
/*
 * Graceful drain: stop accepting, close idle keep-alive connections, let
 * requests in progress be answered (each connection closes after its
 * current answer) for up to grace_ms, then close everything, cancel what is
 * left, join the thread and free the server. Any thread but the server's
 * own (it joins it), once.
 */
void sure_http_server_stop(struct sure_http_server *srv, uint32_t grace_ms);

/*
 * Answers ex (on the server's thread) and frees it: status line, the
 * function's response head block (resp_head: a checked copy in struct
 * sure_head form, or NULL), content-type application/octet-stream when it
 * set none, content-length, x-request-id, then body. The body is written
 * straight from where it lies when the socket takes it; what the socket does
 * not take at once is copied into the connection's own buffer, so the
 * caller may reuse the body's memory as soon as this returns.
 * HEAD requests and 204/205/304 get no body bytes (HEAD keeps the
 * content-length; 204 and 304 have none, 205 has 0). The x-request-id is
 * ex->request_id, else the client's sane one, else none. 0 or -EINVAL:
 * status not in 200..599, a malformed resp_head, or ex not handed out by
 * run() or already answered or cancelled. A client gone meanwhile is still 0.
 */
int sure_http_answer(struct sure_http_exchange *ex, int status, const uint8_t *resp_head,
		     const uint8_t *body, uint64_t len);
/* Answers ex with the node's JSON error shape:
 * {"error":"<code>","message":"<message>"<extra>} where extra is "" or
 * a JSON fragment starting with ',' (e.g. ",\"limit\":1024"). */
int sure_http_answer_error(struct sure_http_exchange *ex, int status, const char *code,
			   const char *message, const char *extra);

/* The owner's own fds and timers on the server's thread: fn(arg) runs when
 * fd is readable (edge: the owner drains it). The fd stays the owner's and
 * registered until the server stops (close it after that). Any thread.
 * 0 or -errno. */
int sure_http_server_watch(struct sure_http_server *srv, int fd, void (*fn)(void *arg),
			   void *arg);
/* The node of that name stopped answering (its heartbeat expired and its
 * port is gone): exchanges forwarded to it that it has not begun to answer
 * fail at once with 502 forward_failed, the others are cut. Any thread;
 * done on the server's within a round. 0, or -EAGAIN when 8 are waiting. */
int sure_http_server_fail_node(struct sure_http_server *srv, const char *node);
/* fn(arg, now_ns) runs every period_ms on the server's thread (deadlines). */
int sure_http_server_tick(struct sure_http_server *srv, uint32_t period_ms,
			  void (*fn)(void *arg, uint64_t now_ns), void *arg);

/* Counters (read from any thread; each only grows, except conns_open). */
struct sure_http_server_stats {
	uint64_t conns_open;
	uint64_t conns_accepted;
	uint64_t conns_refused; /* over max_conns */
	uint64_t requests; /* answered on the invoke path */
	uint64_t tunnelled; /* tunnels to the upstream begun (one exchange, or the rest of a connection) */
	uint64_t forwarded; /* exchanges sent to another node (forward()) */
	uint64_t forwards_refused; /* of those, refused by the node: to the upstream instead */
	uint64_t forward_failures; /* of those, failed before the node answered (502, 504) */
	uint64_t forward_connects; /* connections opened to nodes (others are reused) */
	uint64_t parse_errors; /* 4xx/5xx from the parser (413s after take() too) */
	uint64_t timeouts; /* slow clients closed (head, body, write; not idle) */
	uint64_t bytes_in; /* from clients, tunnels included */
	uint64_t bytes_out; /* to clients, tunnels included */
	uint64_t copied_in; /* body bytes the parser copied out of a connection's
			     * input buffer (those that came with the head, or a
			     * chunked body); the rest was received in place */
	uint64_t copied_out; /* answer bytes copied because the socket was full */
	uint64_t io_uring; /* 1: kernel clients are on io_uring, 0: on epoll */
	uint64_t threads; /* loop threads running: 1 from its start to its end */
	uint64_t cpu_mask; /* CPUs 0-63 the loop thread may run on, as the kernel
			    * has it once placed (0 until the thread runs) */
};
void sure_http_server_stats(struct sure_http_server *srv, struct sure_http_server_stats *out);

#endif
