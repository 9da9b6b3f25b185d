/*
 * zs_port.c - see zs_port.h. Raw AF_XDP (the four rings are mapped and
 * driven here, no libxdp); libbpf only loads the steering program embedded
 * in libsure.so (zs_steer_obj.S) and attaches it.
 *
 * UMEM layout: frames [0, nrx) are RX frames, [nrx, nrx + ntx) TX frames.
 * An RX frame is always in exactly one place: the fill ring or the kernel
 * (waiting for a frame to land in it, or on the RX ring), or held by the
 * stack between zs_port_rx() and zs_port_release(). A TX frame is free
 * (tx_free), on the TX ring, or in the kernel until it shows up on the
 * completion ring. Each ring is sized to hold all the frames that can be on
 * it, so a producer here never finds its ring full.
 */
#include "zs_port.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shm.h"
#include "util.h"
#include "zs_steer.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
/* Multi-buffer AF_XDP (Linux 6.6); older headers lack the names. */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif
/* TX metadata (Linux 6.8; its UMEM flag 6.11); older headers lack the names. */
#ifndef XDP_UMEM_TX_SW_CSUM
#define XDP_UMEM_TX_SW_CSUM (1 << 1)
#endif
#ifndef XDP_UMEM_TX_METADATA_LEN
#define XDP_UMEM_TX_METADATA_LEN (1 << 2)
#endif
#ifndef XDP_TX_METADATA
#define XDP_TX_METADATA (1 << 1)
#endif
#ifndef XDP_TXMD_FLAGS_CHECKSUM
#define XDP_TXMD_FLAGS_CHECKSUM (1 << 1)
#endif

/* struct xdp_umem_reg with tx_metadata_len, and struct xsk_tx_metadata's
 * checksum request, as the kernel lays them out (if_xdp.h, 6.8 on). */
struct zs_umem_reg {
	uint64_t addr, len;
	uint32_t chunk_size, headroom, flags, tx_metadata_len;
};
struct zs_tx_meta {
	uint64_t flags;
	uint16_t csum_start, csum_offset;
};
_Static_assert(sizeof(struct zs_umem_reg) == 32, "xdp_umem_reg");
_Static_assert(ZS_TX_META_ROOM % 8 == 0 && ZS_TX_META_ROOM >= 24 && ZS_TX_META_ROOM < 256,
	       "the kernel's rule for tx_metadata_len, and room for its 24 bytes");

/* The BPF object (build/bpf/zs_steer.bpf.o), embedded by zs_steer_obj.S. */
extern const unsigned char zs_steer_obj[] __attribute__((visibility("hidden")));
extern const unsigned char zs_steer_obj_end[] __attribute__((visibility("hidden")));

#define ZS_DEFAULT_FRAMES 4096u
#define ZS_MAX_FRAMES (1u << 20)

/* One mapped ring. head is our side's index: the producer index on the fill
 * and TX rings, the consumer index on the RX and completion rings. */
struct zs_ring {
	uint32_t *prod, *cons;
	void *desc;
	uint32_t mask, head;
	void *map;
	size_t map_len;
};

struct zs_port {
	int fd;
	int ifindex;
	uint32_t queue, mtu;
	uint8_t mac[6];
	struct sure_shm umem;
	uint32_t nrx, ntx;
	struct zs_ring fill, comp, rx, tx;
	uint64_t *tx_free; /* ntx entries */
	uint32_t tx_nfree;
	uint8_t *rx_held; /* nrx entries: 1 while the stack holds the frame */
	struct bpf_object *obj;
	int prog_fd;
	uint32_t xdp_mode; /* XDP_FLAGS_DRV_MODE or _SKB_MODE once attached, else 0 */
	uint8_t veth; /* the interface is a veth end */
	uint8_t tx_meta; /* the UMEM has TX metadata: the kernel finishes checksums */
	int link_fd; /* the BPF link that holds the program on the interface */
	struct zs_port_stats st;
};

