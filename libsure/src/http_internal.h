/*
 * http_internal.h - internal to the HTTP server: the server and connection
 * records and the calls between its files. Everything here runs on the
 * server's thread. The files stand in layers, each calling only those below
 * it, so none calls back into a caller:
 *
 *   http_server.c   the loop: accepts, events, ticks, sweeps, reaping; the API
 *   http_zs.c       the Z-stack's listener and its sockets' events
 *   http_request.c  a connection's requests: parse, take, body, run, timeouts
 *   http_tunnel.c   exchanges relayed to the upstream, or to another node
 *   http_forward.c  what a tunnel to another node adds: its marks, its errors
 *   http_answer.c   answers and the server's own errors
 *   http_conn.c     the connection: open, output, input, close, release
 *   http_uring.c    kernel sockets on io_uring (a completion queues its
 *                   connection on srv->again; the loop drives it)
 *
 * A connection is one client socket and, once it is a tunnel, one upstream
 * socket. Both are registered edge-triggered once, for reading and writing;
 * the events only set readiness flags (rd, wr, urd, uwr) that a recv/send
 * clears on EAGAIN, and conn_drive() does whatever the flags and the state
 * allow. So a connection that must not read (an exchange is with the owner,
 * the upstream is full) simply does not, and costs no epoll_ctl.
 *
 * A connection is never freed while anything may still point at it: closing
 * moves it to srv->grave, and the loop frees (or pools) the grave after the
 * round of events, so a later event of the same round finds it marked closed.
 */
#ifndef SURE_HTTP_INTERNAL_H
#define SURE_HTTP_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "http_server.h"
#include "sock_io.h"
#include "uring.h"
#include "zstack.h"

#define MS(ms) ((uint64_t)(ms) * 1000000) /* ms in the loop's nanoseconds */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* What an epoll event's data.ptr points at: the first member of its owner. */
enum ev_kind { EV_LISTEN, EV_WAKE, EV_WATCH, EV_CLIENT, EV_UPSTREAM, EV_ZSTACK };
struct http_ev {
	int kind;
};

enum conn_state {
	CS_REQ, /* reading and parsing a request (the owner may have taken it) */
	CS_RUN, /* run() was called: the owner holds the exchange */
	CS_WRITE, /* an answer is being written; then the next request or close */
	CS_TUNNEL, /* relaying bytes between the client and the upstream */
	CS_LINGER, /* last answer written, write side shut: discard input until EOF */
};

/* What happens when conn->deadline_ns passes (the sweep looks every 100 ms). */
enum deadline_kind { DL_NONE, DL_IDLE, DL_HEAD, DL_BODY, DL_WRITE, DL_LINGER, DL_FORWARD };

