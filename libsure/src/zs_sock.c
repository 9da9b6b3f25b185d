/*
 * zs_sock.c - the Z-stack's sockets (zstack.h): lwIP's raw TCP callbacks
 * turned into queued bytes and edge events that are delivered outside lwIP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/tcp.h"

#include "zs_internal.h"

static void pend(struct zs_sock *s, unsigned ev)
{
	struct zstack *zs = s->zs;

	s->pending |= ev;
	if (s->on_pending)
		return;
	s->on_pending = 1;
	s->pend_next = zs->pending;
	zs->pending = s;
}

static void link_sock(struct zstack *zs, struct zs_sock *s)
{
	s->zs = zs;
	s->next = zs->socks;
	if (zs->socks)
		zs->socks->prev = s;
	zs->socks = s;
}

static void unlink_sock(struct zs_sock *s)
{
	struct zstack *zs = s->zs;

	if (s->prev)
		s->prev->next = s->next;
	else if (zs->socks == s)
		zs->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void free_sock(struct zs_sock *s)
{
	while (s->rx_len) {
		pbuf_free(s->rxq[s->rx_head]);
		s->rx_head = (s->rx_head + 1) % s->rx_cap;
		s->rx_len--;
	}
	free(s->rxq);
	free(s);
}

void zs_sock_deliver(struct zstack *zs)
{
	struct zs_sock *s;

	/* A handler may close any socket: a closed one still on this list is
	 * only freed when it comes up, so the list never dangles. */
	while ((s = zs->pending)) {
		unsigned ev = s->pending;

		zs->pending = s->pend_next;
		s->on_pending = 0;
		s->pending = 0;
		if (s->closed) {
			free_sock(s);
			continue;
		}
		if (s->fn && ev)
			s->fn(s->arg, ev); /* may close s: do not touch it after */
	}
}

/* ---- lwIP's callbacks ---- */

static int queue_rx(struct zs_sock *s, struct pbuf *p)
{
	if (s->rx_len == s->rx_cap) {
		uint32_t cap = s->rx_cap ? s->rx_cap * 2 : 16;
		struct pbuf **q = malloc(cap * sizeof(*q));
		if (!q)
			return -1;
		for (uint32_t i = 0; i < s->rx_len; i++)
			q[i] = s->rxq[(s->rx_head + i) % s->rx_cap];
		free(s->rxq);
		s->rxq = q;
		s->rx_cap = cap;
		s->rx_head = 0;
	}
	s->rxq[(s->rx_head + s->rx_len) % s->rx_cap] = p;
	s->rx_len++;
	return 0;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct zs_sock *s = arg;

	if (!p) {
		s->eof = 1;
		pend(s, ZS_EV_IN);
		return ERR_OK;
	}
	if (err != ERR_OK) {
		pbuf_free(p);
		return ERR_OK;
	}
	/*
	 * A full segment's worth or more is acknowledged at once, at the end of
	 * this input (lwIP's own rule, every second segment, never fires for a
	 * sender with one segment in flight). Delayed, each such segment waited
	 * lwIP's 50 ms timer: a sender recovering from a loss with a small
	 * window then crawled at a segment per 50 ms, a pacing sender (BBR)
	 * measured that as the path's rate, and its timeouts backed off past the
	 * server's own (test_zstack test_loss: a MiB upload stalled 1 run in 8).
	 * A small segment, a request say, still waits to ride on the answer.
	 */
	if (p->tot_len >= TCP_MSS)
		tcp_set_flags(pcb, TF_ACK_NOW); /* lwIP's tcp_ack_now(), which is private */
	/* ERR_MEM: lwIP keeps the data and offers it again later. */
	if (queue_rx(s, p) < 0)
		return ERR_MEM;
	pend(s, ZS_EV_IN);
	return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)pcb;
	(void)len;
	pend(arg, ZS_EV_OUT);
	return ERR_OK;
}

/* lwIP already freed the pcb: a reset, or it gave up (retransmissions,
 * keepalive), or a connect that failed. */
static void on_err(void *arg, err_t err)
{
	struct zs_sock *s = arg;

	s->pcb = NULL;
	if (err == ERR_RST)
		s->err = s->connecting ? -ECONNREFUSED : -ECONNRESET;
	else if (err == ERR_ABRT || err == ERR_TIMEOUT)
		s->err = s->connecting ? -ETIMEDOUT : -ECONNABORTED;
	else
		s->err = -EPIPE;
	s->zs->resets++;
	pend(s, ZS_EV_IN | ZS_EV_OUT);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct zs_sock *s = arg;

	(void)pcb;
	(void)err; /* always ERR_OK: failures go to on_err */
	s->connecting = 0;
	pend(s, ZS_EV_OUT);
	return ERR_OK;
}