static uint32_t zs_pow2(uint32_t n)
{
	uint32_t r = 1;

	while (r < n)
		r <<= 1;
	return r;
}

static int zs_ring_map(int fd, struct zs_ring *r, const struct xdp_ring_offset *off,
		       uint32_t size, size_t desc_size, off_t pgoff)
{
	uint8_t *m;

	r->map_len = off->desc + (size_t)size * desc_size;
	m = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
	if (m == MAP_FAILED) {
		r->map = NULL;
		return -errno;
	}
	r->map = m;
	r->prod = (uint32_t *)(m + off->producer);
	r->cons = (uint32_t *)(m + off->consumer);
	r->desc = m + off->desc;
	r->mask = size - 1;
	return 0;
}

static void zs_ring_unmap(struct zs_ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
}

/* Hands the kernel one free RX frame. The fill ring holds nrx entries, so it
 * always has room for a frame we own. */
static void zs_fill_put(struct zs_port *p, uint64_t addr)
{
	((uint64_t *)p->fill.desc)[p->fill.head & p->fill.mask] = addr;
	p->fill.head++;
	/* Release: the kernel must see the address before the new index. */
	sure_store(p->fill.prod, p->fill.head);
}

/* Takes the TX frames the kernel is done with back into tx_free. */
static void zs_reap(struct zs_port *p)
{
	uint32_t prod = sure_load(p->comp.prod); /* acquire: entries before index */
	const uint64_t *d = p->comp.desc;
	uint32_t h = p->comp.head;

	if (prod == h)
		return;
	for (; h != prod; h++) {
		uint64_t addr = d[h & p->comp.mask];
		uint64_t i = addr / ZS_FRAME_SIZE;

		/* Only addresses we queued come back; a check keeps tx_free bounded anyway. */
		if (i >= p->nrx && i < (uint64_t)p->nrx + p->ntx && p->tx_nfree < p->ntx)
			p->tx_free[p->tx_nfree++] = i * ZS_FRAME_SIZE;
	}
	p->comp.head = h;
	/* Release: our reads of the entries are done before the kernel may reuse them. */
	sure_store(p->comp.cons, h);
}

/* The interface's MAC and MTU, asked in the caller's network namespace (sysfs
 * would answer for the namespace it was mounted in). */
static int zs_link_info(struct zs_port *p, const char *ifname)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	p->mtu = (uint32_t)ifr.ifr_mtu;
	/* The driver's name (no answer: not veth). */
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	ifr.ifr_data = (void *)&di;
	p->veth = ioctl(s, SIOCETHTOOL, &ifr) == 0 && strcmp(di.driver, "veth") == 0;
out:
	close(s);
	return rc == -ENXIO ? -ENODEV : rc;
}

/* -EBUSY when any XDP program (in any mode) is attached to the interface: the
 * port would otherwise replace someone else's program. */
static int zs_xdp_free(int ifindex)
{
	static const int modes[] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		uint32_t id = 0;
		int rc = bpf_xdp_query_id(ifindex, modes[i], &id);

		if (rc < 0)
			return rc;
		if (id)
			return -EBUSY;
	}
	return 0;
}

/* Undoes zs_xsk_setup (also a half-done one). */
static void zs_xsk_teardown(struct zs_port *p)
{
	zs_ring_unmap(&p->fill);
	zs_ring_unmap(&p->comp);
	zs_ring_unmap(&p->rx);
	zs_ring_unmap(&p->tx);
	memset(&p->fill, 0, sizeof(p->fill));
	memset(&p->comp, 0, sizeof(p->comp));
	memset(&p->rx, 0, sizeof(p->rx));
	memset(&p->tx, 0, sizeof(p->tx));
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	/* The kernel unpins the UMEM when the socket goes; our mapping can go now. */
	sure_shm_destroy(&p->umem);
	p->tx_nfree = 0;
}

