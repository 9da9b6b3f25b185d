/*
 * zs_port.h - internal: the Z-stack's link to the wire, one AF_XDP socket
 * (XSK) on one queue of one interface, with the XDP program that steers to it
 * only the frames the Z-stack owns (everything else goes to the kernel).
 *
 * The UMEM is a memfd (struct sure_shm) so that the frames live in memory
 * that can be mapped elsewhere; received frames are handed
 * to the caller in place and given back with zs_port_release() once the
 * stack is done with them (the stack may hold a frame for a while, e.g. an
 * out-of-order TCP segment). Transmit copies into a free TX frame (veth gives
 * copy mode anyway) and is counted.
 *
 * Packets longer than a frame: the socket is bound with XDP_USE_SG and the
 * program loaded as taking frags (Linux 6.6 and later), so the kernel splits
 * such a packet over several frames and marks all but the last (copy mode).
 * That is what keeps large transfers working in generic mode on veth, whose
 * peer's GSO hands sends of up to 64 KiB across whole (the kernel skips GRO
 * on an interface with a generic program, so a NIC's packets stay
 * wire-sized), and veth then keeps them whole for the kernel's own traffic
 * too.
 * A kernel without it: bound without, and such packets are the kernel's to
 * drop, as a single-frame socket always had it.
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
	uint8_t xdp_mode; /* ZS_XDP_AUTO, or one mode forced (tests, benchmarks) */
	uint8_t tx_csum; /* ZS_CSUM_AUTO, or one way forced (tests, benchmarks) */
};

/* Who finishes the TCP checksums of frames sent with a struct zs_tx_csum. */
enum {
	/* The kernel, through AF_XDP's TX metadata (Linux 6.11: the UMEM's
	 * XDP_UMEM_TX_METADATA_LEN): the frame leaves as a partial checksum
	 * (CHECKSUM_PARTIAL), which a NIC or the kernel completes as it would
	 * its own TCP's, and which a local receiver (veth) does not recompute.
	 * Older kernels: the port, in software. */
	ZS_CSUM_AUTO,
	ZS_CSUM_SOFTWARE, /* the port, in software, always */
	/* The kernel, in software, at once (XDP_UMEM_TX_SW_CSUM): the frame
	 * leaves complete, so its receiver checks it (tests of the seeds). */
	ZS_CSUM_KERNEL_SOFTWARE,
};

/* A frame's TCP (or UDP) checksum to finish: the field at start + offset
 * holds seed (the pseudo-header's sum, folded, not complemented, as the
 * bytes are laid out) once the frame is copied; the sum runs from start to
 * the frame's end. */
struct zs_tx_csum {
	uint16_t start, offset;
	uint16_t seed;
};

enum {
	ZS_XDP_AUTO, /* native where the driver has it, except generic on veth with multi-buffer */
	ZS_XDP_NATIVE, /* native or -EOPNOTSUPP */
	ZS_XDP_GENERIC,
};

/* One page per frame: a packet longer than a frame (a jumbo frame, or a
 * send of up to 64 KiB that a veth peer's GSO passes on whole) comes in
 * several frames, and copy mode gives at most
 * ZS_MAX_FRAGS of them to a packet: 18 pages hold 64 KiB and its headers. */
#define ZS_FRAME_SIZE 4096u
#define ZS_MAX_FRAGS 18u
/* A TX frame starts with room for the kernel's TX metadata (struct
 * xsk_tx_metadata, 24 bytes, at the packet's address minus this). */
#define ZS_TX_META_ROOM 32u
#define ZS_TX_MAX (ZS_FRAME_SIZE - ZS_TX_META_ROOM)

/* One frame of a received packet: its bytes in the UMEM and the handle that
 * gives the frame back. */
struct zs_frag {
	uint8_t *data;
	uint32_t len;
	uint64_t handle;
};

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

/* Up to budget received packets: fn(arg, frags, n) for each, in order, with
 * its n (1..ZS_MAX_FRAGS) frames in order. Each frame's bytes stay valid
 * (and the frame is not reused) until zs_port_release(p, its handle), which
 * the callee must call for every one of them. A packet whose descriptors are
 * not all sane (outside the RX frames, a frame handed out twice, more than
 * ZS_MAX_FRAGS) is not handed out; its frames that are ours go back at once
 * (counted in rx_invalid). Returns how many packets were handed out or
 * refused. */
typedef void (*zs_rx_fn)(void *arg, const struct zs_frag *frags, unsigned n);
unsigned zs_port_rx(struct zs_port *p, unsigned budget, zs_rx_fn fn, void *arg);
/* Gives a received frame back (it returns to the fill ring). */
void zs_port_release(struct zs_port *p, uint64_t handle);

/* Queues one frame for transmission: the concatenation of n pieces (at most
 * ZS_TX_MAX bytes in all) is copied into a free TX frame, and csum (NULL:
 * none) finished by the kernel or here (enum above). 0, -EMSGSIZE (too long,
 * or a checksum outside the frame), or -EAGAIN when no TX frame is free
 * (completions are reaped here first). */
int zs_port_tx(struct zs_port *p, const struct iovec *iov, unsigned n,
	       const struct zs_tx_csum *csum);
/* Tells the kernel about queued TX frames (a sendto kick in copy mode);
 * called once per batch. */
void zs_port_flush(struct zs_port *p);

/* Counters; each only grows. */
struct zs_port_stats {
	uint64_t rx_frames, rx_bytes; /* handed to the stack */
	uint64_t tx_frames, tx_bytes; /* queued for the wire */
	uint64_t tx_copied; /* bytes copied into TX frames (all of tx_bytes) */
	uint64_t tx_csum_kernel; /* frames whose checksum the kernel finishes */
	uint64_t tx_csum_software; /* frames whose checksum the port finished */
	uint64_t rx_dropped; /* the kernel's XDP_STATISTICS: rx_dropped + rx_ring_full (a frame with no
			      * fill-ring frame is in rx_dropped; fill_ring_empty only repeats it) */
	uint64_t tx_busy; /* zs_port_tx calls refused with -EAGAIN */
	uint64_t rx_chained; /* packets that came in more than one frame */
	uint64_t rx_invalid; /* packets refused by zs_port_rx (see there) */
	uint8_t multi_buffer; /* 1: bound with XDP_USE_SG, the program takes frags */
	uint8_t generic; /* 1: the program runs in generic (SKB) mode, 0: native */
	uint8_t tx_metadata; /* 1: the kernel takes TX metadata (checksums) */
};
void zs_port_stats(const struct zs_port *p, struct zs_port_stats *out);

#endif
