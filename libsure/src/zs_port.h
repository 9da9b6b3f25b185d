/*
 * zs_port.h - internal: the Z-stack's link to the wire, one AF_XDP socket
 * (XSK) on one queue of one interface, with the XDP program that steers to it
 * only the frames the Z-stack owns (everything else goes to the kernel).
 *
 * The UMEM is a memfd (struct sure_shm) so that the frames live in memory
 * that can be mapped elsewhere (a guest's pool); received frames are handed
 * to the caller in place and given back with zs_port_release() once the
 * stack is done with them (the stack may hold a frame for a while, e.g. an
 * out-of-order TCP segment). Transmit copies into a free TX frame (veth gives
 * copy mode anyway) and is counted.
 *
 * What the XDP program steers to the XSK (all else: XDP_PASS):
 *   - IPv4 frames whose destination address is cfg->addr and that are
 *     ICMP, or TCP with a destination port equal to cfg->port or inside
 *     [cfg->lport_lo, cfg->lport_hi] (the local ports of the node's own
 *     outgoing connections);
 *   - ARP frames whose target protocol address is cfg->addr (requests for it
 *     and replies to it), so the stack owns its address;
 *   - with cfg->addr 0: nothing (the port only transmits).
 * The address is meant to be one the kernel does not use on that interface.
 *
 * Threading: one thread (the data plane's) uses a port.
 */
#ifndef SURE_ZS_PORT_H
#define SURE_ZS_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct zs_port;

struct zs_port_config {
	const char *ifname; /* interface, e.g. "veth0" */
	uint32_t queue; /* RX queue to bind (0) */
	uint32_t addr; /* IPv4 address the stack owns, network byte order */
	uint16_t port; /* TCP listen port, host byte order (0: none) */
	uint16_t lport_lo, lport_hi; /* host byte order; 0,0: none */
	uint32_t frames; /* UMEM frames (0: 4096), each ZS_FRAME_SIZE bytes */
};

#define ZS_FRAME_SIZE 2048u

/* Creates the UMEM, the XSK (copy mode; XDP_FLAGS_DRV_MODE, falling back to
 * SKB mode), loads and attaches the XDP program and puts the XSK in its map.
 * 0 or -errno: -ENODEV no such interface, -EPERM not root / no CAP_NET_ADMIN
 * or CAP_BPF, -EOPNOTSUPP no AF_XDP in this kernel, -EBUSY another XDP
 * program is attached to the interface. */
int zs_port_open(const struct zs_port_config *cfg, struct zs_port **out);
/* Detaches the XDP program, closes the XSK and frees the UMEM. NULL is fine. */
void zs_port_close(struct zs_port *p);

/* The XSK's fd: readable (EPOLLIN) when frames arrived. */
int zs_port_fd(const struct zs_port *p);
/* The interface's MAC address (6 bytes) and MTU. */
const uint8_t *zs_port_mac(const struct zs_port *p);
uint32_t zs_port_mtu(const struct zs_port *p);

/* Up to budget received frames: fn(arg, frame, len, handle) for each, in
 * order. frame points into the UMEM; it stays valid (and is not reused)
 * until zs_port_release(p, handle). Refills the fill ring with free frames.
 * Returns how many frames were handed out. */
unsigned zs_port_rx(struct zs_port *p, unsigned budget,
		    void (*fn)(void *arg, uint8_t *frame, uint32_t len, uint64_t handle), void *arg);
/* Gives a received frame back (it returns to the fill ring). */
void zs_port_release(struct zs_port *p, uint64_t handle);

/* Queues one frame for transmission: the concatenation of n pieces (at most
 * ZS_FRAME_SIZE bytes in all) is copied into a free TX frame. 0, -EMSGSIZE,
 * or -EAGAIN when no TX frame is free (completions are reaped here first). */
int zs_port_tx(struct zs_port *p, const struct iovec *iov, unsigned n);
/* Tells the kernel about queued TX frames (a sendto kick in copy mode);
 * called once per batch. */
void zs_port_flush(struct zs_port *p);

/* Counters; each only grows. */
struct zs_port_stats {
	uint64_t rx_frames, rx_bytes; /* handed to the stack */
	uint64_t tx_frames, tx_bytes; /* queued for the wire */
	uint64_t tx_copied; /* bytes copied into TX frames (all of tx_bytes) */
	uint64_t rx_dropped; /* the kernel's XDP_STATISTICS: rx_dropped + rx_ring_full (a frame with no
			      * fill-ring frame is in rx_dropped; fill_ring_empty only repeats it) */
	uint64_t tx_busy; /* zs_port_tx calls refused with -EAGAIN */
};
void zs_port_stats(const struct zs_port *p, struct zs_port_stats *out);

#endif
