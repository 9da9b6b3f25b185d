/*
 * http_uring.c - the HTTP server's kernel sockets on io_uring (http_internal.h:
 * srv_ring_*, conn_ring_*), where the kernel has what it needs.
 *
 * Why: on epoll a request costs a recv, a send and a share of an
 * epoll_wait, about a microsecond each. Here a connection always has one
 * recv submitted into its input buffer, so bytes arrive with the loop's one
 * wait (io_uring_enter) and no recv syscall of their own. What stays a
 * syscall, on purpose:
 *   - The answer's send: it is written straight from the owner's memory
 *     (an instance's response area, a chain's slot), which the owner reuses
 *     as soon as sure_http_answer returns, so it must have left by then.
 *   - A body's recv: it goes straight into the owner's buffer, which the
 *     owner takes back when the exchange is cancelled; a recv still pending
 *     there could write into the next request's memory. So a body waits for a
 *     poll (which owns nothing) and is then received synchronously.
 * The listener, the owner's watches, the upstream and the Z-stack stay in
 * the epoll set, and the ring polls that set (one entry, re-armed).
 *
 * A connection's memory is referenced by what it has submitted (the recv's
 * buffer, the user_data): closing cancels them, and the connection waits in
 * srv->limbo until their completions came back, before it is reused or freed.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "util.h"

#define RING_SQ 1024u
#define RING_CQ 8192u

/* user_data: the connection's address with the operation in its low bits
 * (connections are malloc'ed: 16-aligned); UD_EPOLL has no connection. */
enum { UD_NONE = 0, UD_RECV = 1, UD_PIN = 2, UD_POUT = 3, UD_EPOLL = 4 };
#define UD_TAGS 7u

static uint64_t ud_of(struct conn *c, unsigned tag)
{
	return (uint64_t)(uintptr_t)c | tag;
}

int srv_ring_open(struct sure_http_server *s)
{
	int rc = uring_open(&s->ring_mem, RING_SQ, RING_CQ);

	if (rc < 0)
		return rc;
	s->ring = &s->ring_mem;
	STAT_ADD(s, io_uring, 1);
	return 0;
}


int conn_ring_busy(const struct conn *c)
{
	return c->rx_busy || c->pin_busy || c->pout_busy;
}

static int submit_poll(struct conn *c, unsigned tag, unsigned mask)
{
	struct io_uring_sqe *q = uring_sqe(c->srv->ring);

	if (!q)
		return -EBUSY;
	q->opcode = IORING_OP_POLL_ADD;
	q->fd = c->fd;
	q->poll32_events = mask;
	q->user_data = ud_of(c, tag);
	return 0;
}

static void arm_epoll(struct sure_http_server *s)
{
	struct io_uring_sqe *q;

	if (s->ep_armed || !(q = uring_sqe(s->ring)))
		return;
	/* One-shot: armed again only after the set was read, so a level-
	 * triggered member still ready (a listener with more to accept) fires
	 * again at once. */
	q->opcode = IORING_OP_POLL_ADD;
	q->fd = s->ep;
	q->poll32_events = POLLIN;
	q->user_data = UD_EPOLL;
	s->ep_armed = 1;
}

int conn_ring_recv_in(struct conn *c, int *eof)
{
	struct sure_http_server *s = c->srv;

	*eof = 0;
	if (c->rx_done) {
		int32_t n = c->rx_res;
		c->rx_done = 0;
		if (n > 0) {
			/* Bytes below rx_off may have gone since the recv was
			 * submitted (the input was reset): move these down.
			 * Nothing else adds input meanwhile, so in_end cannot
			 * have passed rx_off; if it did, trust nothing. */
			if (c->in_end > c->rx_off || (uint32_t)n > c->in_cap - c->rx_off)
				return -ECONNRESET;
			if (c->rx_off != c->in_end)
				memmove(c->in + c->in_end, c->in + c->rx_off, (size_t)n);
			c->in_end += (uint32_t)n;
			STAT_ADD(s, bytes_in, n);
			return 1;
		}
		if (n == 0) {
			c->eof = 1;
			*eof = 1;
			return 1;
		}
		if (n == -EINTR || n == -EAGAIN || n == -ENOBUFS)
			return 1; /* submitted again below, on the next call */
		return -ECONNRESET; /* reset */
	}
	if (c->rx_busy || c->eof)
		return 0;
	uint32_t room = conn_in_room(c);
	if (room == 0)
		return 0; /* backpressure, as on epoll: the socket's buffer fills */
	struct io_uring_sqe *q = uring_sqe(s->ring);
	if (!q)
		return 0; /* the ring is full: the next drive of this one tries again */
	q->opcode = IORING_OP_RECV;
	q->fd = c->fd;
	q->addr = (uint64_t)(uintptr_t)(c->in + c->in_end);
	q->len = room;
	/* The bytes come later (the client reads our answer first): skip the
	 * attempt that would only say EAGAIN and wait for them at once (5.19). */
	q->ioprio = IORING_RECVSEND_POLL_FIRST;
	q->user_data = ud_of(c, UD_RECV);
	c->rx_busy = 1;
	c->rx_off = c->in_end;
	return 0;
}

