/*
 * zs_internal.h - internal to the Z-stack (zstack.c, zs_sock.c): the
 * stack's record and the calls between its files.
 */
#ifndef SURE_ZS_INTERNAL_H
#define SURE_ZS_INTERNAL_H

#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"

#include "zs_port.h"
#include "zstack.h"

/* A received frame lent to lwIP as a pbuf (the payload stays in the UMEM). */
struct zs_rxbuf {
	struct pbuf_custom pc; /* first: lwIP frees it through this */
	struct zstack *zs;
	uint64_t handle;
	struct zs_rxbuf *next_free;
};

struct zs_sock {
	struct zstack *zs;
	struct tcp_pcb *pcb; /* NULL once lwIP freed it (reset) or we closed */
	struct zs_sock *prev, *next; /* zs->socks */
	struct zs_sock *pend_next; /* zs->pending */
	/* Received, not yet read: a ring of lwIP's pbuf chains (one chain may
	 * hold at most 64 KiB, so they are queued, not concatenated); rx_off
	 * bytes of the first are read. */
	struct pbuf **rxq;
	uint32_t rx_head, rx_len, rx_cap, rx_off;
	int err; /* negative errno once the connection failed */
	unsigned pending; /* ZS_EV_* not yet delivered */
	uint8_t eof, on_pending, closed, listener, connecting;
	zs_event_fn fn;
	void *arg;
	int (*on_accept)(void *arg, struct zs_sock *s, const struct sockaddr_in *peer);
};

struct zstack {
	struct zs_port *port;
	struct netif nif;
	struct zs_rxbuf *rx, *rx_free;
	uint32_t nframes, frames_held;
	uint16_t lport_lo, lport_hi, lport_next;
	uint8_t tx_pending;
	uint32_t drop_every, rx_seen, tx_seen;
	void (*tap)(void *arg, const uint8_t *frame, uint32_t len);
	void *tap_arg;
	struct zs_sock *socks, *pending, *dead;
	/* Counters (this thread writes, others read). */
	uint64_t rx_frames, rx_bytes, copied_in, copied_out, drops, resets;
	uint64_t conns_open, conns_total;
	uint64_t rto; /* retransmission timeouts */
	uint32_t ticks_seen; /* lwIP's tcp_ticks when they were last counted */
};

/* zs_sock.c */
void zs_sock_deliver(struct zstack *zs);
void zs_sock_abort_all(struct zstack *zs);

#endif