/* Registers the UMEM: with room for TX metadata where the kernel takes it
 * and the caller wants the kernel to finish checksums. The flag that says
 * tx_metadata_len is meant (6.11) is asked for, so a kernel that would read
 * the field as padding (before 6.8) or from it (6.8-6.10) refuses it instead:
 * then the UMEM is registered without, and checksums are finished here. */
static int zs_umem_reg(struct zs_port *p, uint8_t tx_csum)
{
	struct zs_umem_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)p->umem.map;
	reg.len = p->umem.size; /* page-rounded: a multiple of the frame size */
	reg.chunk_size = ZS_FRAME_SIZE;
	reg.headroom = 0;
	if (tx_csum != ZS_CSUM_SOFTWARE) {
		reg.flags = XDP_UMEM_TX_METADATA_LEN |
			    (tx_csum == ZS_CSUM_KERNEL_SOFTWARE ? XDP_UMEM_TX_SW_CSUM : 0);
		reg.tx_metadata_len = ZS_TX_META_ROOM;
		if (setsockopt(p->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) == 0) {
			p->tx_meta = 1;
			return 0;
		}
		if (errno != EINVAL || tx_csum == ZS_CSUM_KERNEL_SOFTWARE)
			return -errno;
		reg.flags = 0;
		reg.tx_metadata_len = 0;
	}
	if (setsockopt(p->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) < 0)
		return -errno;
	return 0;
}

/* The XSK, its UMEM, the four rings and the bind (copy mode). */
static int zs_xsk_setup(struct zs_port *p, uint32_t frames, uint8_t tx_csum)
{
	struct xdp_mmap_offsets off;
	struct sockaddr_xdp sxdp;
	socklen_t optlen = sizeof(off);
	uint32_t rxsz = zs_pow2(p->nrx), txsz = zs_pow2(p->ntx);
	int rc;

	p->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		rc = -errno;
		return rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT ? -EOPNOTSUPP : rc;
	}
	rc = sure_shm_create(&p->umem, "sure-zs-umem", (size_t)frames * ZS_FRAME_SIZE);
	if (rc < 0)
		return rc;
	rc = zs_umem_reg(p, tx_csum);
	if (rc < 0)
		return rc;
	if (setsockopt(p->fd, SOL_XDP, XDP_UMEM_FILL_RING, &rxsz, sizeof(rxsz)) < 0 ||
	    setsockopt(p->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &txsz, sizeof(txsz)) < 0 ||
	    setsockopt(p->fd, SOL_XDP, XDP_RX_RING, &rxsz, sizeof(rxsz)) < 0 ||
	    setsockopt(p->fd, SOL_XDP, XDP_TX_RING, &txsz, sizeof(txsz)) < 0)
		return -errno;
	if (getsockopt(p->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen) < 0)
		return -errno;
	if (optlen < sizeof(off))
		return -EOPNOTSUPP; /* a kernel older than 5.4: rings without the flags word */
	if ((rc = zs_ring_map(p->fd, &p->fill, &off.fr, rxsz, sizeof(uint64_t),
			      (off_t)XDP_UMEM_PGOFF_FILL_RING)) < 0 ||
	    (rc = zs_ring_map(p->fd, &p->comp, &off.cr, txsz, sizeof(uint64_t),
			      (off_t)XDP_UMEM_PGOFF_COMPLETION_RING)) < 0 ||
	    (rc = zs_ring_map(p->fd, &p->rx, &off.rx, rxsz, sizeof(struct xdp_desc),
			      XDP_PGOFF_RX_RING)) < 0 ||
	    (rc = zs_ring_map(p->fd, &p->tx, &off.tx, txsz, sizeof(struct xdp_desc),
			      XDP_PGOFF_TX_RING)) < 0)
		return rc;
	/* Every RX frame starts on the fill ring, every TX frame free. */
	for (uint32_t i = 0; i < p->nrx; i++)
		zs_fill_put(p, (uint64_t)i * ZS_FRAME_SIZE);
	for (uint32_t i = 0; i < p->ntx; i++)
		p->tx_free[p->tx_nfree++] = (uint64_t)(p->nrx + p->ntx - 1 - i) * ZS_FRAME_SIZE;

	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = (uint32_t)p->ifindex;
	sxdp.sxdp_queue_id = p->queue;
	/* Copy mode: veth has no zero-copy, and copy mode works on any driver.
	 * Multi-buffer where the kernel has it (6.6): an older one refuses the
	 * flag with EINVAL, and binds without it. */
	sxdp.sxdp_flags = XDP_COPY | XDP_USE_SG;
	if (bind(p->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) == 0) {
		p->st.multi_buffer = 1;
		return 0;
	}
	if (errno != EINVAL && errno != EOPNOTSUPP)
		return -errno;
	sxdp.sxdp_flags = XDP_COPY;
	if (bind(p->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) < 0)
		return -errno;
	return 0;
}

