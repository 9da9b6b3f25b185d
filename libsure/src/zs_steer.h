/*
 * zs_steer.h - internal: the settings of the Z-stack's XDP program
 * (bpf/zs_steer.bpf.c), the one entry of its ARRAY map "zs_cfg". Shared by
 * the BPF program and zs_port.c, so it uses only the kernel's fixed-width
 * types and has no implicit padding (both compilers lay it out alike).
 */
#ifndef SURE_ZS_STEER_H
#define SURE_ZS_STEER_H

#include <linux/types.h>

struct zs_steer_cfg {
	__u32 addr; /* IPv4 address the stack owns, network byte order; 0: steer nothing */
	__u32 queue; /* the RX queue the XSK is bound to */
	__u16 port; /* TCP listen port, host byte order; 0: none */
	__u16 lport_lo, lport_hi; /* host byte order; hi 0 (or lo > hi): none */
	__u16 pad;
};

#endif
