/*
 * zstack.h - internal: the Z-stack, libsure's own TCP/IP stack: lwIP's raw
 * API (built from Debian's source, libsure/lwip.mk) on an AF_XDP port
 * (zs_port.h), run by the data-plane thread. It owns one IPv4 address on one
 * interface: it answers ARP and ICMP echo for it and serves TCP on it, while
 * the kernel keeps every other frame of that interface.
 *
 * Its sockets look like non-blocking kernel sockets to their user (the HTTP
 * server, hops): recv/send return what is there or -EAGAIN, and readiness
 * comes as edge events (ZS_EV_IN: bytes, EOF or an error to read; ZS_EV_OUT:
 * room to send, or a connect that completed). Events are delivered from
 * zstack_poll() after the frames of a batch went through lwIP, never from
 * inside lwIP, so a handler may recv, send and close freely.
 *
 * Copies, counted in zstack_stats: received payload stays in the UMEM
 * frames it arrived in until the user's recv copies it out (into a request's
 * buffer: the copy a kernel recv would make too); when the user holds more
 * than half of the frames (slow readers), newer segments are copied out of
 * their frames so the fill ring never runs dry. Sent bytes are copied into
 * lwIP's segments (the caller may reuse its memory at once) and, by the port,
 * into TX frames (veth's copy mode).
 *
 * One Z-stack per process (lwIP keeps global state). Everything here runs on
 * one thread.
 */
#ifndef SURE_ZSTACK_H
#define SURE_ZSTACK_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

struct zstack;
struct zs_sock;

struct zstack_config {
	const char *ifname; /* the interface (e.g. a veth end) */
	uint32_t queue; /* its RX queue (0) */
	uint32_t addr, netmask, gateway; /* IPv4, network byte order; gateway 0: none */
	uint16_t listen_port; /* host byte order: the port the XDP program steers */
	uint16_t lport_lo, lport_hi; /* local ports of outgoing connections (0,0: 40000-40999) */
	uint32_t frames; /* UMEM frames (0: the port's default) */
	/* Fault injection for tests of loss recovery: every Nth frame received
	 * and every Nth frame sent is dropped (counted in drops). 0: none. */
	uint32_t drop_every;
	/* 0: the port's choice; 1: native XDP only; 2: generic (SKB) mode
	 * (zs_port.h's ZS_XDP_*; tests and benchmarks). */
	uint8_t xdp_mode;
	/* Who finishes TCP checksums: 0, the kernel where it can, else the
	 * port; zs_port.h's ZS_CSUM_* (tests and benchmarks). */
	uint8_t tx_csum;
	/* Unwired stacks only: every frame the stack sends (fuzzing). */
	void (*tap)(void *arg, const uint8_t *frame, uint32_t len);
	void *tap_arg;
};

/* 0 or -errno (the port's, or -EBUSY: a Z-stack is already open here). */
int zstack_open(const struct zstack_config *cfg, struct zstack **out);
/* A stack with no port (no interface, no XDP, frames sent are dropped):
 * frames reach it only through zstack_inject. For fuzzing the stack's
 * parsing of frames (tests/fuzz_zstack.c). */
int zstack_open_unwired(const struct zstack_config *cfg, struct zstack **out);
/* One frame in (copied), as if received in pieces frames (1 to
 * ZS_MAX_FRAGS, cut evenly; a packet of more than one frame must be IPv4);
 * then socket events are delivered. */
void zstack_inject(struct zstack *zs, const uint8_t *frame, uint32_t len, unsigned pieces);
/* Aborts every connection (their users must have closed their sockets),
 * detaches from the interface and frees. NULL is fine. */
void zstack_close(struct zstack *zs);

/* Readable when frames arrived: then call zstack_poll(). */
int zstack_fd(const struct zstack *zs);
/* Takes in received frames (a bounded batch: call again while it returns
 * 1), runs lwIP's timers that are due and delivers socket events. */
int zstack_poll(struct zstack *zs);
/* Milliseconds until lwIP's next timer is due (retransmission, delayed
 * ACK, TIME-WAIT): call zstack_poll() by then. UINT32_MAX: none is. */
uint32_t zstack_timer_ms(const struct zstack *zs);
/* Sends what lwIP queued for the wire (one kick per batch): call after a
 * round of sends. */