/* Loads the embedded program, fills its maps and attaches it: native (DRV)
 * mode where the driver has it, else generic (SKB) mode. */
static int zs_bpf_setup(struct zs_port *p, const struct zs_port_config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "zs_steer");
	struct zs_steer_cfg sc;
	struct bpf_program *prog;
	struct bpf_map *cfg_map, *xsks;
	libbpf_print_fn_t old_print;
	uint32_t key = 0;
	int rc, xsk_fd = p->fd;

	p->obj = bpf_object__open_mem(zs_steer_obj, (size_t)(zs_steer_obj_end - zs_steer_obj),
				      &oo);
	if (!p->obj)
		return -errno;
	cfg_map = bpf_object__find_map_by_name(p->obj, "zs_cfg");
	xsks = bpf_object__find_map_by_name(p->obj, "xsks");
	prog = bpf_object__find_program_by_name(p->obj, "zs_steer");
	if (!cfg_map || !xsks || !prog)
		return -ENOENT; /* the embedded object does not match this file */
	/* The XSKMAP is keyed by RX queue: large enough for ours. */
	rc = bpf_map__set_max_entries(xsks, p->queue + 1);
	if (rc < 0)
		return rc;
	/* Its section (xdp.frags) says it takes packets in several buffers; a
	 * socket that cannot receive them must not get them: without the flag
	 * the driver (veth) keeps them small, or the kernel drops them. */
	if (!p->st.multi_buffer)
		bpf_program__set_flags(prog, bpf_program__flags(prog) & ~BPF_F_XDP_HAS_FRAGS);
	rc = bpf_object__load(p->obj);
	if (rc < 0)
		return rc;
	p->prog_fd = bpf_program__fd(prog);

	memset(&sc, 0, sizeof(sc));
	sc.addr = cfg->addr;
	sc.queue = cfg->queue;
	sc.port = cfg->port;
	sc.lport_lo = cfg->lport_lo;
	sc.lport_hi = cfg->lport_hi;
	/* Both maps are filled before the program sees a frame. */
	if (bpf_map_update_elem(bpf_map__fd(cfg_map), &key, &sc, BPF_ANY) < 0)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(xsks), &p->queue, &xsk_fd, BPF_ANY) < 0)
		return -errno;

	/* A BPF link, not a netlink attach: the program leaves the interface
	 * when the link's last fd closes, so a node that crashes or is killed
	 * never leaves it steering frames to a socket that is gone (and its
	 * restart does not find the interface busy). A link never replaces a
	 * program attached since zs_xdp_free() looked (-EBUSY). A driver
	 * without native XDP is expected and handled below: libbpf's print of
	 * the kernel's message about it is silenced meanwhile. */
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
	/* veth's native XDP turns its peer's GSO off and queues every frame
	 * through a ring of its own, which halves the kernel's own TCP on the
	 * interface; in generic mode, with multi-buffer, both the kernel and
	 * the Z-stack get the peer's segments whole (measured on veth, 64 KiB
	 * echoes: the kernel's 2x the requests/s at half the CPU, the Z-stack's
	 * +30% at -25% CPU; 64 B: the same). */
	int native = cfg->xdp_mode == ZS_XDP_NATIVE ||
		     (cfg->xdp_mode == ZS_XDP_AUTO && !(p->veth && p->st.multi_buffer));
	if (native) {
		old_print = libbpf_set_print(NULL);
		rc = bpf_link_create(p->prog_fd, p->ifindex, BPF_XDP, &lo);
		libbpf_set_print(old_print);
		if (rc >= 0) {
			p->link_fd = rc;
			p->xdp_mode = XDP_FLAGS_DRV_MODE;
			return 0;
		}
		rc = -errno;
		if (rc == -EBUSY || rc == -EEXIST)
			return -EBUSY;
		if (rc == -EPERM)
			return rc;
		if (cfg->xdp_mode == ZS_XDP_NATIVE)
			return -EOPNOTSUPP;
	}
	lo.flags = XDP_FLAGS_SKB_MODE;
	rc = bpf_link_create(p->prog_fd, p->ifindex, BPF_XDP, &lo);
	if (rc >= 0) {
		p->link_fd = rc;
		p->xdp_mode = XDP_FLAGS_SKB_MODE;
		return 0;
	}
	rc = -errno;
	return rc == -EEXIST ? -EBUSY : rc;
}

