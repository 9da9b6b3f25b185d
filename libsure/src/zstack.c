/*
 * zstack.c - the Z-stack (zstack.h): lwIP's netif on an AF_XDP port, its
 * timers, and the stack's lifetime. Sockets are in zs_sock.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip4.h"
#include "netif/ethernet.h"

#include "zs_internal.h"

/* Packets taken from the port per zstack_poll round. */
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

/* Frame bytes lent to lwIP in place as one custom pbuf. */
static struct pbuf *lend(struct zstack *zs, uint8_t *data, uint32_t len, uint64_t handle)
{
	struct zs_rxbuf *b = zs->rx_free;

	zs->rx_free = b->next_free;
	b->handle = handle;
	b->pc.custom_free_function = rxbuf_free;
	zs->frames_held++;
	return pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_REF, &b->pc, data, (u16_t)len);
}

static void release_all(struct zstack *zs, const struct zs_frag *f, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		zs_port_release(zs->port, f[k].handle);
}

/* How many bytes of the first of n frames (first_len of them, total in
 * all) lwIP is not given: none of a packet of one frame, which goes to the
 * Ethernet input as it is. A longer packet (a veth peer's GSO send, up to 64 KiB)
 * can only be IPv4 for us, its headers in its first frame: its Ethernet
 * header is taken off here, as the whole frame may be longer than the 16-bit
 * length of a pbuf chain. -1: drop it. */
static int chain_skip(const uint8_t *first, uint32_t first_len, uint32_t total, unsigned n)
{
	if (n == 1)
		return 0;
	/* lwIP reads the IPv4 header from the first pbuf before it checks its length. */
	if (first_len < SIZEOF_ETH_HDR + IP_HLEN || first[12] != 0x08 || first[13] != 0x00 ||
	    total - SIZEOF_ETH_HDR > 0xffff)
		return -1;
	return SIZEOF_ETH_HDR;
}

/* A packet of n frames, as pbufs, into lwIP (which frees it). */
static void deliver(struct zstack *zs, struct pbuf *p, unsigned n)
{
	if ((n > 1 ? ip4_input(p, &zs->nif) : zs->nif.input(p, &zs->nif)) != ERR_OK)
		pbuf_free(p);
}

/* lwIP's timers that are due, and the retransmission timeouts they took.
 * lwIP counts fast retransmissions only. A timeout leaves its pcb with
 * nrtx > 0 and rtime just reset to 0, while the same slow-timer pass
 * counted every other running rtime up to 1 or more, and an ACK of new
 * data clears nrtx: right after a pass (tcp_ticks moved), the pcbs in that
 * state are this pass's timeouts. Passes come at most every 100 ms. */
static void run_timers(struct zstack *zs)
{
	sys_check_timeouts();
	if (tcp_ticks == zs->ticks_seen)
		return;
	zs->ticks_seen = tcp_ticks;
	for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
		if (p->nrtx && p->rtime == 0)
			zs->rto++;
}

/* One received packet of n frames. */
static void on_packet(void *arg, const struct zs_frag *f, unsigned n)
{
	struct zstack *zs = arg;
	uint32_t total = 0;
	struct pbuf *p = NULL;
	int skip;

	for (unsigned k = 0; k < n; k++)
		total += f[k].len;
	zs->rx_bytes += total;
	skip = chain_skip(f[0].data, f[0].len, total, n);
	if (skip < 0 || (zs->drop_every && ++zs->rx_seen % zs->drop_every == 0)) {
		release_all(zs, f, n);
		zs->drops++;
		return;
	}
	/* Frames the user holds (unread bytes) past half of the UMEM: copy this
	 * packet out, so slow readers cannot starve the fill ring. (There is a
	 * zs_rxbuf per frame, so below half held there are n free ones.) */
	if ((zs->frames_held + n) * 2 > zs->nframes) {
		p = pbuf_alloc(PBUF_RAW, (u16_t)(total - (uint32_t)skip), PBUF_RAM);
		if (p) {
			uint32_t at = 0;
			for (unsigned k = 0; k < n; k++) {
				uint32_t from = k ? 0 : (uint32_t)skip;
				memcpy((uint8_t *)p->payload + at, f[k].data + from, f[k].len - from);
				at += f[k].len - from;
			}
			zs->copied_in += total - (uint32_t)skip;
		}
		release_all(zs, f, n);
	} else {
		for (unsigned k = 0; k < n; k++) {
			uint32_t from = k ? 0 : (uint32_t)skip;
			struct pbuf *q = lend(zs, f[k].data + from, f[k].len - from, f[k].handle);
			if (k == 0)
				p = q;
			else
				pbuf_cat(p, q);
		}
	}
	if (!p) {
		zs->drops++;
		return;
	}
	deliver(zs, p, n);
}