void zstack_flush(struct zstack *zs);

enum { ZS_EV_IN = 1u, ZS_EV_OUT = 2u };
typedef void (*zs_event_fn)(void *arg, unsigned events);

/* Accepts on port (host order) of the stack's address: on_accept(arg, sock,
 * peer) for each new connection; it returns 0 and takes the socket (and
 * zs_sock_bind()s it), or < 0 to refuse (the connection is reset; the
 * socket is freed, do not close it). *out is the listener: zs_close() it to
 * stop accepting. */
int zs_listen(struct zstack *zs, uint16_t port,
	      int (*on_accept)(void *arg, struct zs_sock *s, const struct sockaddr_in *peer),
	      void *arg, struct zs_sock **out);
/* Where a socket's events go. Binding queues ZS_EV_IN | ZS_EV_OUT once, so
 * the user looks at it. */
void zs_sock_bind(struct zs_sock *s, zs_event_fn fn, void *arg);
/* Outgoing connection to `to`, from a free local port of the stack's range:
 * ZS_EV_OUT when it is established; a refusal or timeout shows as recv()
 * returning -ECONNREFUSED / -ETIMEDOUT. */
int zs_connect(struct zstack *zs, const struct sockaddr_in *to, zs_event_fn fn, void *arg,
	       struct zs_sock **out);

/* 1 while a zs_connect() is in progress, 0 once established, or the
 * -errno it failed with (-ECONNREFUSED, -ETIMEDOUT, -ECONNRESET...). */
int zs_sock_state(const struct zs_sock *s);
/* 1 if an established socket can carry another request: no error, no FIN
 * from the peer, nothing unread. */
int zs_sock_reusable(const struct zs_sock *s);
/* 1 while bytes written are not all acknowledged by the peer. */
int zs_sock_unacked(const struct zs_sock *s);
/* > 0 bytes, 0 at the peer's FIN, -EAGAIN nothing yet, -ECONNRESET etc. */
ssize_t zs_recv(struct zs_sock *s, void *buf, size_t len);
/* Bytes taken (copied) from the pieces, in order; -EAGAIN none (ZS_EV_OUT
 * follows when there is room), -EPIPE the connection is gone. */
ssize_t zs_sendv(struct zs_sock *s, const struct iovec *iov, unsigned n);
/* Our FIN after what is queued; the read side stays open. */
int zs_shutdown_wr(struct zs_sock *s);
/* Closes (queued bytes still go, then FIN) and frees: no more events. */
void zs_close(struct zs_sock *s);

struct zstack_stats {
	uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes; /* on the wire */
	uint64_t rx_dropped; /* the kernel dropped for want of room (XSK stats) */
	uint64_t copied_in; /* payload copied out of frames: recv, plus slow readers' */
	uint64_t copied_out; /* bytes copied into lwIP's segments by sends */
	uint64_t copied_wire; /* bytes copied into TX frames (copy mode) */
	uint64_t tx_csum_kernel; /* TCP segments whose checksum the kernel finished */
	uint64_t tx_csum_software; /* ... that the port finished in software */
	uint64_t retransmits; /* TCP segments sent again on duplicate ACKs (fast retransmit) */
	uint64_t retransmit_timeouts; /* retransmission timeouts: each sends the oldest
				       * unacknowledged segment again, and what
				       * followed it as the window grows back */
	uint64_t resets; /* connections that ended in an error: reset, given up, refused */
	uint64_t drops; /* packets dropped: by lwIP (bad, unwanted or no memory), by the
			 * stack (refused descriptors, a long packet that is not IPv4) */
	uint64_t rx_chained; /* packets that came in more than one frame */
	uint8_t multi_buffer; /* packets longer than a frame can come (XDP_USE_SG) */
	uint8_t xdp_generic; /* the steering program runs in generic (SKB) mode */
	uint8_t tx_metadata; /* the kernel takes TX metadata: it finishes checksums */
	uint64_t conns_open; /* sockets alive */
	uint64_t conns_total; /* accepted + connected */
	uint32_t mtu;
};
void zstack_stats(const struct zstack *zs, struct zstack_stats *out);

/* Its connections' TCP state and the port's counters, a line each, to `to`
 * (for tests that saw a connection stall). On the stack's thread only. */
void zstack_describe(const struct zstack *zs, FILE *to);

#endif