struct conn {
	struct http_ev cev, uev; /* client and upstream socket events */
	struct sure_http_server *srv;
	struct conn *prev, *next; /* srv->conns (live), srv->grave or srv->pool */
	struct conn *again_next; /* srv->again: work left after a budget */
	int fd, ufd;
	int state;
	int dl_kind;
	uint64_t deadline_ns;
	uint64_t first_ns; /* first byte of the current request, 0: none yet */
	uint8_t rd, wr, urd, uwr; /* edge-triggered readiness */
	/* The kernel said the client's side ended or failed (EPOLLRDHUP, HUP,
	 * ERR): from then on, read until recv says so (see conn_read_short). */
	uint8_t hup;
	uint8_t eof, ueof, ushut, uconnecting;
	uint8_t closed, on_again, close_after;
	uint8_t taken; /* the owner's take() accepted the request, not answered yet */
	uint32_t busy; /* conn_drive() is on the stack: answers do not recurse */
	/* Input: [req_start, in_pos) parsed bytes of the current request (kept
	 * whole until its head decides tunnel or not), [in_pos, in_end) not yet
	 * parsed. In a tunnel, [req_start, in_end) is still due to the upstream. */
	uint32_t in_cap, req_start, in_pos, in_end;
	uint64_t dropped; /* bytes read and dropped while lingering */
	/* On io_uring (http_uring.c): a recv submitted into in + rx_off, its
	 * result not yet applied (rx_done, rx_res), polls submitted for a body
	 * (pin) and for output (pout), and a body waiting for its poll. */
	uint8_t rx_busy, rx_done, pin_busy, pout_busy, want_in;
	int32_t rx_res;
	uint32_t rx_off;
	struct zs_sock *zs; /* the client's Z-stack socket (then fd is -1), or NULL */
	/* The tunnel's other side on the Z-stack (another node, when the server
	 * runs on it; then ufd is -1), or NULL: see up_open(). */
	struct zs_sock *uzs;
	/* A tunnel for one exchange (http_tunnel.c): once the request is passed
	 * on and its answer passed back, the upstream connection is closed and
	 * this one parses requests again. tx 0: a tunnel until a side closes. */
	uint8_t tx, tx_framed;
	uint64_t tx_req_left; /* bytes of the request still to pass on */
	uint64_t tx_resp_got; /* bytes of the answer received so far */
	uint64_t tx_resp_total; /* head + body, once its head is read (tx_framed) */
	size_t tx_resp_off; /* where the answer starts in out */
	/* A tunnel to another node (fw_on, http_forward.c): fw says where; the
	 * mark goes into the request's head after fw_mark_at more of its bytes
	 * (fw_mark_off of it sent), x-sure-node into the answer's after its
	 * status line (fw_line: still to go in). fw_heard: the node sent a byte,
	 * so a failure now cuts the answer instead of replacing it. fw_again:
	 * it went on a kept connection and is all in `in` from fw_start (its
	 * head fw_head bytes), kept there until the node answers, so that it can
	 * go once more on a new connection if the node closed the kept one. */
	uint8_t fw_on, fw_done, fw_heard, fw_line, fw_again;
	uint32_t fw_mark_at, fw_mark_off, fw_start, fw_head;
	uint64_t fw_req_left; /* bytes of the request still to pass on */
	struct sure_http_forward fw;
	/* Output: [out_off, out_len) still to send (a tunnel: the upstream's bytes). */
	uint8_t *out;
	size_t out_cap, out_off, out_len;
	/* The server's own body buffer, for owners that give none. */
	uint8_t *body;
	uint64_t body_cap;
	uint64_t limit; /* body limit of the taken request (413 shows it) */
	struct sure_http_exchange ex;
	struct sockaddr_storage addr; /* the client's address (ex.peer points here) */
	struct sure_http_parser p;
	uint8_t head[SURE_REQ_HEAD_CAP];
	uint8_t in[]; /* in_cap bytes */
};

struct http_tick {
	struct http_tick *next;
	uint64_t period_ns, next_ns;
	void (*fn)(void *arg, uint64_t now_ns);
	void *arg;
};

struct http_watch {
	struct http_ev ev; /* EV_WATCH */
	struct http_watch *next;
	void (*fn)(void *arg);
	void *arg;
};

#define FWD_IDLE_MAX 32u /* connections to other nodes kept between forwards */
#define FWD_IDLE_NS (15ull * 1000000000) /* for this long (a node keeps them 60 s) */

struct sure_http_server {
	struct sure_http_server_config cfg; /* zeros replaced by defaults */
	struct sure_http_config pcfg; /* the parser's: max_head, max_body */
	uint64_t hdr_ns, body_ns, idle_ns, write_ns;
	struct sockaddr_un up_addr;
	socklen_t up_len; /* 0: no upstream (tunnels answer 502) */
	int ep, lfd, wfd;
	/* Kernel clients on io_uring (http_uring.c), or NULL: on epoll. */
	struct uring *ring, ring_mem;
	uint8_t ep_armed, ep_ready; /* the ring's poll of ep: submitted, fired */
	/* The loop's word to start: 1 once it decided how it reads (ring_rc:
	 * 0, or why it has no ring). */
	uint32_t io_known;
	int ring_rc;
	struct conn *limbo; /* closed, waiting for their cancelled operations */
	struct http_ev lev, wev, zev;
	struct zs_sock *zls; /* the Z-stack listener (cfg.zs), or NULL */
	uint16_t port;
	pthread_t thr;
	uint64_t now_ns; /* the loop's clock, read once per round */
	uint64_t poll_until_ns; /* polling the owner (ops->idle) until then; 0: not */
	uint64_t nap_ns; /* this round's nap between looks while polling (0: none) */
	uint64_t next_sweep_ns, listen_resume_ns;
	uint64_t zs_timer_ns; /* when the Z-stack's next timer is due (cfg.zs) */
	/* What a tunnel's Z-stack side to another node binds its events to
	 * (http_zs.c sets it at attach, so that the tunnel, below the request
	 * loop, names no function above it). */
	zs_event_fn zs_node_event;
	struct conn *conns, *grave, *pool, *again;
	uint32_t nconns, npool;
	/* Registered from any thread: prepended under lock, read by the loop. */
	pthread_mutex_t lock;
	struct http_tick *ticks;
	struct http_watch *watches;
	uint32_t stop_req, grace_ms; /* atomics: set by sure_http_server_stop */
	/* Connections to other nodes that a forwarded exchange left open, for
	 * the next one to the same node (http_forward.c): oldest first. */
	struct fwd_idle {
		int fd; /* -1: zs */
		struct zs_sock *zs;
		struct sockaddr_in addr;
		uint64_t since_ns;
	} fwd_idle[FWD_IDLE_MAX];
	uint32_t nfwd_idle;
	/* Nodes sure_http_server_fail_node named, under lock, for the loop. */
	char dead_nodes[8][32];
	uint32_t ndead;
	uint32_t open_req; /* atomic: sure_http_server_open asked for the Z-stack's listener */
	int listening; /* the loop's: accepting (the listeners are up) */
	int draining;
	uint64_t drain_deadline_ns;
	/* Answer heads are built here and sent (or copied) at once. */
	char hbuf[SURE_RESP_HEAD_CAP + 2048];
	struct sure_http_server_stats st; /* updated with atomics */
};