int zs_port_open(const struct zs_port_config *cfg, struct zs_port **out)
{
	uint32_t frames = cfg->frames ? cfg->frames : ZS_DEFAULT_FRAMES;
	struct zs_port *p;
	uint64_t give_up;
	int rc;

	*out = NULL;
	if (!cfg->ifname || strlen(cfg->ifname) >= IFNAMSIZ || frames < 4 || frames > ZS_MAX_FRAMES ||
	    cfg->tx_csum > ZS_CSUM_KERNEL_SOFTWARE)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->prog_fd = -1;
	p->link_fd = -1;
	p->umem.fd = -1;
	p->queue = cfg->queue;
	/* A quarter for TX: a TX frame is only held from zs_port_tx() until the
	 * kick sends it, while RX frames may be held by the stack for a while. */
	p->ntx = frames / 4;
	p->nrx = frames - p->ntx;
	p->tx_free = calloc(p->ntx, sizeof(*p->tx_free));
	p->rx_held = calloc(p->nrx, 1);
	if (!p->tx_free || !p->rx_held) {
		rc = -ENOMEM;
		goto fail;
	}
	p->ifindex = (int)if_nametoindex(cfg->ifname);
	if (!p->ifindex) {
		rc = errno == ENODEV || errno == ENXIO ? -ENODEV : -errno;
		goto fail;
	}
	rc = zs_link_info(p, cfg->ifname);
	if (rc < 0)
		goto fail;
	rc = zs_xdp_free(p->ifindex);
	if (rc < 0)
		goto fail;
	/* A port closed just before (here or in another process) keeps its
	 * queue until the kernel's deferred release of its UMEM runs, an RCU
	 * grace period and a work item later (a few ms): bind says -EBUSY
	 * meanwhile. No XDP program is attached (zs_xdp_free), so a live
	 * owner of the queue is unlikely; it gets -EBUSY after the wait. */
	give_up = sure_now_ns() + 2000000000ull;
	while ((rc = zs_xsk_setup(p, frames, cfg->tx_csum)) == -EBUSY && sure_now_ns() < give_up) {
		zs_xsk_teardown(p);
		usleep(5000);
	}
	if (rc < 0)
		goto fail;
	rc = zs_bpf_setup(p, cfg);
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	zs_port_close(p);
	return rc == -EACCES ? -EPERM : rc;
}

void zs_port_close(struct zs_port *p)
{
	if (!p)
		return;
	if (p->link_fd >= 0)
		close(p->link_fd); /* detaches the program, from any namespace */
	bpf_object__close(p->obj);
	zs_xsk_teardown(p);
	free(p->tx_free);
	free(p->rx_held);
	free(p);
}

