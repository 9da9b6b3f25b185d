/*
 * dp_hop_idle.c - connections to other nodes kept open after a hop's answer,
 * for the next hop there (dp_hop.h): newest last in dp->hop_idle, up to
 * DP_HOP_IDLE_MAX.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dp_hop.h"
#include "sock_io.h"
#include "util.h"
#include "zstack.h"

/* Idle connections are kept 15 s, a quarter of the peer's idle timeout (60 s
 * by default), so that the peer seldom closes one as it is taken (one it has
 * closed is seen at take, or the hop is sent again on a fresh one). */
#define HOP_IDLE_NS 15000000000ull

static void idle_drop(struct sure_dataplane *dp, uint32_t k)
{
	sock_close(dp->hop_idle[k].zs, dp->hop_idle[k].fd);
	memmove(&dp->hop_idle[k], &dp->hop_idle[k + 1],
		(dp->nhop_idle - k - 1) * sizeof(dp->hop_idle[0]));
	dp->nhop_idle--;
}


/* The newest idle connection to peer that is still usable (others to it go). */
int sure_dp_hop_idle_take(struct sure_dataplane *dp, const struct sockaddr_in *peer,
			  struct dp_hop_idle *out)
{
	for (uint32_t k = dp->nhop_idle; k-- > 0;) {
		struct dp_hop_idle *c = &dp->hop_idle[k];
		if (c->peer.sin_addr.s_addr != peer->sin_addr.s_addr ||
		    c->peer.sin_port != peer->sin_port)
			continue;
		if (!sock_idle_usable(c->zs, c->fd)) {
			idle_drop(dp, k);
			continue;
		}
		*out = *c;
		memmove(&dp->hop_idle[k], &dp->hop_idle[k + 1],
			(dp->nhop_idle - k - 1) * sizeof(dp->hop_idle[0]));
		dp->nhop_idle--;
		return 1;
	}
	return 0;
}

/* A hop answered in full on a connection the peer keeps: kept for the next. */
void sure_dp_hop_idle_keep(struct sure_dataplane *dp, struct dp_hop *h)
{
	struct dp_hop_idle c = { .fd = h->fd, .zs = h->zs, .peer = h->dc->peer[h->to],
				 .since_ns = sure_now_ns() };

	if (h->zs)
		zs_sock_bind(h->zs, sock_idle_event, NULL);
	else
		epoll_ctl(dp->hop_ep, EPOLL_CTL_DEL, h->fd, NULL);
	h->fd = -1;
	h->zs = NULL;
	if (dp->nhop_idle == DP_HOP_IDLE_MAX)
		idle_drop(dp, 0); /* the oldest */
	dp->hop_idle[dp->nhop_idle++] = c;
}

void sure_dp_hop_idle_expire(struct sure_dataplane *dp, uint64_t now_ns)
{
	while (dp->nhop_idle && sure_elapsed_ns(now_ns, dp->hop_idle[0].since_ns) >= HOP_IDLE_NS)
		idle_drop(dp, 0);
}

void sure_dp_hop_idle_free(struct sure_dataplane *dp)
{
	while (dp->nhop_idle)
		idle_drop(dp, dp->nhop_idle - 1);
}
