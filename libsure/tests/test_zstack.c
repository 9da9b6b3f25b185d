/*
 * test_zstack.c - the Z-stack (src/zstack.c, zs_sock.c, on zs_port.c) under
 * libsure's HTTP server, for real: this test moves into a network namespace
 * of its own, joins it by a veth pair to a client namespace, and serves an
 * echo route on the stack's address (10.77.0.2, an address the kernel does
 * not have) and on kernel TCP (10.77.0.1) from one server. Clients in the
 * other namespace use the kernel's TCP: ARP, ICMP echo, handshakes, bodies
 * of a MiB both ways, pipelining, resets, and loss recovery (every Nth frame
 * dropped both ways: our retransmissions and the peer's, out-of-order
 * segments). Needs root; says SKIP without it or without AF_XDP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http_server.h"
#include "zs_port.h"
#include "zstack.h"

#define PORT 8080
#define BIG (1u << 20)

static char ns_name[32];
static int ns_client = -1, ns_self = -1;

/* ---- the owner: /invoke/echo answers the body back ---- */

static atomic_int n_cancel;
static uint8_t echo_out[BIG + 16];

static int take(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		uint64_t *max_body, uint32_t *route, uint8_t **body, uint64_t *body_cap)
{
	(void)ctx;
	(void)head;
	(void)body;
	(void)body_cap;
	if (strcmp(req->name, "echo"))
		return 0;
	*max_body = BIG;
	*route = 1;
	return 1;
}

static void run(void *ctx, struct sure_http_exchange *ex)
{
	(void)ctx;
	memcpy(echo_out, ex->body, ex->body_len);
	sure_http_answer(ex, 200, NULL, echo_out, ex->body_len);
}

static void cancel(void *ctx, struct sure_http_exchange *ex)
{
	(void)ctx;
	(void)ex;
	n_cancel++;
}

/* Another node, a kernel socket in the client namespace (test_forward):
 * /invoke/fw goes to it from the stack (as to a chain's peer), /invoke/fwk
 * from kernel TCP (as to a fleet member), /invoke/fwref to a port nobody
 * has. */
#define NODE_IP "10.77.0.10"
#define NODE_PORT 9090

static int forward(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		   struct sure_http_forward *fw)
{
	int ref = !strcmp(req->name, "fwref"), kernel = !strcmp(req->name, "fwk");

	(void)ctx;
	(void)head;
	if (strcmp(req->name, "fw") && !ref && !kernel)
		return 0;
	memset(fw, 0, sizeof(*fw));
	fw->addr.sin_family = AF_INET;
	fw->addr.sin_port = htons(ref ? NODE_PORT + 1 : NODE_PORT);
	inet_pton(AF_INET, NODE_IP, &fw->addr.sin_addr);
	snprintf(fw->node, sizeof(fw->node), "b");
	snprintf(fw->name, sizeof(fw->name), "%s", req->name);
	fw->timeout_ms = 10000;
	snprintf(fw->mark, sizeof(fw->mark), "x-sure-forwarded-by: a\r\n");
	fw->zstack = (uint8_t)!kernel;
	return 1;
}

static const struct sure_http_ops OPS = { .take = take, .run = run, .cancel = cancel,
					  .forward = forward };

/* ---- the client side: kernel sockets made in the client namespace ---- */