#define STAT_ADD(s, f, n) __atomic_fetch_add(&(s)->st.f, (uint64_t)(n), __ATOMIC_RELAXED)
#define STAT_SUB(s, f, n) __atomic_fetch_sub(&(s)->st.f, (uint64_t)(n), __ATOMIC_RELAXED)

/* http_zs.c: the server on a Z-stack (cfg.zs) */
/* Runs the stack from the loop (frames, timers: ARP and ICMP are answered). */
int zsrv_attach(struct sure_http_server *s);
/* Accepts on it (before: the stack resets connections to the port). */
int zsrv_listen(struct sure_http_server *s);
void zsrv_poll(struct sure_http_server *s); /* frames, timers, socket events */
/* lwIP's timers if due, then the round's sends out; once a loop round. */
void zsrv_timers(struct sure_http_server *s);
#define ZS_TIMER_MAX_MS 100u
void zsrv_stop_listening(struct sure_http_server *s);

/* Work for a connection: conn_drive() runs it after this round's events,
 * once the others had their turn. */
static inline void conn_again(struct conn *c)
{
	struct sure_http_server *s = c->srv;

	if (c->on_again)
		return;
	c->on_again = 1;
	c->again_next = s->again;
	s->again = c;
}

/* Room at the end of the input buffer, dropping bytes no longer needed: the
 * raw head is kept until it is decided (a tunnel replays it). */
static inline uint32_t conn_in_room(struct conn *c)
{
	/* A forward that may be sent again keeps its bytes from fw_start. */
	uint32_t keep = c->fw_again ? c->fw_start : c->req_start;

	if (c->in_end == c->in_cap && keep > 0) {
		memmove(c->in, c->in + keep, c->in_end - keep);
		c->in_end -= keep;
		c->in_pos -= keep;
		c->req_start -= keep;
		if (c->fw_again)
			c->fw_start = 0;
	}
	return c->in_cap - c->in_end;
}

static inline int conn_on_ring(const struct conn *c)
{
	return c->srv->ring && !c->zs;
}

/* http_uring.c */
/* Sets up s->ring (on the loop's thread), or -errno if this kernel has no
 * io_uring we can use. */
int srv_ring_open(struct sure_http_server *s);
/* Submits, waits up to wait_ms, handles the completions and
 * returns the epoll events that are due (at most max, in evs). */
int srv_ring_round(struct sure_http_server *s, struct epoll_event *evs, int max, uint64_t wait_ns);
/* Waits up to wait_ms for completions and handles them (the server's stop
 * waits so for the operations of closed connections). */
void srv_ring_settle(struct sure_http_server *s, int wait_ms);
void srv_ring_close(struct sure_http_server *s);
int conn_ring_busy(const struct conn *c);
/* As conn_recv_in, but -ECONNRESET: the caller closes the connection. */
int conn_ring_recv_in(struct conn *c, int *eof);
void conn_ring_arm(struct conn *c); /* the polls this connection waits on */
void conn_ring_close(struct conn *c); /* cancels what it has submitted */

/* http_conn.c */
/* A new client: its kernel socket fd, or (fd -1) its Z-stack socket zs. */
int conn_open(struct sure_http_server *s, int fd, struct zs_sock *zs,
	      const struct sockaddr_storage *addr, struct conn **out);
void conn_close(struct conn *c);
/* Tells the owner to forget the exchange it took, if any (before it goes). */
void conn_cancel(struct conn *c);
void conn_release(struct conn *c); /* frees or pools a closed connection */
void conn_drain(struct conn *c); /* the server stops: close it if idle */
void conn_set_deadline(struct conn *c, int kind, uint64_t ns);
/* recv() into the input buffer: 1 progress, 0 nothing (EAGAIN or full), and
 * *eof on the client's FIN. Closes on a reset. */