void conn_ring_arm(struct conn *c)
{
	/* Output the socket did not take: tell us when it takes more. */
	if (!c->wr && c->out_off < c->out_len && !c->pout_busy && submit_poll(c, UD_POUT, POLLOUT) == 0)
		c->pout_busy = 1;
	/* A body waits to be received into the owner's buffer. */
	if (c->want_in && !c->rd && !c->pin_busy &&
	    submit_poll(c, UD_PIN, POLLIN | POLLRDHUP) == 0)
		c->pin_busy = 1;
	c->want_in = 0;
}

void conn_ring_close(struct conn *c)
{
	static const unsigned tags[] = { UD_RECV, UD_PIN, UD_POUT };
	const uint8_t busy[] = { c->rx_busy, c->pin_busy, c->pout_busy };

	/* The fd is closed right after: the ring holds its own reference to
	 * the socket until these are cancelled (at the next enter, in order, so
	 * before anything a reuse of this connection submits). */
	for (int i = 0; i < 3; i++) {
		struct io_uring_sqe *q;
		if (!busy[i])
			continue;
		if (!(q = uring_sqe(c->srv->ring))) {
			/* No room to cancel: a shut socket ends them too. */
			shutdown(c->fd, SHUT_RDWR);
			continue;
		}
		q->opcode = IORING_OP_ASYNC_CANCEL;
		q->addr = ud_of(c, tags[i]);
		q->user_data = UD_NONE;
	}
}

static void on_cqe(struct sure_http_server *s, uint64_t ud, int32_t res)
{
	struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)UD_TAGS);

	switch (ud & UD_TAGS) {
	case UD_EPOLL:
		s->ep_armed = 0;
		s->ep_ready = 1;
		return;
	case UD_RECV:
		c->rx_busy = 0;
		c->rx_done = !c->closed;
		c->rx_res = res;
		break;
	case UD_PIN:
		c->pin_busy = 0;
		/* An error too: the recv that follows reports it. */
		c->rd = res != -ECANCELED;
		if (res > 0)
			c->hup |= (res & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
		break;
	case UD_POUT:
		c->pout_busy = 0;
		c->wr = res != -ECANCELED;
		break;
	default: /* UD_NONE: a cancel's own completion */
		return;
	}
	if (!c->closed)
		conn_again(c); /* driven after this round's completions and events */
}

/* Every completion the ring holds, each consumed before it is acted on (an
 * action may submit, and a submission may flush the ring). */
static void handle_cqes(struct sure_http_server *s)
{
	struct io_uring_cqe *cqe;

	while ((cqe = uring_cqe(s->ring))) {
		uint64_t ud = cqe->user_data;
		int32_t res = cqe->res;
		uring_cqe_done(s->ring);
		on_cqe(s, ud, res);
	}
}

int srv_ring_round(struct sure_http_server *s, struct epoll_event *evs, int max, uint64_t wait_ns)
{
	int rc;

	arm_epoll(s);
	rc = uring_wait(s->ring, wait_ns ? 1 : 0, wait_ns);
	s->now_ns = sure_now_ns();
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
		return rc;
	handle_cqes(s); /* completions first: the epoll set's turn comes after */
	if (!s->ep_ready)
		return 0;
	s->ep_ready = 0;
	int n = epoll_wait(s->ep, evs, max, 0);
	return n < 0 ? 0 : n;
}

void srv_ring_settle(struct sure_http_server *s, int wait_ms)
{
	uring_wait(s->ring, 1, (uint64_t)wait_ms * 1000000);
	handle_cqes(s);
}

void srv_ring_close(struct sure_http_server *s)
{
	uring_close(s->ring);
	s->ring = NULL;
}