static int client_socket(void)
{
	int fd;

	if (setns(ns_client, CLONE_NEWNET) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (setns(ns_self, CLONE_NEWNET) < 0)
		abort();
	return fd;
}

static int dial(const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = client_socket();

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static char answer_head[4096]; /* the last answer's head, read_answer() */

/* Reads one answer: its status and body (into body, at most cap). -1 on error. */
static int read_answer(int fd, uint8_t *body, size_t cap, size_t *blen)
{
	static char buf[BIG + 4096];
	static size_t have; /* bytes of the next answer already read (pipelining) */
	size_t len = have, hl, cl;
	char *end, *p;
	int status;

	for (;;) {
		buf[len] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	hl = (size_t)(end + 4 - buf);
	snprintf(answer_head, sizeof(answer_head), "%.*s", (int)hl, buf);
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	p = strcasestr(buf, "content-length:");
	if (!p || p > end)
		return -1;
	cl = strtoul(p + 15, NULL, 10);
	while (len < hl + cl) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	if (cl > cap)
		return -1;
	memcpy(body, buf + hl, cl);
	*blen = cl;
	have = len - hl - cl;
	memmove(buf, buf + hl + cl, have);
	return status;
}

static int echo_once(int fd, const uint8_t *body, size_t n)
{
	static uint8_t got[BIG];
	char head[160];
	size_t glen = 0;
	int hlen = snprintf(head, sizeof(head),
			    "POST /invoke/echo HTTP/1.1\r\nHost: z\r\nContent-Length: %zu\r\n\r\n", n);

	if (send_all(fd, head, (size_t)hlen) < 0 || send_all(fd, body, n) < 0) {
		fprintf(stderr, "# echo: sending failed: %s\n", strerror(errno));
		return -1;
	}
	int status = read_answer(fd, got, sizeof(got), &glen);
	if (status != 200 || glen != n || memcmp(got, body, n)) {
		fprintf(stderr, "# echo: answer %d, %zu of %zu bytes (%s)\n", status, glen, n,
			status < 0 ? strerror(errno) : "received");
		return -1;
	}
	return 0;
}

/* ---- the namespaces ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void cleanup(void)
{
	if (ns_name[0])
		sh("ip netns del %s 2>/dev/null", ns_name);
}

static int setup(void)
{
	char path[64];

	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	snprintf(ns_name, sizeof(ns_name), "zsc%d", (int)getpid());
	atexit(cleanup);
	if (sh("ip link set lo up && ip link add zs0 type veth peer name zs1 && "
	       "ip netns add %s && ip link set zs1 netns %s && "
	       "ip addr add 10.77.0.1/24 dev zs0 && ip link set zs0 up && "
	       "ip netns exec %s sh -c 'ip link set lo up && ip addr add 10.77.0.10/24 dev zs1 && "
	       "ip link set zs1 up'",
	       ns_name, ns_name, ns_name))
		return -1;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns_name);
	ns_client = open(path, O_RDONLY | O_CLOEXEC);
	ns_self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return ns_client >= 0 && ns_self >= 0 ? 0 : -1;
}

/* Who finishes TCP checksums in the stacks started next (zs_port.h). */
static uint8_t csum_mode = ZS_CSUM_AUTO;

static int start_full(uint32_t drop_every, uint8_t mode, uint8_t hold, struct zstack **zs,
		      struct sure_http_server **srv)
{
	struct zstack_config zc = { .ifname = "zs0", .listen_port = PORT, .drop_every = drop_every,
				    .xdp_mode = mode, .tx_csum = csum_mode };
	struct sure_http_server_config sc = { .host = "10.77.0.1", .port = PORT, .ops = &OPS,
					      .max_body = BIG, .hold_accept = hold };
	int rc;

	inet_pton(AF_INET, "10.77.0.2", &zc.addr);
	rc = zstack_open(&zc, zs);
	if (rc < 0)
		return rc;
	sc.zs = *zs;
	rc = sure_http_server_start(&sc, srv);
	if (rc < 0) {
		zstack_close(*zs);
		*zs = NULL;
	}
	return rc;
}

static void stop(struct zstack *zs, struct sure_http_server *srv);

/* Tests that start a server of their own run after the shared one stopped
 * (test_close_detaches); run alone (CHECK_ONLY), they stop it first. */
static int start_mode(uint32_t drop_every, uint8_t mode, struct zstack **zs,
		      struct sure_http_server **srv)
{
	if (*srv) {
		stop(*zs, *srv);
		*zs = NULL;
		*srv = NULL;
	}
	return start_full(drop_every, mode, 0, zs, srv);
}

static int start(uint32_t drop_every, struct zstack **zs, struct sure_http_server **srv)
{
	return start_mode(drop_every, ZS_XDP_AUTO, zs, srv);
}

static void stop(struct zstack *zs, struct sure_http_server *srv)
{
	sure_http_server_stop(srv, 0);
	zstack_close(zs);
}

static void wait_until(atomic_int *v, int want)
{
	for (int i = 0; i < 200 && atomic_load(v) < want; i++)
		usleep(10000);
}

static struct zstack *zs;
static struct sure_http_server *srv;
static int env_rc = 1; /* 0: ready; > 0: skip (why in env_why); < 0: failed */
static char env_why[160];
static uint8_t big[BIG];

/* Every test starts with this: the namespaces and a running server. */
#define NEED_ENV()                                                                  \
	do {                                                                        \
		if (env_rc > 0)                                                     \
			SKIP("%s", env_why);                                        \
		if (env_rc < 0 || !srv) {                                           \
			CHECK(!"the Z-stack and its server are running");           \
			return;                                                     \
		}                                                                   \
	} while (0)

static void test_arp_icmp(void)
{
	NEED_ENV();
	CHECK(sh("ip netns exec %s ping -c 2 -W 2 -q 10.77.0.2 >/dev/null", ns_name) == 0);
	CHECK(sh("ip netns exec %s ip neigh show 10.77.0.2 | grep -q lladdr", ns_name) == 0);
}

static void test_exchange(void)
{
	NEED_ENV();
	int fd = dial("10.77.0.2");
	CHECK(fd >= 0);
	CHECK(echo_once(fd, (const uint8_t *)"hello", 5) == 0);
	CHECK(echo_once(fd, (const uint8_t *)"again", 5) == 0);
	close(fd);
}

/* Until the peer has acknowledged everything sent on fd (TCP_INFO): the
 * ns it took, or -1 after 500 ms. */
static long long acked_after(int fd)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);
		clock_gettime(CLOCK_MONOTONIC, &t);
		long long ns = (t.tv_sec - t0.tv_sec) * 1000000000ll + (t.tv_nsec - t0.tv_nsec);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_unacked == 0)
			return ns;
		if (ns > 500000000ll)
			return -1;
		usleep(100);
	}
}