/* ---- transmit ---- */

/* A wired stack's TCP segments leave lwIP without their checksum (the
 * netif's NETIF_CHECKSUM_GEN_TCP is off): the port has it finished, by the
 * kernel where it takes TX metadata, so the payload is not read for it here
 * (at 64 KiB answers over veth, lwIP's sum was ~12% of the thread). This is
 * what the port needs: where the TCP header starts and the sum of the IPv4
 * pseudo-header (addresses, protocol, TCP length), as the bytes lie. 1 if
 * the frame is a TCP segment, 0 if it is no TCP segment, -1 if it is one
 * whose headers or length are not as lwIP makes them (the sum runs to the
 * frame's end, so it must end where the segment does): not sent, since its
 * checksum would be wrong. */
static int tcp_csum(const struct pbuf *p, struct zs_tx_csum *out)
{
	uint8_t h[SIZEOF_ETH_HDR + 60 + 20];
	u16_t got = pbuf_copy_partial(p, h, (u16_t)sizeof(h), 0);
	ip4_addr_t src, dst;
	uint16_t type, tot;

	if (got < SIZEOF_ETH_HDR + 20)
		return 0;
	memcpy(&type, h + 12, 2);
	const uint8_t *ip = h + SIZEOF_ETH_HDR;
	if (type != PP_HTONS(ETHTYPE_IP) || ip[9] != IP_PROTO_TCP)
		return 0;
	unsigned ihl = (ip[0] & 0x0fu) * 4u;
	memcpy(&tot, ip + 2, 2);
	tot = lwip_ntohs(tot);
	if ((ip[0] >> 4) != 4 || ihl < 20 || SIZEOF_ETH_HDR + ihl + 20 > got || tot < ihl + 20 ||
	    SIZEOF_ETH_HDR + tot != p->tot_len)
		return -1;
	memcpy(&src.addr, ip + 12, 4);
	memcpy(&dst.addr, ip + 16, 4);
	out->start = (uint16_t)(SIZEOF_ETH_HDR + ihl);
	out->offset = 16; /* the checksum field of the TCP header */
	/* lwIP's sum of the pseudo-header and no byte of the segment, which it
	 * returns complemented. */
	out->seed = (uint16_t)~inet_chksum_pseudo_partial(NULL, IP_PROTO_TCP, (u16_t)(tot - ihl), 0,
							   &src, &dst);
	return 1;
}

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
	struct zs_tx_csum c;
	int tcp = tcp_csum(p, &c);
	if (tcp < 0) {
		zs->drops++;
		return ERR_VAL;
	}
	const struct zs_tx_csum *csum = tcp ? &c : NULL;
	rc = zs_port_tx(zs->port, iov, n, csum);
	if (rc == -EAGAIN) {
		/* The TX ring is full: kick it, try once more. TCP resends
		 * what is lost here. */
		zs_port_flush(zs->port);
		rc = zs_port_tx(zs->port, iov, n, csum);
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
	/* Wired, the port finishes TCP checksums (tcp_csum); unwired, lwIP's
	 * are what a tap (the fuzzer) sees. */
	if (zs->port)
		NETIF_SET_CHECKSUM_CTRL(nif, NETIF_CHECKSUM_ENABLE_ALL & ~NETIF_CHECKSUM_GEN_TCP);
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
	pc.xdp_mode = cfg->xdp_mode;
	pc.tx_csum = cfg->tx_csum;
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

void zstack_inject(struct zstack *zs, const uint8_t *frame, uint32_t len, unsigned pieces)
{
	struct pbuf *p = NULL;
	uint32_t at = 0;
	int skip;

	if (pieces < 1 || pieces > ZS_MAX_FRAGS || pieces > len || (pieces == 1 && len > 0xffff))
		return;
	zs->rx_frames += pieces;
	zs->rx_bytes += len;
	/* Cut evenly, the last piece taking the rest, as the port hands over a
	 * packet in frames; the checks of a real packet's first frame. */
	skip = chain_skip(frame, pieces == 1 ? len : len / pieces, len, pieces);
	if (skip < 0) {
		zs->drops++;
		return;
	}
	for (unsigned k = 0; k < pieces; k++) {
		uint32_t n = k + 1 < pieces ? len / pieces : len - at, from = k ? 0 : (uint32_t)skip;
		struct pbuf *q = pbuf_alloc(PBUF_RAW, (u16_t)(n - from), PBUF_RAM);
		if (!q) {
			if (p)
				pbuf_free(p);
			zs->drops++;
			return;
		}
		memcpy(q->payload, frame + at + from, n - from);
		at += n;
		if (k == 0)
			p = q;
		else
			pbuf_cat(p, q);
	}
	deliver(zs, p, pieces);
	run_timers(zs);
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
	unsigned got = zs_port_rx(zs->port, RX_BUDGET, on_packet, zs);

	run_timers(zs);
	zs_sock_deliver(zs);
	zstack_flush(zs);
	return got == RX_BUDGET;
}

uint32_t zstack_timer_ms(const struct zstack *zs)
{
	(void)zs; /* lwIP's timers are global: one stack a process */
	return sys_timeouts_sleeptime();
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
	out->tx_csum_kernel = ps.tx_csum_kernel;
	out->tx_csum_software = ps.tx_csum_software;
	out->tx_metadata = ps.tx_metadata;
	out->copied_in = zs->copied_in;
	out->copied_out = zs->copied_out;
	/* lwIP counts fast retransmissions only (tcp_rexmit); its
	 * tcpestabresets counts every close of an established connection, so
	 * resets are ours: connections that ended in an error. */
	out->retransmits = lwip_stats.mib2.tcpretranssegs;
	out->retransmit_timeouts = zs->rto;
	out->resets = zs->resets;
	out->drops = zs->drops + ps.rx_invalid + lwip_stats.link.drop + lwip_stats.ip.drop +
		     lwip_stats.tcp.drop + lwip_stats.etharp.drop + lwip_stats.icmp.drop;
	out->rx_chained = ps.rx_chained;
	out->multi_buffer = ps.multi_buffer;
	out->xdp_generic = ps.generic;
	out->conns_open = zs->conns_open;
	out->conns_total = zs->conns_total;
	out->mtu = zs->nif.mtu;
}

/* One line per TCP connection and one for the port, for a test that saw a
 * connection stall. lwIP is the stack thread's: call it there. */
void zstack_describe(const struct zstack *zs, FILE *to)
{
	struct zs_port_stats ps = { 0 };
	unsigned nseg;

	if (zs->port)
		zs_port_stats(zs->port, &ps);
	fprintf(to, "# port: rx_invalid %llu, tx_busy %llu, frames held %u of %u; lwIP drops: "
		    "link %u ip %u tcp %u (proterr %u, memerr %u)\n",
		(unsigned long long)ps.rx_invalid, (unsigned long long)ps.tx_busy, zs->frames_held,
		zs->nframes, (unsigned)lwip_stats.link.drop, (unsigned)lwip_stats.ip.drop,
		(unsigned)lwip_stats.tcp.drop, (unsigned)lwip_stats.tcp.proterr,
		(unsigned)lwip_stats.tcp.memerr);
	for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) {
		nseg = 0;
		for (struct tcp_seg *s = p->ooseq; s; s = s->next)
			nseg++;
		fprintf(to, "# pcb :%u state %d flags 0x%x rcv_nxt %u rcv_wnd %u ann %u ooseq %u "
			    "(first %u) refused %u snd_nxt %u lastack %u unacked %s nrtx %u rtime %d\n",
			p->local_port, (int)p->state, (unsigned)p->flags, p->rcv_nxt,
			(unsigned)p->rcv_wnd, (unsigned)p->rcv_ann_wnd, nseg,
			p->ooseq ? p->ooseq->tcphdr->seqno : 0,
			p->refused_data ? p->refused_data->tot_len : 0, p->snd_nxt, p->lastack,
			p->unacked ? "yes" : "no", (unsigned)p->nrtx, (int)p->rtime);
	}
}