int conn_recv_in(struct conn *c, int *eof);
/* A client recv() returned -1: 1 to try again (EINTR), else 0, with readiness
 * cleared (EAGAIN) or the connection closed (anything else). */
int conn_recv_failed(struct conn *c);
/* A recv of got bytes where room were asked for: a short read of a kernel
 * socket drained it, so readiness is off until the next edge. */
void conn_read_short(struct conn *c, size_t got, size_t room);
int conn_flush(struct conn *c);
int conn_out_reserve(struct conn *c, size_t n);
/* The exchange's answer is fully written: close, or parse the next request. */
void conn_answered(struct conn *c);

/* http_request.c */
/* Does whatever the connection's readiness and state allow. */
void conn_drive(struct conn *c);
void conn_sweep(struct conn *c, uint64_t now);

/* http_answer.c */
int answer_send(struct conn *c, const char *head, size_t hlen, const uint8_t *body, size_t blen);
/* Answers a request the server refuses itself (parser errors, timeouts, 502),
 * with connection: close; the owner's exchange, if any, is cancelled first. */
void conn_fail(struct conn *c, int status, const char *code, const char *message,
	       const char *extra);

/* The tunnel's other side: a kernel socket (c->ufd), or a node's connection
 * on the Z-stack (c->uzs). Reads and writes with the kernel's conventions. */
static inline int up_open(const struct conn *c)
{
	return c->ufd >= 0 || c->uzs;
}
static inline ssize_t up_send(struct conn *c, const void *p, size_t n)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };

	return sock_sendv(c->uzs, c->ufd, &iov, 1);
}
static inline ssize_t up_recv(struct conn *c, void *p, size_t n)
{
	return sock_recv(c->uzs, c->ufd, p, n);
}

/* Closes the other side (none: nothing to do). */
static inline void up_close(struct conn *c)
{
	sock_close(c->uzs, c->ufd);
	c->uzs = NULL;
	c->ufd = -1;
}

/* http_tunnel.c */
/* done: the request has no body (its head was all of it). */
int tunnel_start(struct conn *c, int done);
/* The same, to the node fw names (the owner's forward()). */
int tunnel_start_node(struct conn *c, int done, const struct sure_http_forward *fw);
int tunnel_pump(struct conn *c);

/* http_forward.c: a tunnel to another node (c->fw_on) */
/* Every `name` field cut out of the raw head [req_start, in_pos), before it
 * goes: req_start moves on by what was cut. */
void fwd_drop_field(struct conn *c, const char *name);
/* Its marks are still to go in: the request's from where its head ends. */
void fwd_begin(struct conn *c);
/* Of len request bytes, those that may go before the mark. */
size_t fwd_clip(const struct conn *c, size_t len);
/* n request bytes went; then the mark, if it is its turn: 1 progress, 0 none, -errno. */
int fwd_sent(struct conn *c, size_t n);
/* Room to keep free in out for the answer's x-sure-node line. */
size_t fwd_room(const struct conn *c);
/* Answer bytes came (at the end of out): the line goes in once its status
 * line is there; how many bytes that added. */
size_t fwd_heard(struct conn *c);
/* The answer's head is held until the line is in. */
static inline int fwd_holding(const struct conn *c)
{
	return c->fw_on && c->fw_line;
}
/* The exchange failed (why): replaced by a 502 if the node said nothing yet,
 * else cut. 0: closed, the caller stops; 1: the 502 is on its way. */
int fwd_broken(struct conn *c, const char *why);
/* Its deadline passed: 504 if the node said nothing yet, else cut. */
void fwd_timeout(struct conn *c);
/* A connection to addr (on the Z-stack, or kernel TCP) a forwarded
 * exchange left open, still open and silent, out of the pool into *out: 1,
 * or 0: none. */
int fwd_idle_take(struct sure_http_server *s, const struct sockaddr_in *addr, int zstack,
		  struct fwd_idle *out);
/* The exchange is over: its connection to the node is kept for the next
 * (1; c->ufd is -1 then), or not (0: the caller closes it). */
int fwd_idle_put(struct conn *c);
/* Closes those kept longer than FWD_IDLE_NS (all: at the server's end). */
void fwd_idle_sweep(struct sure_http_server *s, int all);
/* Whether c is an exchange forwarded to node, and then: it stopped answering. */
int fwd_to_node(const struct conn *c, const char *node);
void fwd_node_dead(struct conn *c);

#endif