static void attach(struct zs_sock *s, struct tcp_pcb *pcb)
{
	s->pcb = pcb;
	tcp_arg(pcb, s);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	/* Answers go out whole; pipelined ones must not wait for an ACK. */
	tcp_nagle_disable(pcb);
}

static void detach(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct zs_sock *l = arg, *s;
	struct zstack *zs = l->zs;
	struct sockaddr_in peer = { .sin_family = AF_INET };

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	link_sock(zs, s);
	attach(s, pcb);
	zs->conns_open++;
	zs->conns_total++;
	peer.sin_addr.s_addr = ip4_addr_get_u32(&pcb->remote_ip);
	peer.sin_port = htons(pcb->remote_port);
	if (l->on_accept(l->arg, s, &peer) < 0) {
		detach(pcb);
		tcp_abort(pcb);
		unlink_sock(s);
		zs->conns_open--;
		free_sock(s);
		return ERR_ABRT;
	}
	return ERR_OK;
}

/* ---- the API ---- */

int zs_listen(struct zstack *zs, uint16_t port,
	      int (*accept_fn)(void *arg, struct zs_sock *s, const struct sockaddr_in *peer),
	      void *arg, struct zs_sock **out)
{
	struct tcp_pcb *pcb, *lpcb;
	struct zs_sock *l;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pcb = tcp_new();
	if (!pcb) {
		free(l);
		return -ENOMEM;
	}
	if (tcp_bind(pcb, netif_ip4_addr(&zs->nif), port) != ERR_OK) {
		tcp_close(pcb);
		free(l);
		return -EADDRINUSE;
	}
	lpcb = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
	if (!lpcb) {
		tcp_close(pcb);
		free(l);
		return -ENOMEM;
	}
	l->listener = 1;
	l->on_accept = accept_fn;
	l->arg = arg;
	l->pcb = lpcb;
	link_sock(zs, l);
	tcp_arg(lpcb, l);
	tcp_accept(lpcb, on_accept);
	*out = l;
	return 0;
}

void zs_sock_bind(struct zs_sock *s, zs_event_fn fn, void *arg)
{
	s->fn = fn;
	s->arg = arg;
	pend(s, ZS_EV_IN | ZS_EV_OUT);
}

int zs_connect(struct zstack *zs, const struct sockaddr_in *to, zs_event_fn fn, void *arg,
	       struct zs_sock **out)
{
	uint32_t span = (uint32_t)zs->lport_hi - zs->lport_lo + 1;
	struct tcp_pcb *pcb;
	struct zs_sock *s;
	ip4_addr_t ip;
	uint32_t i;

	*out = NULL;
	if (!to || to->sin_family != AF_INET)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	pcb = s ? tcp_new() : NULL;
	if (!pcb) {
		free(s);
		return -ENOMEM;
	}
	/* A local port of the range the XDP program steers back to us. */
	for (i = 0; i < span; i++) {
		uint16_t port = zs->lport_next;
		zs->lport_next = port >= zs->lport_hi ? zs->lport_lo : (uint16_t)(port + 1);
		if (tcp_bind(pcb, netif_ip4_addr(&zs->nif), port) == ERR_OK)
			break;
	}
	if (i == span) {
		tcp_close(pcb);
		free(s);
		return -EADDRNOTAVAIL;
	}
	link_sock(zs, s);
	attach(s, pcb);
	s->connecting = 1;
	s->fn = fn;
	s->arg = arg;
	ip4_addr_set_u32(&ip, to->sin_addr.s_addr);
	if (tcp_connect(pcb, &ip, ntohs(to->sin_port), on_connected) != ERR_OK) {
		detach(pcb);
		tcp_abort(pcb);
		unlink_sock(s);
		free(s);
		return -ENOMEM;
	}
	zs->conns_open++;
	zs->conns_total++;
	*out = s;
	return 0;
}

int zs_sock_state(const struct zs_sock *s)
{
	if (s->err)
		return s->err;
	return s->connecting ? 1 : 0;
}

int zs_sock_reusable(const struct zs_sock *s)
{
	return s->pcb && !s->err && !s->connecting && !s->eof && !s->closed && s->rx_len == 0;
}

int zs_sock_unacked(const struct zs_sock *s)
{
	return s->pcb && (s->pcb->unacked || s->pcb->unsent);
}

/* Opens the receive window by n bytes the user has taken. */
static void recved(struct zs_sock *s, size_t n)
{
	while (s->pcb && n) {
		u16_t k = n > 0xffff ? 0xffff : (u16_t)n;
		tcp_recved(s->pcb, k);
		n -= k;
	}
}

