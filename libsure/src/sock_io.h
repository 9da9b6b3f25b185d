/*
 * sock_io.h - internal: a non-blocking TCP socket that is either the
 * kernel's (fd) or the Z-stack's (zs, then fd is -1), read and written with
 * the kernel's conventions (a count, or -1 and errno), so that the HTTP
 * server's connections and chain hops are written once for both backends.
 */
#ifndef SURE_SOCK_IO_H
#define SURE_SOCK_IO_H

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

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

#endif
