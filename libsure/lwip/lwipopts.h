/*
 * lwipopts.h - how libsure builds lwIP for the Z-stack (lwip.mk): the raw,
 * callback API on one thread (NO_SYS: the data-plane thread runs input,
 * timers and every callback), IPv4 with ARP and ICMP echo, TCP only.
 */
#ifndef SURE_LWIPOPTS_H
#define SURE_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_SINGLE_NETIF 1

/* Memory: the C heap, so limits are the node's, not a static arena's. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEMP_NUM_TCP_PCB 4096
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_TCP_SEG 65535
#define PBUF_POOL_BUFSIZE 1600
/* Received frames stay in the UMEM: lwIP holds them as custom pbufs. */
#define LWIP_SUPPORT_CUSTOM_PBUF 1

#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ETHARP_SUPPORT_STATIC_ENTRIES 1
#define ARP_QUEUEING 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0

#define LWIP_TCP 1
#define TCP_MSS 1460
/* Window scaling: a 1 MiB receive window, so one connection can fill a
 * body at line rate without waiting for window updates. */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
#define TCP_SND_BUF (1024 * 1024)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT 32768 /* lwIP keeps it below 64 KiB - 4 MSS */
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES (4 * 1024 * 1024)
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 255 /* a u8_t */
#define LWIP_TCP_KEEPALIVE 1
/* TIME-WAIT lasts 2 MSL: 4 s, not lwIP's 2 minutes, so that connections the
 * server closes first (timeouts, "connection: close") do not pile up as
 * pcbs on the heap at the rate clients come (the C heap has no pool limit). */
#define TCP_MSL 2000UL
/* lwIP's TCP timers tick every 50 ms, not 250 (the data-plane loop wakes
 * when lwIP's next timer is due). lwIP counts retransmission timeouts in
 * slow ticks (two of these) and its RTO estimate never falls below three,
 * so the shortest RTO after a loss falls from 1.5 s to 0.3 s (Linux's is
 * 0.2 s), and a delayed ACK waits at most 50 ms, not 250. */
#define TCP_TMR_INTERVAL 50
/* Timestamps (12 bytes a segment): the acknowledgement of a retransmitted
 * segment then gives its sender an RTT sample (Karn's rule forbids one
 * without), which is what ends Linux's backoff of its retransmission
 * timeout. Without them a client that lost several segments of one window
 * went 200 ms, 0.4, 0.8, 1.6, 3.2 and 6.4 s between retransmissions, each
 * of which we acknowledged: at 1 packet in 13 lost, a MiB upload stalled
 * past 10 s in 3 runs of 88 (test_zstack test_loss, a capture showed each
 * retransmission acknowledged at once), and in none of 150 with them. */
#define LWIP_TCP_TIMESTAMPS 1
/* No selective acknowledgements: lwIP would send them but not act on the
 * peer's, and a Linux receiver that may SACK compresses its duplicate ACKs
 * (tcp_comp_sack_*), so lwIP's own fast retransmit, which counts three of
 * them, rarely fired: the same test's answers took 80-90 timeouts. */
#define LWIP_TCP_SACK_OUT 0
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0

/* Checksums: veth (and NICs with offload) hand over TCP and ICMP segments
 * whose checksum is only the pseudo-header's (the kernel vouches for them),
 * so lwIP checks the IPv4 header's and generates all of its own. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1 /* a wired stack's port finishes TCP's (zstack.c) */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_TCP 0
#define CHECKSUM_CHECK_ICMP 0

/* Counters for /metrics: retransmissions, drops. */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define MIB2_STATS 1 /* retransmitted segments, resets */
#define LINK_STATS 1
#define ETHARP_STATS 1
#define IP_STATS 1
#define ICMP_STATS 1
#define TCP_STATS 1
#define MEM_STATS 0
#define MEMP_STATS 0
#define SYS_STATS 0

#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0

#define LWIP_RAND() ((u32_t)random())
#define LWIP_DEBUG 0

#endif
