/*
 * tool_http_echo.c - libsure's HTTP server (src/http_server.c) serving a
 * trivial echo, for bench/http_server_bench.ts: the server's own cost per
 * request with no VM, no dispatcher and no upstream.
 *
 *   tool_http_echo PORT [HOST [IFACE ADDR [native|generic]]]
 *
 * Listens on HOST:PORT (default 127.0.0.1; 0: any free port) and, given
 * IFACE and ADDR, on ADDR:PORT too through the Z-stack on an AF_XDP socket of
 * IFACE (bench/zstack_bench.ts; root), its XDP program in the mode asked
 * for (default: the port's own choice, zs_port.h). Every /invoke/<name> request
 * (any name, body up to 1 MiB, in the server's own buffer) is answered at once
 * with 200 and its body; any other path would be tunnelled, and with no
 * upstream it gets 502. SURE_HTTP_IO=epoll (the default) or io_uring in the
 * environment picks how kernel sockets are read, for A/B runs. Prints "ready" (and the port on stderr) once
 * listening, runs until SIGTERM or SIGINT, then drains the server gracefully
 * and prints its counters on stderr.
 *
 * Not named bench_*: scripts/bench.sh runs every build/tests/bench_* with no
 * arguments, and this one only serves until told to stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "http_server.h"
#include "zs_port.h"
#include "zstack.h"

#define ECHO_MAX_BODY (1u << 20)

static int take(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		uint64_t *max_body, uint32_t *route, uint8_t **body, uint64_t *body_cap)
{
	(void)ctx;
	(void)req;
	(void)head;
	(void)route;
	(void)body; /* left NULL: the body lands in the server's own buffer */
	(void)body_cap;
	*max_body = ECHO_MAX_BODY;
	return 1;
}

static void run(void *ctx, struct sure_http_exchange *ex)
{
	(void)ctx;
	if (sure_http_answer(ex, 200, NULL, ex->body, ex->body_len) < 0)
		fprintf(stderr, "tool_http_echo: answer refused\n");
}

static void cancel(void *ctx, struct sure_http_exchange *ex)
{
	(void)ctx;
	(void)ex; /* nothing of ours to forget: every run() answers at once */
}

static const struct sure_http_ops OPS = { .take = take, .run = run, .cancel = cancel };

int main(int argc, char **argv)
{
	struct sure_http_server_config cfg = { 0 };
	struct sure_http_server_stats st;
	struct sure_http_server *srv = NULL;
	struct zstack *zs = NULL;
	const char *host = argc > 2 ? argv[2] : "127.0.0.1";
	sigset_t sigs;
	char *end;
	unsigned long port;
	int rc, sig;

	if (argc != 2 && argc != 3 && argc != 5 &&
	    !(argc == 6 && (!strcmp(argv[5], "native") || !strcmp(argv[5], "generic")))) {
		fprintf(stderr, "usage: %s PORT [HOST [IFACE ADDR [native|generic]]]\n", argv[0]);
		return 2;
	}
	errno = 0;
	port = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || port > 65535) {
		fprintf(stderr, "tool_http_echo: bad port '%s'\n", argv[1]);
		return 2;
	}
	/* Blocked before the server's thread starts, so that it inherits the mask
	 * and the signals are only ever taken by sigwait() below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL)) {
		fprintf(stderr, "tool_http_echo: cannot block signals\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	if (argc >= 5) {
		struct zstack_config zc = { .ifname = argv[3], .listen_port = (uint16_t)port,
					    .xdp_mode = argc < 6		      ? ZS_XDP_AUTO
							: !strcmp(argv[5], "native") ? ZS_XDP_NATIVE
										     : ZS_XDP_GENERIC };
		if (inet_pton(AF_INET, argv[4], &zc.addr) != 1 || port == 0) {
			fprintf(stderr, "tool_http_echo: bad address '%s' or port 0\n", argv[4]);
			return 2;
		}
		rc = zstack_open(&zc, &zs);
		if (rc < 0) {
			fprintf(stderr, "tool_http_echo: no Z-stack on %s: %s\n", argv[3], strerror(-rc));
			return 1;
		}
		cfg.zs = zs;
	}
	cfg.host = host;
	cfg.port = (uint16_t)port;
	cfg.upstream = NULL; /* other paths: 502 */
	cfg.max_body = ECHO_MAX_BODY;
	cfg.ops = &OPS;
	const char *io = getenv("SURE_HTTP_IO");
	if (io && strcmp(io, "epoll") && strcmp(io, "io_uring")) {
		fprintf(stderr, "tool_http_echo: SURE_HTTP_IO must be epoll or io_uring, not '%s'\n", io);
		return 1;
	}
	cfg.io = io && !strcmp(io, "io_uring") ? SURE_HTTP_IO_URING : SURE_HTTP_IO_EPOLL;
	rc = sure_http_server_start(&cfg, &srv);
	if (rc < 0) {
		fprintf(stderr, "tool_http_echo: cannot start on %s:%lu: %s\n", host, port,
			strerror(-rc));
		return 1;
	}
	sure_http_server_stats(srv, &st);
	fprintf(stderr, "tool_http_echo: listening on %s:%u (%s)%s%s\n", host,
		(unsigned)sure_http_server_port(srv), st.io_uring ? "io_uring" : "epoll",
		zs ? " and on the Z-stack at " : "", zs ? argv[4] : "");
	printf("ready\n");
	fflush(stdout);

	do
		rc = sigwait(&sigs, &sig);
	while (rc == EINTR);

	sure_http_server_stats(srv, &st);
	sure_http_server_stop(srv, 1000);
	if (zs) {
		struct zstack_stats z;
		zstack_stats(zs, &z);
		fprintf(stderr,
			"tool_http_echo: Z-stack: %" PRIu64 " frames in, %" PRIu64 " out, %" PRIu64
			" fast retransmits, %" PRIu64 " retransmission timeouts, %" PRIu64
			" dropped by the kernel, %" PRIu64 " by the stack\n",
			z.rx_frames, z.tx_frames, z.retransmits, z.retransmit_timeouts, z.rx_dropped,
			z.drops);
		zstack_close(zs);
	}
	fprintf(stderr,
		"tool_http_echo: %s: %" PRIu64 " requests, %" PRIu64 " connections, %" PRIu64
		" parse errors, %" PRIu64 " timeouts, %" PRIu64 " body bytes copied in, %" PRIu64
		" answer bytes copied\n",
		rc ? "stopping" : strsignal(sig), st.requests, st.conns_accepted, st.parse_errors,
		st.timeouts, st.copied_in, st.copied_out);
	return 0;
}
