/*
 * tool_bare_echo.c - the floor under bench/http_instructions_bench.ts: the
 * least an HTTP/1.1 echo over kernel TCP must do, with none of what makes
 * libsure's server a server. One thread, level-triggered epoll, and per
 * request: recv, find the end of the head and a "Content-Length: " written
 * exactly so (no validation, no head block, no limits, no timeouts, no
 * pipelining beyond what one buffer holds), then writev a fixed status line,
 * the length and the body. Its instructions per request, counted next to
 * libsure's server on the same client, show what the server's own work adds.
 *
 *   tool_bare_echo PORT    (prints "ready"; runs until SIGTERM or SIGINT)
 *
 * Not named bench_*: scripts/bench.sh runs those with no arguments.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUF (64 * 1024)

struct client {
	int fd;
	size_t len;
	char buf[BUF];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* "HTTP/1.1 200 OK\r\ncontent-length: <len>\r\n\r\n" into line: its length. */
static size_t status_line(char *line, size_t len)
{
	static const char pre[] = "HTTP/1.1 200 OK\r\ncontent-length: ";
	char digits[20];
	size_t nd = 0, n = sizeof(pre) - 1;

	memcpy(line, pre, n);
	do
		digits[nd++] = (char)('0' + len % 10);
	while ((len /= 10) != 0);
	while (nd)
		line[n++] = digits[--nd];
	memcpy(line + n, "\r\n\r\n", 4);
	return n + 4;
}

/* Answers every whole request in c->buf; -1 when the client must go. */
static int serve(struct client *c)
{
	size_t at = 0;

	for (;;) {
		char *end = memmem(c->buf + at, c->len - at, "\r\n\r\n", 4);
		if (!end)
			break;
		size_t head = (size_t)(end - (c->buf + at)) + 4, body = 0;
		char *cl = memmem(c->buf + at, head, "Content-Length: ", 16);
		if (cl)
			body = strtoul(cl + 16, NULL, 10);
		if (body > BUF / 2)
			return -1;
		if (c->len - at < head + body)
			break;
		char line[64];
		size_t n = status_line(line, body);
		struct iovec iov[2] = { { line, n }, { c->buf + at + head, body } };
		if (writev(c->fd, iov, 2) != (ssize_t)(n + body))
			return -1; /* a floor: a full socket is not its concern */
		at += head + body;
	}
	memmove(c->buf, c->buf + at, c->len - at);
	c->len -= at;
	return c->len == BUF ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	int one = 1, lfd, ep;

	if (argc != 2) {
		fprintf(stderr, "usage: tool_bare_echo PORT\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 512) < 0) {
		perror("tool_bare_echo: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0 || !(c = malloc(sizeof(*c)))) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c->fd = fd;
				c->len = 0;
				ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			ssize_t got = recv(c->fd, c->buf + c->len, BUF - c->len, 0);
			if (got > 0) {
				c->len += (size_t)got;
				if (serve(c) == 0)
					continue;
			} else if (got < 0 && errno == EINTR) {
				continue;
			}
			close(c->fd); /* also leaves the epoll set */
			free(c);
		}
	}
	return 0;
}
