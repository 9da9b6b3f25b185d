/*
 * zs_steer.bpf.c - the Z-stack's XDP program: sends to the XSK of the
 * receiving queue exactly the frames the stack owns (see src/zs_port.h) and
 * passes everything else to the kernel. Built with clang -target bpf and
 * embedded into libsure.so (zstack.mk); zs_port.c loads it, fills "zs_cfg"
 * and puts its XSK into "xsks".
 *
 * Every header access is bounds-checked against data_end: the verifier
 * refuses the program otherwise, and a short or malformed frame must pass
 * to the kernel rather than be misread.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "zs_steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zs_steer_cfg);
} zs_cfg SEC(".maps");

/* Keyed by RX queue; zs_port.c sizes it to its queue + 1 before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* An ARP packet for Ethernet/IPv4. Written out here: linux/if_arp.h pulls in
 * libc headers, which a -target bpf build cannot use. */
#define ZS_ARPHRD_ETHER 1
struct zs_arp_ip4 {
	__be16 hrd, pro;
	__u8 hln, pln;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));

static __always_inline int zs_to_xsk(struct xdp_md *ctx)
{
	/* XDP_PASS when the queue has no XSK (yet): the frame is not lost. */
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

static __always_inline int zs_arp(struct xdp_md *ctx, const struct zs_steer_cfg *cfg,
				  void *l3, void *end)
{
	struct zs_arp_ip4 *arp = l3;
	__u32 tpa;

	if ((void *)(arp + 1) > end)
		return XDP_PASS;
	if (arp->hrd != bpf_htons(ZS_ARPHRD_ETHER) || arp->pro != bpf_htons(ETH_P_IP) ||
	    arp->hln != ETH_ALEN || arp->pln != 4)
		return XDP_PASS;
	/* tpa is not 4-byte aligned in the frame. */
	__builtin_memcpy(&tpa, arp->tpa, sizeof(tpa));
	return tpa == cfg->addr ? zs_to_xsk(ctx) : XDP_PASS;
}

static __always_inline int zs_ipv4(struct xdp_md *ctx, const struct zs_steer_cfg *cfg,
				   void *l3, void *end)
{
	struct iphdr *ip = l3;
	struct tcphdr *tcp;
	__u32 hlen;
	__u16 dport;

	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	if (ip->version != 4 || ip->ihl < 5 || ip->daddr != cfg->addr)
		return XDP_PASS;
	if (ip->protocol == IPPROTO_ICMP)
		return zs_to_xsk(ctx);
	if (ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	/* A later fragment carries no TCP header, so it has no port to match. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return XDP_PASS;
	/* Options make the header longer than struct iphdr: ihl says by how much. */
	hlen = (__u32)ip->ihl * 4;
	tcp = (struct tcphdr *)((__u8 *)ip + hlen);
	if ((void *)(tcp + 1) > end)
		return XDP_PASS;
	dport = bpf_ntohs(tcp->dest);
	if (cfg->port && dport == cfg->port)
		return zs_to_xsk(ctx);
	if (cfg->lport_hi && dport >= cfg->lport_lo && dport <= cfg->lport_hi)
		return zs_to_xsk(ctx);
	return XDP_PASS;
}

/* xdp.frags: it also takes packets in several buffers (its headers are all
 * in the first, which is all it reads); zs_port.c clears the flag when its
 * socket cannot receive them. */
SEC("xdp.frags")
int zs_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct zs_steer_cfg *cfg;
	__u32 key = 0;

	cfg = bpf_map_lookup_elem(&zs_cfg, &key);
	/* addr 0: the port only transmits. Other queues have no XSK of ours. */
	if (!cfg || !cfg->addr || ctx->rx_queue_index != cfg->queue)
		return XDP_PASS;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return zs_ipv4(ctx, cfg, eth + 1, end);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return zs_arp(ctx, cfg, eth + 1, end);
	return XDP_PASS;
}

/* No GPL-only helper is used; this is the project's licence. */
char LICENSE[] SEC("license") = "Apache-2.0";
