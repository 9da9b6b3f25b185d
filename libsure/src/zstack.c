/*
 * zstack.c - the Z-stack (zstack.h): lwIP's netif on an AF_XDP port, its
 * timers, and the stack's lifetime. Sockets are in zs_sock.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "zs_internal.h"

/* Frames taken from the port per zstack_poll round. */
#define RX_BUDGET 256u

static struct zstack *the_stack; /* lwIP is one per process */
static int lwip_ready;

/* lwIP's clock (NO_SYS): milliseconds, monotonic. */
u32_t sys_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* ---- receive: frames become pbufs that point into the UMEM ---- */

static void rxbuf_free(struct pbuf *p)
{
	struct zs_rxbuf *b = (struct zs_rxbuf *)p;
	struct zstack *zs = b->zs;

	zs_port_release(zs->port, b->handle);
	b->next_free = zs->rx_free;
	zs->rx_free = b;
	zs->frames_held--;
}

static void on_frame(void *arg, uint8_t *frame, uint32_t len, uint64_t handle)
{
	struct zstack *zs = arg;
	struct zs_rxbuf *b = zs->rx_free;
	struct pbuf *p;

	zs->rx_bytes += len;
	if (zs->drop_every && ++zs->rx_seen % zs->drop_every == 0) {
		zs_port_release(zs->port, handle);
		zs->drops++;
		return;
	}
	/* Frames the user holds (unread bytes) past half of the UMEM: copy this
	 * one out, so slow readers cannot starve the fill ring. */
	if (!b || zs->frames_held * 2 >= zs->nframes) {
		p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
		if (p) {
			memcpy(p->payload, frame, len);
			zs->copied_in += len;
		}
		zs_port_release(zs->port, handle);
	} else {
		zs->rx_free = b->next_free;
		b->handle = handle;
		b->pc.custom_free_function = rxbuf_free;
		zs->frames_held++;
		p = pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_REF, &b->pc, frame,
					ZS_FRAME_SIZE);
	}
	if (!p) {
		zs->drops++;
		return;
	}
	if (zs->nif.input(p, &zs->nif) != ERR_OK)
		pbuf_free(p);
}

/* ---- transmit ---- */

static err_t linkoutput(struct netif *nif, struct pbuf *p)
{
	struct zstack *zs = nif->state;
	struct iovec iov[16];
	unsigned n = 0;
	int rc;

	if (!zs->port) { /* unwired: the wire is nowhere, but a tap may look */
		static uint8_t frame[0x10000];
		if (zs->tap) { /* tot_len fits: it is a u16_t */
			pbuf_copy_partial(p, frame, p->tot_len, 0);
			zs->tap(zs->tap_arg, frame, p->tot_len);
		}
		return ERR_OK;
	}

	if (zs->drop_every && ++zs->tx_seen % zs->drop_every == 0) {
		zs->drops++;
		return ERR_OK; /* "sent": lost on the way */
	}
	for (struct pbuf *q = p; q; q = q->next) {
		if (n == 16)
			return ERR_BUF;
		iov[n].iov_base = q->payload;
		iov[n].iov_len = q->len;
		n++;
		if (q->len == q->tot_len)
			break;
	}
	rc = zs_port_tx(zs->port, iov, n);
	if (rc == -EAGAIN) {
		/* The TX ring is full: kick it, try once more. TCP resends
		 * what is lost here. */
		zs_port_flush(zs->port);
		rc = zs_port_tx(zs->port, iov, n);
	}
	if (rc < 0)
		return ERR_MEM;
	zs->tx_pending = 1;
	return ERR_OK;
}

static err_t netif_setup(struct netif *nif)
{
	struct zstack *zs = nif->state;

	nif->name[0] = 'z';
	nif->name[1] = 's';
	static const uint8_t unwired_mac[ETH_HWADDR_LEN] = { 2, 0, 0, 0, 0, 1 };

	nif->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(nif->hwaddr, zs->port ? zs_port_mac(zs->port) : unwired_mac, ETH_HWADDR_LEN);
	nif->mtu = (u16_t)(zs->port ? zs_port_mtu(zs->port) : 1500);
	nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
		     NETIF_FLAG_LINK_UP;
	nif->output = etharp_output;
	nif->linkoutput = linkoutput;
	return ERR_OK;
}

/* ---- lifetime ---- */

