/*
 * http_zs.c - the HTTP server on the Z-stack (cfg.zs, zstack.h) instead of
 * kernel TCP: the stack's listener, its accepts, and running the stack from
 * the server's loop. Connections are the same as on kernel sockets
 * (http_conn.c, http_request.c): only their reads, writes and close go through
 * sock_io.h to the stack's sockets, whose events set the same readiness
 * flags an epoll event would; so do a tunnel's to another node (a forward).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "http_internal.h"

/* A socket's events set the readiness flags an epoll event would. */
static void ready(struct conn *c, uint8_t *rd, uint8_t *wr, unsigned ev)
{
	if (c->closed)
		return;
	*rd |= (ev & ZS_EV_IN) != 0;
	*wr |= (ev & ZS_EV_OUT) != 0;
	conn_drive(c);
}

/* The client's socket: rd and wr. */
static void on_event(void *arg, unsigned ev)
{
	struct conn *c = arg;

	ready(c, &c->rd, &c->wr, ev);
}

/* A tunnel's side to another node (http_tunnel.c, s->zs_node_event): urd
 * and uwr. */
static void on_node_event(void *arg, unsigned ev)
{
	struct conn *c = arg;

	ready(c, &c->urd, &c->uwr, ev);
}

static int on_accept(void *arg, struct zs_sock *zs, const struct sockaddr_in *peer)
{
	struct sure_http_server *s = arg;
	struct sockaddr_storage addr = { 0 };
	struct conn *c;

	if (s->draining || s->nconns >= s->cfg.max_conns) {
		STAT_ADD(s, conns_refused, 1);
		return -1; /* the stack resets it: the client learns at once */
	}
	memcpy(&addr, peer, sizeof(*peer));
	if (conn_open(s, -1, zs, &addr, &c) < 0) {
		STAT_ADD(s, conns_refused, 1);
		return -1;
	}
	zs_sock_bind(zs, on_event, c); /* its first event says it is ready */
	return 0;
}

int zsrv_attach(struct sure_http_server *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->zev };

	if (!s->cfg.port)
		return -EINVAL;
	s->port = s->cfg.port;
	s->zev.kind = EV_ZSTACK;
	s->zs_node_event = on_node_event;
	return epoll_ctl(s->ep, EPOLL_CTL_ADD, zstack_fd(s->cfg.zs), &ev) < 0 ? -errno : 0;
}

int zsrv_listen(struct sure_http_server *s)
{
	return zs_listen(s->cfg.zs, s->cfg.port, on_accept, s, &s->zls);
}

/* Polls the stack, then reads when lwIP's next timer is due: a poll's
 * packets and timers are what arm them (a connect made between polls arms
 * lwIP's TCP timer too, late by at most ZS_TIMER_MAX_MS). */
static void poll_and_rearm(struct sure_http_server *s)
{
	uint32_t ms;

	zstack_poll(s->cfg.zs);
	ms = zstack_timer_ms(s->cfg.zs);
	s->zs_timer_ns = s->now_ns + (ms < ZS_TIMER_MAX_MS ? ms : ZS_TIMER_MAX_MS) * 1000000ull;
}

void zsrv_poll(struct sure_http_server *s)
{
	/* A bounded batch per event, so the owner's watches get their turn;
	 * the XSK's fd is level-triggered, so what is left wakes us again. */
	poll_and_rearm(s);
}

void zsrv_timers(struct sure_http_server *s)
{
	if (s->now_ns >= s->zs_timer_ns)
		poll_and_rearm(s);
	zstack_flush(s->cfg.zs); /* what this round's answers queued */
}

void zsrv_stop_listening(struct sure_http_server *s)
{
	if (!s->zls)
		return;
	zs_close(s->zls);
	s->zls = NULL;
}