int zs_port_fd(const struct zs_port *p)
{
	return p->fd;
}

const uint8_t *zs_port_mac(const struct zs_port *p)
{
	return p->mac;
}

uint32_t zs_port_mtu(const struct zs_port *p)
{
	return p->mtu;
}

/* Takes the descriptors [h, e] of one packet: the frames that are ours
 * become held and go to fn, unless one of them is not sane, when those that
 * are ours go straight back. */
static void zs_rx_packet(struct zs_port *p, uint32_t h, uint32_t e, zs_rx_fn fn, void *arg)
{
	const struct xdp_desc *d = p->rx.desc;
	struct zs_frag f[ZS_MAX_FRAGS];
	unsigned n = 0, bad = 0;

	for (;; h++) {
		struct xdp_desc desc = d[h & p->rx.mask];
		/* Aligned chunks: the address points at the data, past the headroom;
		 * the frame's own address is its chunk's start. */
		uint64_t i = desc.addr / ZS_FRAME_SIZE, handle = i * ZS_FRAME_SIZE;

		/* Never from a sane kernel: a frame that is not an RX frame, that we
		 * hold already, or whose bytes leave it is not touched at all. */
		if (i >= p->nrx || p->rx_held[i] || desc.addr - handle + desc.len > ZS_FRAME_SIZE) {
			bad = 1;
		} else {
			p->rx_held[i] = 1;
			if (n < ZS_MAX_FRAGS) {
				f[n++] = (struct zs_frag){ p->umem.map + desc.addr, desc.len, handle };
			} else {
				bad = 1;
				zs_port_release(p, handle);
			}
		}
		if (h == e)
			break;
	}
	if (bad || n == 0) {
		for (unsigned k = 0; k < n; k++)
			zs_port_release(p, f[k].handle);
		p->st.rx_invalid++;
		return;
	}
	p->st.rx_frames += n;
	for (unsigned k = 0; k < n; k++)
		p->st.rx_bytes += f[k].len;
	p->st.rx_chained += n > 1;
	fn(arg, f, n);
}

unsigned zs_port_rx(struct zs_port *p, unsigned budget, zs_rx_fn fn, void *arg)
{
	/* Acquire: the descriptors are read only after the index that covers them. */
	uint32_t prod = sure_load(p->rx.prod), h = p->rx.head, pkts = 0;
	const struct xdp_desc *d = p->rx.desc;

	while (pkts < budget && h != prod) {
		uint32_t e = h;
		/* The kernel publishes whole packets; a last frame that is not
		 * there yet leaves the packet for the next call. */
		while (e != prod && (d[e & p->rx.mask].options & XDP_PKT_CONTD))
			e++;
		if (e == prod)
			break;
		zs_rx_packet(p, h, e, fn, arg);
		h = e + 1;
		pkts++;
	}
	p->rx.head = h;
	/* Release: the entries are read before the kernel may write them again. */
	sure_store(p->rx.cons, p->rx.head);
	return pkts;
}

void zs_port_release(struct zs_port *p, uint64_t handle)
{
	uint64_t i = handle / ZS_FRAME_SIZE;

	/* A stray or repeated handle must not put a frame on the fill ring twice
	 * (the kernel would fill it while the stack still reads it). */
	if (handle % ZS_FRAME_SIZE || i >= p->nrx || !p->rx_held[i])
		return;
	p->rx_held[i] = 0;
	zs_fill_put(p, handle);
}

/* The Internet checksum of len bytes (RFC 1071), not complemented, added
 * to sum; words as they lie in memory, so the result is stored the same way. */
static uint32_t zs_sum(const uint8_t *b, size_t len, uint64_t sum)
{
	for (; len >= 8; b += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		sum += w;
		sum += sum < w; /* the carry out, added back in */
	}
	sum = (sum & 0xffffffffu) + (sum >> 32); /* room for the few words left */
	for (; len >= 2; b += 2, len -= 2) {
		uint16_t w;
		memcpy(&w, b, 2);
		sum += w;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, b, 1); /* the odd byte, padded with a zero after it */
		sum += w;
	}
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint32_t)((sum & 0xffffu) + (sum >> 16));
}