static int open_stack(const struct zstack_config *cfg, int wired, struct zstack **out)
{
	struct zs_port_config pc = { 0 };
	struct zstack *zs;
	ip4_addr_t addr, mask, gw;
	int rc;

	*out = NULL;
	if (!cfg || (wired && !cfg->ifname) || !cfg->addr)
		return -EINVAL;
	if (the_stack)
		return -EBUSY;
	zs = calloc(1, sizeof(*zs));
	if (!zs)
		return -ENOMEM;
	zs->lport_lo = cfg->lport_lo ? cfg->lport_lo : 40000;
	zs->lport_hi = cfg->lport_lo ? cfg->lport_hi : 40999;
	if (zs->lport_hi < zs->lport_lo) {
		free(zs);
		return -EINVAL;
	}
	zs->lport_next = zs->lport_lo;
	zs->drop_every = cfg->drop_every;
	zs->tap = wired ? NULL : cfg->tap;
	zs->tap_arg = cfg->tap_arg;
	pc.ifname = cfg->ifname;
	pc.queue = cfg->queue;
	pc.addr = cfg->addr;
	pc.port = cfg->listen_port;
	pc.lport_lo = zs->lport_lo;
	pc.lport_hi = zs->lport_hi;
	pc.frames = cfg->frames;
	rc = wired ? zs_port_open(&pc, &zs->port) : 0;
	if (rc < 0) {
		free(zs);
		return rc;
	}
	zs->nframes = cfg->frames ? cfg->frames : 4096;
	zs->rx = calloc(zs->nframes, sizeof(*zs->rx));
	if (!zs->rx) {
		zs_port_close(zs->port);
		free(zs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < zs->nframes; i++) {
		zs->rx[i].zs = zs;
		zs->rx[i].next_free = zs->rx_free;
		zs->rx_free = &zs->rx[i];
	}
	if (!lwip_ready) {
		lwip_init();
		lwip_ready = 1;
	}
	ip4_addr_set_u32(&addr, cfg->addr);
	ip4_addr_set_u32(&mask, cfg->netmask ? cfg->netmask : PP_HTONL(0xffffff00u));
	ip4_addr_set_u32(&gw, cfg->gateway);
	if (!netif_add(&zs->nif, &addr, &mask, &gw, zs, netif_setup, ethernet_input)) {
		zs_port_close(zs->port);
		free(zs->rx);
		free(zs);
		return -ENOMEM;
	}
	netif_set_default(&zs->nif);
	netif_set_up(&zs->nif);
	netif_set_link_up(&zs->nif);
	the_stack = zs;
	*out = zs;
	return 0;
}

int zstack_open(const struct zstack_config *cfg, struct zstack **out)
{
	return open_stack(cfg, 1, out);
}

int zstack_open_unwired(const struct zstack_config *cfg, struct zstack **out)
{
	return open_stack(cfg, 0, out);
}

void zstack_inject(struct zstack *zs, const uint8_t *frame, uint32_t len)
{
	struct pbuf *p = len <= 0xffff ? pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM) : NULL;

	if (!p)
		return;
	memcpy(p->payload, frame, len);
	zs->rx_frames++;
	zs->rx_bytes += len;
	if (zs->nif.input(p, &zs->nif) != ERR_OK)
		pbuf_free(p);
	sys_check_timeouts();
	zs_sock_deliver(zs);
}

void zstack_close(struct zstack *zs)
{
	if (!zs)
		return;
	zs_sock_abort_all(zs);
	/* Connections its users closed, still ending (FIN-WAIT, TIME-WAIT): they
	 * end here, with their segments and the frames those hold. */
	while (tcp_active_pcbs)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs)
		tcp_abort(tcp_tw_pcbs);
	netif_set_down(&zs->nif);
	netif_remove(&zs->nif);
	etharp_cleanup_netif(&zs->nif);
	/* Every custom pbuf went with its pcb: no frame is held now. */
	zs_port_close(zs->port);
	free(zs->rx);
	the_stack = NULL;
	free(zs);
}

int zstack_fd(const struct zstack *zs)
{
	return zs_port_fd(zs->port);
}

int zstack_poll(struct zstack *zs)
{
	unsigned got = zs_port_rx(zs->port, RX_BUDGET, on_frame, zs);

	zs->rx_frames += got;
	sys_check_timeouts();
	zs_sock_deliver(zs);
	zstack_flush(zs);
	return got == RX_BUDGET;
}

void zstack_flush(struct zstack *zs)
{
	if (!zs->tx_pending)
		return;
	zs->tx_pending = 0;
	zs_port_flush(zs->port);
}

void zstack_stats(const struct zstack *zs, struct zstack_stats *out)
{
	struct zs_port_stats ps = { 0 };

	if (zs->port)
		zs_port_stats(zs->port, &ps);
	else {
		ps.rx_frames = zs->rx_frames; /* unwired: what was injected */
		ps.rx_bytes = zs->rx_bytes;
	}
	memset(out, 0, sizeof(*out));
	out->rx_frames = ps.rx_frames;
	out->rx_bytes = ps.rx_bytes;
	out->tx_frames = ps.tx_frames;
	out->tx_bytes = ps.tx_bytes;
	out->rx_dropped = ps.rx_dropped;
	out->copied_wire = ps.tx_copied;
	out->copied_in = zs->copied_in;
	out->copied_out = zs->copied_out;
	/* lwIP counts fast retransmissions only (tcp_rexmit); its
	 * tcpestabresets counts every close of an established connection, so
	 * resets are ours: connections that ended in an error. */
	out->retransmits = lwip_stats.mib2.tcpretranssegs;
	out->resets = zs->resets;
	out->drops = zs->drops + lwip_stats.link.drop + lwip_stats.ip.drop + lwip_stats.tcp.drop +
		     lwip_stats.etharp.drop + lwip_stats.icmp.drop;
	out->conns_open = zs->conns_open;
	out->conns_total = zs->conns_total;
	out->mtu = zs->nif.mtu;
}