/* A full segment is acknowledged at once, even when it is the only one in
 * flight (lwIP's own rule acknowledges every second one, else after its
 * 50 ms timer): a sender with a small window, as after a loss, is not held
 * to a segment per 50 ms. Each of 8 lone segments must be acknowledged
 * within 10 ms (measured with lwIP's rule alone: ~50 ms each). */
static void test_quick_ack(void)
{
	enum { SEGS = 8, SEG = 1460 };
	static uint8_t seg[SEG];
	char head[160];
	int one = 1, slow = 0;

	NEED_ENV();
	int fd = dial("10.77.0.2");
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int hlen = snprintf(head, sizeof(head),
			    "POST /invoke/echo HTTP/1.1\r\nHost: z\r\nContent-Length: %d\r\n\r\n",
			    SEGS * SEG);
	CHECK(send_all(fd, head, (size_t)hlen) == 0);
	CHECK(acked_after(fd) >= 0); /* the head: small, so perhaps after the timer */
	memset(seg, 'q', sizeof(seg));
	for (int i = 0; i < SEGS; i++) {
		CHECK(send_all(fd, seg, SEG) == 0);
		long long ns = acked_after(fd);
		if (ns < 0 || ns > 10000000ll) {
			fprintf(stderr, "# segment %d acknowledged after %lld us\n", i, ns / 1000);
			slow++;
		}
	}
	CHECK_EQ(slow, 0);
	static uint8_t got[SEGS * SEG + 1];
	size_t glen = 0;
	CHECK_EQ(read_answer(fd, got, sizeof(got), &glen), 200);
	CHECK_EQ(glen, (size_t)SEGS * SEG);
	close(fd);
}

static void test_kernel_too(void)
{
	NEED_ENV();
	int fd = dial("10.77.0.1");
	CHECK(fd >= 0);
	CHECK(echo_once(fd, (const uint8_t *)"kernel", 6) == 0);
	close(fd);
}

static void test_pipelined(void)
{
	const char *two = "POST /invoke/echo HTTP/1.1\r\nHost: z\r\nContent-Length: 3\r\n\r\none"
			  "POST /invoke/echo HTTP/1.1\r\nHost: z\r\nContent-Length: 3\r\n\r\ntwo";
	uint8_t got[16];
	size_t n = 0;

	NEED_ENV();
	int fd = dial("10.77.0.2");
	CHECK(fd >= 0 && send_all(fd, two, strlen(two)) == 0);
	CHECK(read_answer(fd, got, sizeof(got), &n) == 200 && n == 3 && !memcmp(got, "one", 3));
	CHECK(read_answer(fd, got, sizeof(got), &n) == 200 && n == 3 && !memcmp(got, "two", 3));
	close(fd);
}