ssize_t zs_recv(struct zs_sock *s, void *buf, size_t len)
{
	size_t done = 0;

	if (s->closed || s->listener)
		return -EBADF;
	while (done < len && s->rx_len) {
		struct pbuf *p = s->rxq[s->rx_head];
		size_t want = len - done, left = p->tot_len - s->rx_off;
		u16_t n = pbuf_copy_partial(p, (uint8_t *)buf + done,
					    (u16_t)(want < left ? want : left), (u16_t)s->rx_off);
		s->rx_off += n;
		done += n;
		if (s->rx_off == p->tot_len) {
			pbuf_free(p); /* its frames go back to the fill ring */
			s->rx_head = (s->rx_head + 1) % s->rx_cap;
			s->rx_len--;
			s->rx_off = 0;
		}
	}
	if (done) {
		recved(s, done);
		s->zs->copied_in += done;
		return (ssize_t)done;
	}
	if (s->err)
		return s->err;
	if (s->eof)
		return 0;
	return -EAGAIN;
}

ssize_t zs_sendv(struct zs_sock *s, const struct iovec *iov, unsigned n)
{
	size_t total = 0;

	if (s->closed || s->listener)
		return -EBADF;
	if (s->err)
		return s->err;
	if (!s->pcb)
		return -EPIPE;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *base = iov[i].iov_base;
		size_t off = 0;
		while (off < iov[i].iov_len) {
			size_t room = tcp_sndbuf(s->pcb), chunk = iov[i].iov_len - off;
			u8_t flags = TCP_WRITE_FLAG_COPY;
			err_t e;
			/* Stop short of lwIP's segment queue limit, which would
			 * refuse the write anyway. */
			if (room == 0 || tcp_sndqueuelen(s->pcb) + 4 >= TCP_SND_QUEUELEN)
				goto out;
			if (chunk > room)
				chunk = room;
			if (off + chunk < iov[i].iov_len || i + 1 < n)
				flags |= TCP_WRITE_FLAG_MORE;
			e = tcp_write(s->pcb, base + off, (u16_t)chunk, flags);
			if (e == ERR_MEM)
				goto out;
			if (e != ERR_OK) {
				if (total)
					goto out;
				return -EPIPE;
			}
			off += chunk;
			total += chunk;
		}
	}
out:
	if (!total)
		return -EAGAIN;
	tcp_output(s->pcb);
	s->zs->copied_out += total;
	s->zs->tx_pending = 1;
	return (ssize_t)total;
}

int zs_shutdown_wr(struct zs_sock *s)
{
	if (s->closed || s->listener)
		return -EBADF;
	if (!s->pcb)
		return s->err ? s->err : -ENOTCONN;
	if (tcp_shutdown(s->pcb, 0, 1) != ERR_OK)
		return -ENOMEM;
	s->zs->tx_pending = 1;
	return 0;
}

void zs_close(struct zs_sock *s)
{
	struct zstack *zs;

	if (!s || s->closed)
		return;
	zs = s->zs;
	s->closed = 1;
	if (s->pcb) {
		struct tcp_pcb *pcb = s->pcb;
		size_t unread = 0;
		s->pcb = NULL;
		if (s->listener) {
			tcp_arg(pcb, NULL);
			tcp_accept(pcb, NULL);
			tcp_close(pcb);
		} else {
			detach(pcb);
			/* Bytes received but not read still count as taken, so
			 * the close is a FIN after what is queued, not a reset. */
			for (uint32_t i = 0; i < s->rx_len; i++)
				unread += s->rxq[(s->rx_head + i) % s->rx_cap]->tot_len;
			unread -= s->rx_off;
			while (unread) {
				u16_t k = unread > 0xffff ? 0xffff : (u16_t)unread;
				tcp_recved(pcb, k);
				unread -= k;
			}
			if (tcp_close(pcb) != ERR_OK)
				tcp_abort(pcb);
		}
		zs->tx_pending = 1;
	}
	if (!s->listener)
		zs->conns_open--;
	unlink_sock(s);
	if (!s->on_pending)
		free_sock(s); /* else zs_sock_deliver() frees it when it comes up */
}

void zs_sock_abort_all(struct zstack *zs)
{
	struct zs_sock *s;

	while ((s = zs->socks)) {
		if (s->pcb && !s->listener) {
			detach(s->pcb);
			tcp_abort(s->pcb);
			s->pcb = NULL;
		}
		zs_close(s);
	}
	while ((s = zs->pending)) {
		zs->pending = s->pend_next;
		s->on_pending = 0;
		free_sock(s);
	}
}
