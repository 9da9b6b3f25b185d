/*
 * dp_zstack.c - the data plane's af_xdp backend: the Z-stack (zstack.h)
 * opened from the public config and handed to the HTTP server, which runs
 * it on the data-plane thread; and its counters for sure_dataplane_stats.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "dp_internal.h"
#include "zstack.h"

int sure_dp_zstack_open(struct sure_dataplane *dp, const struct sure_dataplane_config *cfg,
			struct sure_http_server_config *sc)
{
	struct zstack_config zc = { 0 };
	struct in_addr a;
	uint32_t prefix = cfg->prefix ? cfg->prefix : 24;
	int rc;

	if (!memchr(cfg->iface, 0, sizeof(cfg->iface)) || !cfg->iface[0] ||
	    !memchr(cfg->gateway, 0, sizeof(cfg->gateway)) || !memchr(cfg->addr, 0, sizeof(cfg->addr)) ||
	    prefix > 32 || cfg->port == 0 || inet_pton(AF_INET, cfg->addr, &a) != 1 || a.s_addr == 0)
		return -EINVAL;
	zc.ifname = cfg->iface;
	zc.queue = cfg->queue;
	zc.addr = a.s_addr;
	zc.netmask = htonl(prefix ? ~0u << (32 - prefix) : 0);
	if (cfg->gateway[0]) {
		if (inet_pton(AF_INET, cfg->gateway, &a) != 1)
			return -EINVAL;
		zc.gateway = a.s_addr;
	}
	zc.listen_port = (uint16_t)cfg->port;
	zc.frames = cfg->frames;
	rc = zstack_open(&zc, &dp->zs);
	if (rc < 0)
		return rc;
	sc->zs = dp->zs;
	return 0;
}

void sure_dp_zstack_stats(struct sure_dataplane *dp, struct sure_dataplane_stats *out)
{
	struct zstack_stats z;

	if (!dp->zs)
		return;
	/* Read from another thread than the stack's: each counter is one
	 * aligned word that only grows, so a read is at worst a little old. */
	zstack_stats(dp->zs, &z);
	out->zs_rx_frames = z.rx_frames;
	out->zs_tx_frames = z.tx_frames;
	out->zs_rx_bytes = z.rx_bytes;
	out->zs_tx_bytes = z.tx_bytes;
	out->zs_rx_dropped = z.rx_dropped;
	out->zs_copied_in = z.copied_in;
	out->zs_copied_out = z.copied_out;
	out->zs_copied_wire = z.copied_wire;
	out->zs_retransmits = z.retransmits;
	out->zs_retransmit_timeouts = z.retransmit_timeouts;
	out->zs_resets = z.resets;
	out->zs_drops = z.drops;
	out->zs_conns_open = z.conns_open;
	out->zs_conns_total = z.conns_total;
	out->zs_xdp_generic = z.xdp_generic;
	out->zs_multi_buffer = z.multi_buffer;
	out->zs_rx_chained = z.rx_chained;
	out->zs_tx_csum_kernel = z.tx_csum_kernel;
	out->zs_tx_csum_stack = z.tx_csum_software;
	out->zs_tx_metadata = z.tx_metadata;
}

void sure_dp_zstack_close(struct sure_dataplane *dp)
{
	zstack_close(dp->zs);
	dp->zs = NULL;
}