static void test_mib_each_way(void)
{
	struct zstack_stats st;

	NEED_ENV();
	int fd = dial("10.77.0.2");
	CHECK(fd >= 0);
	for (int i = 0; i < 3; i++)
		CHECK(echo_once(fd, big, BIG) == 0);
	close(fd);
	zstack_stats(zs, &st);
	fprintf(stderr, "# %s mode, multi-buffer %s: %llu packets in more than one frame\n",
		st.xdp_generic ? "generic" : "native", st.multi_buffer ? "on" : "off",
		(unsigned long long)st.rx_chained);
}

static void test_reset(void)
{
	struct linger lg = { 1, 0 };
	struct sure_http_server_stats ss;
	struct zstack_stats st = { 0 };

	NEED_ENV();
	int before = atomic_load(&n_cancel), fd = dial("10.77.0.2");
	CHECK(fd >= 0);
	const char *part = "POST /invoke/echo HTTP/1.1\r\nHost: z\r\nContent-Length: 100\r\n\r\nab";
	CHECK(send_all(fd, part, strlen(part)) == 0);
	usleep(100000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* RST */
	wait_until(&n_cancel, before + 1);
	CHECK(atomic_load(&n_cancel) == before + 1);
	for (int i = 0; i < 100; i++) {
		zstack_stats(zs, &st);
		if (st.conns_open == 0)
			break;
		usleep(10000);
	}
	CHECK_EQ(st.conns_open, 0);
	CHECK(st.resets >= 1);
	sure_http_server_stats(srv, &ss);
	CHECK_EQ(ss.conns_open, 0);
}

static void test_counters(void)
{
	struct zstack_stats st;

	NEED_ENV();
	zstack_stats(zs, &st);
	/* Frames of at most ZS_FRAME_SIZE (several to a packet a GSO send joined). */
	CHECK(st.rx_bytes > 3ull * BIG && st.rx_frames >= st.rx_bytes / ZS_FRAME_SIZE);
	CHECK(st.tx_frames > 3 * BIG / 1500);
	CHECK(st.copied_in >= 3ull * BIG); /* recv copies out of the frames */
	CHECK(st.copied_out >= 3ull * BIG); /* sends copy into segments */
	CHECK(st.copied_wire >= 3ull * BIG); /* and the port into TX frames */
	CHECK(st.conns_total >= 4); /* exchange, pipelined, MiB, reset */
	CHECK_EQ(st.mtu, 1500);
}

static void test_close_detaches(void)
{
	NEED_ENV();
	stop(zs, srv);
	zs = NULL;
	srv = NULL;
	CHECK(sh("ip link show zs0 | grep -q xdp") != 0);
}

/* A node killed with the stack open leaves nothing attached: the next one
 * opens on the same interface. */
static void test_kill_detaches(void)
{
	int ready[2];
	char c;

	if (env_rc > 0)
		SKIP("%s", env_why);
	CHECK(pipe(ready) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct zstack *z;
		struct zstack_config zc = { .ifname = "zs0", .listen_port = PORT };
		inet_pton(AF_INET, "10.77.0.2", &zc.addr);
		if (zstack_open(&zc, &z) == 0 && write(ready[1], "y", 1) == 1)
			pause();
		_exit(1);
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	CHECK(sh("ip link show zs0 | grep -q xdp") == 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(sh("ip link show zs0 | grep -q xdp") != 0);
}

/* A stack and server of their own (every drop_every-th frame lost, the
 * program in mode), a MiB echoed twice on one connection, its counters in
 * *st, and both stopped. -1 (after a failed check) if it could not start. */
/* The stack's state, written once from its thread when a test asks. */
static atomic_int described;

static void describe_tick(void *arg, uint64_t now_ns)
{
	(void)now_ns;
	if (atomic_load(&described))
		return;
	zstack_describe(arg, stderr);
	atomic_store(&described, 1);
}

static int two_mib(uint32_t drop_every, uint8_t mode, struct zstack_stats *st)
{
	int rc = start_mode(drop_every, mode, &zs, &srv);
	CHECK_EQ(rc, 0);
	if (rc < 0)
		return -1;
	/* Without multi-buffer a socket drops every packet longer than a frame.
	 * From a NIC none comes in generic mode (the kernel skips GRO on an
	 * interface with a generic program); over veth the peer's GSO hands
	 * whole sends of up to 64 KiB across, which TCP would only get through
	 * by retransmission timeouts (2 MiB took 19-30 s under emulation): the
	 * peer sends wire-sized packets, as a NIC would. Auto mode picks native
	 * there, which turns the peer's GSO off itself. */
	zstack_stats(zs, st);
	int wire = mode == ZS_XDP_GENERIC && !st->multi_buffer;
	if (wire)
		CHECK_EQ(sh("ip netns exec %s ip link set zs1 gso_max_segs 1", ns_name), 0);
	int fd = dial("10.77.0.2");
	CHECK(fd >= 0);
	for (int i = 0; i < 2 && fd >= 0; i++) {
		int ok = echo_once(fd, big, BIG) == 0;
		CHECK(ok);
		if (!ok) {
			zstack_stats(zs, st);
			fprintf(stderr, "# stack: rx %llu frames %llu B, tx %llu frames %llu B, "
				"rx_dropped %llu, drops %llu, chained %llu, multi_buffer %u, "
				"generic %u, copied_in %llu, mtu %u\n",
				(unsigned long long)st->rx_frames, (unsigned long long)st->rx_bytes,
				(unsigned long long)st->tx_frames, (unsigned long long)st->tx_bytes,
				(unsigned long long)st->rx_dropped, (unsigned long long)st->drops,
				(unsigned long long)st->rx_chained, st->multi_buffer, st->xdp_generic,
				(unsigned long long)st->copied_in, st->mtu);
			/* The client's view of the connection: window, RTO, what is lost. */
			sh("ip netns exec %s ss -tni dst 10.77.0.2 >&2", ns_name);
			/* The stack's view, from its own thread. */
			atomic_store(&described, 0);
			if (sure_http_server_tick(srv, 10, describe_tick, zs) == 0)
				wait_until(&described, 1);
			sh("ip -s link show zs0 >&2; ip netns exec %s ip -s link show zs1 >&2",
			   ns_name);
		}
	}
	if (fd >= 0)
		close(fd);
	if (wire)
		CHECK_EQ(sh("ip netns exec %s ip link set zs1 gso_max_segs 65535", ns_name), 0);
	zstack_stats(zs, st);
	CHECK_EQ(st->rx_dropped, 0); /* nothing the kernel could not hand over */
	stop(zs, srv);
	zs = NULL;
	srv = NULL;
	return 0;
}

/* Every 13th frame in and out dropped by the stack: our retransmissions,
 * the peer's, and segments that arrive after a gap. */
static void test_loss(void)
{
	struct zstack_stats st;

	if (env_rc > 0)
		SKIP("%s", env_why);
	if (two_mib(13, ZS_XDP_AUTO, &st) < 0)
		return;
	CHECK(st.retransmits > 0);
	CHECK(st.drops > 0);
	fprintf(stderr, "# loss: %llu fast retransmits, %llu timeouts\n",
		(unsigned long long)st.retransmits, (unsigned long long)st.retransmit_timeouts);
}

/* The client's count of TCP segments it dropped for a bad checksum. */
static long long in_csum_errors(void)
{
	char cmd[160];
	long long n = -1;

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s awk '/^Tcp:/ && $1 == h {print $16} /^Tcp:/ {h = $1}' "
		 "/proc/net/snmp",
		 ns_name);
	FILE *f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%lld", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* The stack's TCP checksums are finished by the port (zstack.c tcp_csum):
 * through TX metadata they leave partial and a veth receiver trusts them,
 * so here the kernel finishes them at once (ZS_CSUM_KERNEL_SOFTWARE) and
 * the client checks every segment of 2 MiB each way, and each of its
 * acknowledgements of ours: none may be dropped for its checksum. The
 * stack's counters say who finished them. */
static void test_checksums_checked(void)
{
	struct zstack_stats st;

	if (env_rc > 0)
		SKIP("%s", env_why);
	if (!check_kernel_at_least(6, 11)) /* the port refuses the mode (test_zs_port) */
		SKIP("the kernel's software checksums of AF_XDP frames need TX metadata (Linux 6.11)");
	long long before = in_csum_errors();
	CHECK(before >= 0);
	csum_mode = ZS_CSUM_KERNEL_SOFTWARE;
	int rc = two_mib(0, ZS_XDP_AUTO, &st);
	csum_mode = ZS_CSUM_AUTO;
	if (rc < 0)
		return;
	CHECK_EQ(in_csum_errors(), before);
	CHECK(st.tx_csum_kernel > 700); /* 2 MiB of 1460-byte segments at least */
	CHECK_EQ(st.tx_csum_software, 0);
}

/* A MiB each way with the program in one mode, forced: native (veth's own
 * XDP, which turns its peer's GSO off: frames are MTU-sized) and generic
 * (as on a driver without native XDP; over veth the peer's GSO sends of up
 * to 64 KiB come whole: in several frames, or, on a kernel without
 * multi-buffer AF_XDP, as wire-sized packets: see two_mib()). */
static void mib_in_mode(uint8_t mode)
{
	struct zstack_stats st;

	if (env_rc > 0)
		SKIP("%s", env_why);
	if (two_mib(0, mode, &st) < 0)
		return;
	CHECK_EQ(st.xdp_generic, mode == ZS_XDP_GENERIC);
	fprintf(stderr, "# %s mode, multi-buffer %s: %llu packets in more than one frame\n",
		st.xdp_generic ? "generic" : "native", st.multi_buffer ? "on" : "off",
		(unsigned long long)st.rx_chained);
	if (mode == ZS_XDP_GENERIC && st.multi_buffer)
		CHECK(st.rx_chained > 0);
	if (!st.multi_buffer)
		CHECK_EQ(st.rx_chained, 0);
}

static void test_native_mode(void)
{
	mib_in_mode(ZS_XDP_NATIVE);
}

static void test_generic_mode(void)
{
	mib_in_mode(ZS_XDP_GENERIC);
}

/* A connection the stack makes, on the server's thread (lwIP is that
 * thread's alone): opened, then closed when close_req is set. */
static struct {
	atomic_int close_req, done;
	struct zs_sock *s;
} dialer;

static void on_dialed(void *arg, unsigned events)
{
	(void)arg;
	(void)events;
}

static void dial_tick(void *arg, uint64_t now_ns)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };

	(void)now_ns;
	if (atomic_load(&dialer.done))
		return;
	if (!dialer.s) {
		inet_pton(AF_INET, (const char *)arg, &to.sin_addr);
		if (zs_connect(zs, &to, on_dialed, NULL, &dialer.s) < 0)
			atomic_store(&dialer.done, -1);
	} else if (atomic_load(&dialer.close_req)) {
		zs_close(dialer.s);
		dialer.s = NULL;
		atomic_store(&dialer.done, 1);
	}
}

/* A SYN to an address nobody has gets no answer at all, so only a
 * retransmission timeout sends it again (lwIP's first is 3 s): the stack
 * counts it. */
static void test_syn_timeout(void)
{
	struct zstack_stats st;

	if (env_rc > 0)
		SKIP("%s", env_why);
	int rc = start(0, &zs, &srv);
	CHECK_EQ(rc, 0);
	if (rc < 0)
		return;
	zstack_stats(zs, &st);
	uint64_t fast = st.retransmits; /* lwIP's count: the process's */
	CHECK_EQ(st.retransmit_timeouts, 0);
	CHECK_EQ(sure_http_server_tick(srv, 10, dial_tick, (void *)"10.77.0.99"), 0);
	for (int i = 0; i < 100; i++) {
		zstack_stats(zs, &st);
		if (st.retransmit_timeouts)
			break;
		usleep(100000);
	}
	CHECK_EQ(st.retransmit_timeouts, 1);
	CHECK_EQ(st.retransmits, fast); /* no duplicate ACK came either */
	atomic_store(&dialer.close_req, 1);
	wait_until(&dialer.done, 1);
	CHECK_EQ(atomic_load(&dialer.done), 1);
	stop(zs, srv);
	zs = NULL;
	srv = NULL;
}

/* ---- another node: a kernel listener in the client namespace that answers
 * each request with its body, on kept connections, and keeps what it got ---- */

static int node_fd = -1;
static pthread_t node_thr;
static atomic_int node_conns, node_reqs;
static char node_head[2048]; /* the last request's head */
static char node_peer[INET_ADDRSTRLEN]; /* where the last connection came from */

static void *node_main(void *arg)
{
	static uint8_t buf[BIG + 4096];

	(void)arg;
	for (;;) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		int fd = accept(node_fd, (struct sockaddr *)&from, &flen);
		size_t len = 0;
		struct timeval tv = { .tv_sec = 2 }; /* a kept connection ends the thread's wait */
		if (fd < 0)
			return NULL;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		inet_ntop(AF_INET, &from.sin_addr, node_peer, sizeof(node_peer));
		node_conns++;
		for (;;) {
			char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
			size_t hl = end ? (size_t)(end + 4 - (char *)buf) : 0, n = 0;
			if (end) {
				buf[hl - 1] = 0;
				cl = strcasestr((char *)buf, "content-length:");
				n = cl ? strtoul(cl + 15, NULL, 10) : 0;
				buf[hl - 1] = '\n';
			}
			if (end && len >= hl + n) {
				char head[96];
				int k = snprintf(head, sizeof(head),
						 "HTTP/1.1 200 OK\r\ncontent-length: %zu\r\n\r\n", n);
				snprintf(node_head, sizeof(node_head), "%.*s", (int)hl, (char *)buf);
				if (send_all(fd, head, (size_t)k) < 0 || send_all(fd, buf + hl, n) < 0)
					break;
				node_reqs++;
				memmove(buf, buf + hl + n, len - hl - n);
				len -= hl + n;
				continue;
			}
			ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		close(fd);
	}
}

/* An /invoke of a function another node serves goes there from the stack
 * (the node's side of the tunnel is a Z-stack connection, from a local port
 * the XDP program steers back), as it came plus the mark, and its answer
 * comes back plus x-sure-node; the connection is kept for the next forward.
 * A node that refuses goes to the upstream (none here: 502). */
static void test_forward(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(NODE_PORT) };
	struct sure_http_server_stats st0, st1;
	static uint8_t got[BIG];
	size_t glen = 0;
	int one = 1;

	NEED_ENV();
	inet_pton(AF_INET, NODE_IP, &a.sin_addr);
	node_fd = client_socket();
	CHECK(node_fd >= 0);
	setsockopt(node_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK_EQ(bind(node_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(node_fd, 16), 0);
	CHECK_EQ(pthread_create(&node_thr, NULL, node_main, NULL), 0);
	sure_http_server_stats(srv, &st0);

	for (int k = 0; k < 2; k++) {
		size_t n = k ? 5 : 300 * 1024; /* many segments each way, then a few bytes */
		char head[160];
		int fd = dial("10.77.0.2");
		CHECK(fd >= 0);
		if (fd < 0)
			break;
		int hl = snprintf(head, sizeof(head),
				  "POST /invoke/fw HTTP/1.1\r\nHost: z\r\nContent-Length: %zu\r\n\r\n",
				  n);
		CHECK(send_all(fd, head, (size_t)hl) == 0 && send_all(fd, big, n) == 0);
		CHECK_EQ(read_answer(fd, got, sizeof(got), &glen), 200);
		CHECK_EQ(glen, n);
		CHECK(glen == n && memcmp(got, big, n) == 0);
		CHECK(strcasestr(answer_head, "\r\nx-sure-node: b\r\n") != NULL);
		CHECK(strstr(node_head, "\r\nx-sure-forwarded-by: a\r\n\r\n") != NULL);
		close(fd);
	}
	CHECK_EQ(node_reqs, 2);
	CHECK_EQ(node_conns, 1); /* the second went on the connection the first left */
	CHECK_STR(node_peer, "10.77.0.2"); /* from the stack's address, not the kernel's */

	/* A fleet member's address is the kernel's: a client of the stack is
	 * forwarded there over kernel TCP. */
	int kfd = dial("10.77.0.2");
	CHECK(kfd >= 0);
	if (kfd >= 0) {
		static const char req[] = "POST /invoke/fwk HTTP/1.1\r\nHost: z\r\nContent-Length: 3\r\n\r\nabc";
		CHECK(send_all(kfd, req, sizeof(req) - 1) == 0);
		CHECK_EQ(read_answer(kfd, got, sizeof(got), &glen), 200);
		CHECK(glen == 3 && memcmp(got, "abc", 3) == 0);
		CHECK(strcasestr(answer_head, "\r\nx-sure-node: b\r\n") != NULL);
		close(kfd);
	}
	CHECK_EQ(node_conns, 2);
	CHECK_STR(node_peer, "10.77.0.1");

	int fd = dial("10.77.0.2");
	CHECK(fd >= 0);
	if (fd >= 0) {
		static const char req[] = "GET /invoke/fwref HTTP/1.1\r\nHost: z\r\n\r\n";
		CHECK(send_all(fd, req, sizeof(req) - 1) == 0);
		CHECK_EQ(read_answer(fd, got, sizeof(got), &glen), 502);
		CHECK(memmem(got, glen, "upstream_unavailable", 20) != NULL);
		close(fd);
	}
	sure_http_server_stats(srv, &st1);
	CHECK_EQ(st1.forwarded - st0.forwarded, 4);
	CHECK_EQ(st1.forward_connects - st0.forward_connects, 3);
	CHECK_EQ(st1.forwards_refused - st0.forwards_refused, 1);
	CHECK_EQ(st1.forward_failures - st0.forward_failures, 0);
	shutdown(node_fd, SHUT_RDWR);
	pthread_join(node_thr, NULL);
	close(node_fd);
}

/* A server that holds its accepts: the stack runs (it answers ping) but
 * resets connections to the port until the server is opened. */
static void test_hold_accept(void)
{
	if (env_rc > 0)
		SKIP("%s", env_why);
	int rc = start_full(0, ZS_XDP_AUTO, 1, &zs, &srv);
	CHECK_EQ(rc, 0);
	if (rc < 0)
		return;
	CHECK_EQ(sh("ip netns exec %s ping -c 1 -W 2 10.77.0.2 >/dev/null", ns_name), 0);
	int fd = dial("10.77.0.2");
	CHECK(fd < 0 && errno == ECONNREFUSED);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(sure_http_server_open(srv), 0);
	/* The stack's listener comes from the server's thread right after. */
	for (int i = 0; i < 100 && (fd = dial("10.77.0.2")) < 0; i++)
		usleep(10000);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(echo_once(fd, big, 1000) == 0);
		close(fd);
	}
	stop(zs, srv);
	zs = NULL;
	srv = NULL;
}

int main(void)
{
	for (uint32_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 131 + (i >> 9));
	if (geteuid() != 0) {
		snprintf(env_why, sizeof(env_why), "needs root (network namespaces, XDP)");
	} else if (setup() < 0) {
		snprintf(env_why, sizeof(env_why), "cannot make network namespaces and a veth pair");
	} else {
		env_rc = start(0, &zs, &srv);
		if (env_rc == -EOPNOTSUPP || env_rc == -EAFNOSUPPORT) {
			snprintf(env_why, sizeof(env_why), "no AF_XDP in this kernel");
			env_rc = 1;
		} else if (env_rc < 0) {
			fprintf(stderr, "# zstack_open / server start: %s\n", strerror(-env_rc));
		}
	}
	RUN(test_arp_icmp);
	RUN(test_exchange);
	RUN(test_quick_ack);
	RUN(test_kernel_too);
	RUN(test_pipelined);
	RUN(test_mib_each_way);
	RUN(test_reset);
	RUN(test_counters);
	RUN(test_forward);
	RUN(test_close_detaches);
	RUN(test_kill_detaches);
	RUN(test_loss);
	RUN(test_checksums_checked);
	RUN(test_native_mode);
	RUN(test_generic_mode);
	RUN(test_hold_accept);
	RUN(test_syn_timeout);
	return CHECK_DONE();
}
