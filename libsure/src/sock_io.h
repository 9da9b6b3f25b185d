/*
 * sock_io.h - internal: a non-blocking TCP socket that is either the
 * kernel's (fd) or the Z-stack's (zs, then fd is -1), read and written with
 * the kernel's conventions (a count, or -1 and errno), so that the HTTP
 * server's connections and chain hops are written once for both backends.
 */
#ifndef SURE_SOCK_IO_H
#define SURE_SOCK_IO_H

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zstack.h"

static inline ssize_t sock_recv(struct zs_sock *zs, int fd, void *buf, size_t len)
{
	if (zs) {
		ssize_t n = zs_recv(zs, buf, len);
		if (n < 0) {
			errno = (int)-n;
			return -1;
		}
		return n;
	}
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static inline ssize_t sock_sendv(struct zs_sock *zs, int fd, struct iovec *iov, unsigned n)
{
	if (zs) {
		ssize_t w = zs_sendv(zs, iov, n);
		if (w < 0) {
			errno = (int)-w;
			return -1;
		}
		return w;
	}
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = n };
	return sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Closes it (the Z-stack's: no more events; the kernel's: it leaves any
 * epoll set too). */
static inline void sock_close(struct zs_sock *zs, int fd)
{
	if (zs)
		zs_close(zs);
	else if (fd >= 0)
		close(fd);
}

/* The events of a Z-stack socket kept idle: nobody looks until it is
 * taken, and then sock_idle_usable() tells its state. */
static inline void sock_idle_event(void *arg, unsigned ev)
{
	(void)arg;
	(void)ev;
}

/* Whether a connection kept idle can carry another request: open, and
 * nothing from the peer (no FIN, nothing nobody asked for). */
static inline int sock_idle_usable(const struct zs_sock *zs, int fd)
{
	uint8_t b;

	if (zs)
		return zs_sock_reusable(zs);
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

#endif