int zs_port_tx(struct zs_port *p, const struct iovec *iov, unsigned n,
	       const struct zs_tx_csum *csum)
{
	struct xdp_desc *d;
	size_t len = 0;
	uint64_t addr;
	uint8_t *frame, *dst;

	for (unsigned k = 0; k < n; k++) {
		if (iov[k].iov_len > ZS_TX_MAX - len)
			return -EMSGSIZE;
		len += iov[k].iov_len;
	}
	if (len == 0)
		return -EMSGSIZE; /* the kernel would drop an empty descriptor as invalid */
	if (csum && (size_t)csum->start + csum->offset + 2 > len)
		return -EMSGSIZE;
	if (!p->tx_nfree)
		zs_reap(p);
	if (!p->tx_nfree) {
		p->st.tx_busy++;
		return -EAGAIN;
	}
	addr = p->tx_free[--p->tx_nfree] + ZS_TX_META_ROOM;
	frame = dst = p->umem.map + addr;
	for (unsigned k = 0; k < n; k++) {
		memcpy(dst, iov[k].iov_base, iov[k].iov_len);
		dst += iov[k].iov_len;
	}
	/* The TX ring holds ntx entries, so a free frame always has a slot. */
	d = &((struct xdp_desc *)p->tx.desc)[p->tx.head & p->tx.mask];
	d->addr = addr;
	d->len = (uint32_t)len;
	d->options = 0;
	if (csum) {
		uint8_t *field = frame + csum->start + csum->offset;
		memcpy(field, &csum->seed, 2);
		if (p->tx_meta) {
			struct zs_tx_meta m = { .flags = XDP_TXMD_FLAGS_CHECKSUM,
						.csum_start = csum->start,
						.csum_offset = csum->offset };
			memcpy(frame - ZS_TX_META_ROOM, &m, sizeof(m));
			d->options = XDP_TX_METADATA;
			p->st.tx_csum_kernel++;
		} else {
			uint16_t sum = (uint16_t)~zs_sum(frame + csum->start, len - csum->start, 0);
			memcpy(field, &sum, 2);
			p->st.tx_csum_software++;
		}
	}
	p->tx.head++;
	/* Release: the frame's bytes and descriptor before the index. */
	sure_store(p->tx.prod, p->tx.head);
	p->st.tx_frames++;
	p->st.tx_bytes += len;
	p->st.tx_copied += len;
	return 0;
}

void zs_port_flush(struct zs_port *p)
{
	/* In copy mode the kernel sends from the TX ring only inside sendto,
	 * at most a batch per call (32 by default; -EAGAIN: more are left), so
	 * kick until it has taken everything. Bounded: a device that keeps
	 * refusing (ENOBUFS, ENETDOWN) gets its frames at the next flush. */
	unsigned tries = (p->tx.mask + 1) / 16 + 4;

	while (tries--) {
		if (sure_load(p->tx.cons) == p->tx.head)
			break;
		if (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			continue;
		if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR)
			break;
		zs_reap(p);
	}
	zs_reap(p);
}

void zs_port_stats(const struct zs_port *p, struct zs_port_stats *out)
{
	struct xdp_statistics xs;
	socklen_t len = sizeof(xs);

	*out = p->st;
	out->generic = p->xdp_mode == XDP_FLAGS_SKB_MODE;
	out->tx_metadata = p->tx_meta;
	memset(&xs, 0, sizeof(xs));
	if (getsockopt(p->fd, SOL_XDP, XDP_STATISTICS, &xs, &len) == 0)
		/* A frame dropped for want of a fill-ring frame counts in both
		 * rx_dropped and rx_fill_ring_empty_descs: only the first is a drop. */
		out->rx_dropped = xs.rx_dropped + xs.rx_ring_full;
}
