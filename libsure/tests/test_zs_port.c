/*
 * test_zs_port.c - the Z-stack's AF_XDP port (src/zs_port.c and its XDP
 * program, bpf/zs_steer.bpf.c) on a real veth pair between two network
 * namespaces: A holds the port (this thread runs in A), B plays the peer
 * (its sockets are made in B, its ping runs in B).
 *
 *   A: zpa 10.199.0.1/24, the port owns 10.199.0.10  <--veth-->  B: zpb 10.199.0.2/24
 *
 * Checked for real: ARP and ping answered by hand through zs_port_tx reach
 * B's kernel; the program steers exactly the frames zs_port.h lists (kernel
 * SYNs from B, hand-made frames with IPv4 options, a packet socket in A
 * seeing what reached A's kernel, a kernel listener on A's own address still
 * accepting); released frames are reused; drops, TX back-pressure and the
 * counters; close detaches the program. Needs root: otherwise (or without
 * ip(8), network namespaces or AF_XDP) every test says SKIP. The namespaces
 * go away however the test ends (a watchdog process deletes them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util.h"
#include "zs_port.h"

#define A_IP "10.199.0.1"
#define B_IP "10.199.0.2"
#define Z_IP "10.199.0.10"
#define Z_PORT 8080
#define Z_LO 40000
#define Z_HI 40009
#define ETH_P_TEST 0x88b5 /* IEEE local experimental: no kernel handles it */

static char ns_a[32], ns_b[32], env_why[200];
static int ns_orig_fd = -1, ns_a_fd = -1, ns_b_fd = -1, watchdog_w = -1;
static pid_t watchdog_pid = -1;
static uint8_t mac_b[6];
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define REQUIRE_ENV()                                                                \
	do {                                                                         \
		if (env_why[0])                                                      \
			SKIP("%s", env_why);                                         \
	} while (0)

/* ---- the namespaces ---- */

static int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

/* The first line(s) a command prints, into out. */
static int __attribute__((format(printf, 3, 4)))
capture(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	FILE *f;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = 0;
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	return pclose(f) == 0 ? 0 : -1;
}

/* A child that deletes the namespaces once this process is gone, however it
 * goes (a crash or a kill included): it waits for EOF on a pipe that only
 * this process holds. Its own session, so a ^C to the test leaves it be. */
static void watchdog_start(void)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	watchdog_pid = fork();
	if (watchdog_pid == 0) {
		char c, cmd[128];
		int null = open("/dev/null", O_RDWR);

		setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(fds[1]);
		while (read(fds[0], &c, 1) < 0 && errno == EINTR)
			;
		snprintf(cmd, sizeof(cmd), "ip netns del %s; ip netns del %s", ns_a, ns_b);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	if (watchdog_pid < 0)
		close(fds[1]);
	else
		watchdog_w = fds[1];
}

static int ns_open(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void env_setup(void)
{
	int s;

	if (geteuid() != 0) {
		snprintf(env_why, sizeof(env_why), "needs root (network namespaces, XDP)");
		return;
	}
	if (sh("command -v ip >/dev/null 2>&1") != 0) {
		snprintf(env_why, sizeof(env_why), "no ip(8) (iproute2)");
		return;
	}
	snprintf(ns_a, sizeof(ns_a), "zsport%da", (int)getpid());
	snprintf(ns_b, sizeof(ns_b), "zsport%db", (int)getpid());
	watchdog_start();
	if (sh("ip netns add %s && ip netns add %s", ns_a, ns_b) != 0 ||
	    sh("ip link add zpa netns %s type veth peer name zpb netns %s", ns_a, ns_b) != 0) {
		snprintf(env_why, sizeof(env_why), "cannot make network namespaces joined by veth");
		return;
	}
	if (sh("ip -n %s addr add " A_IP "/24 dev zpa && ip -n %s link set zpa up && "
	       "ip -n %s link set lo up",
	       ns_a, ns_a, ns_a) != 0 ||
	    sh("ip -n %s addr add " B_IP "/24 dev zpb && ip -n %s link set zpb up && "
	       "ip -n %s link set lo up",
	       ns_b, ns_b, ns_b) != 0) {
		snprintf(env_why, sizeof(env_why), "cannot configure the veth pair");
		return;
	}
	ns_orig_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ns_a_fd = ns_open(ns_a);
	ns_b_fd = ns_open(ns_b);
	if (ns_orig_fd < 0 || ns_a_fd < 0 || ns_b_fd < 0 || setns(ns_a_fd, CLONE_NEWNET) < 0) {
		snprintf(env_why, sizeof(env_why), "cannot enter the namespaces: %s",
			 strerror(errno));
		return;
	}
	s = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(env_why, sizeof(env_why), "no AF_XDP here: %s", strerror(errno));
		return;
	}
	close(s);
}

static void env_teardown(void)
{
	/* Out of A first, so that deleting it really frees it (and the veth). */
	if (ns_orig_fd >= 0)
		setns(ns_orig_fd, CLONE_NEWNET);
	if (watchdog_w >= 0)
		close(watchdog_w);
	if (watchdog_pid > 0)
		waitpid(watchdog_pid, NULL, 0);
}

/* A socket in B (it stays there); this thread stays in A. */
static int b_socket(int domain, int type, int proto)
{
	int s, e;

	if (setns(ns_b_fd, CLONE_NEWNET) < 0)
		return -1;
	s = socket(domain, type | SOCK_CLOEXEC, proto);
	e = errno;
	setns(ns_a_fd, CLONE_NEWNET);
	errno = e;
	return s;
}

/* A packet socket on zpb (in B) for ethertype proto: B's wire. */
static int b_packet(uint16_t proto)
{
	struct sockaddr_ll sll;
	int s, rcvbuf = 4 << 20;

	if (setns(ns_b_fd, CLONE_NEWNET) < 0)
		return -1;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = (int)if_nametoindex("zpb");
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(proto));
	if (s >= 0) {
		setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
		if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
			close(s);
			s = -1;
		}
	}
	setns(ns_a_fd, CLONE_NEWNET);
	return s;
}

/* A packet socket on zpa (in A): what reached A's kernel, i.e. what the XDP
 * program passed (XDP runs before the packet taps). */
static int a_tap(void)
{
	struct sockaddr_ll sll;
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));

	if (s < 0)
		return -1;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex("zpa");
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* One incoming frame from a packet socket (outgoing ones skipped) within
 * ms; its length, or -1. */
static int pkt_recv(int s, uint8_t *buf, size_t cap, int ms)
{
	uint64_t end = sure_now_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		int64_t left = (int64_t)(end - sure_now_ns()) / 1000000;
		ssize_t n = recvfrom(s, buf, cap, 0, (struct sockaddr *)&sll, &sl);

		if (n >= 0 && sll.sll_pkttype != PACKET_OUTGOING)
			return (int)n;
		if (n >= 0)
			continue;
		if (left <= 0)
			return -1;
		poll(&pfd, 1, (int)left);
	}
}

static int pkt_send(int s, const void *f, size_t len)
{
	return send(s, f, len, 0) == (ssize_t)len ? 0 : -1;
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int if_mac(int s, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* Runs argv in B (its stdout to /dev/null); the child's pid. */
static pid_t spawn_in_b(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		if (setns(ns_b_fd, CLONE_NEWNET) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* ---- frames, built and read by hand ---- */

static uint32_t csum_add(uint32_t sum, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

/* The Internet checksum, in network byte order (store it as is). */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static size_t mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	uint16_t t = htons(type);

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	memcpy(f + 12, &t, 2);
	return 14;
}

static size_t mk_arp(uint8_t *f, const uint8_t *eth_dst, const uint8_t *eth_src, uint16_t op,
		     const uint8_t *sha, uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	static const uint8_t head[6] = { 0, 1, 8, 0, 6, 4 }; /* Ethernet, IPv4, 6, 4 */
	size_t n = mk_eth(f, eth_dst, eth_src, ETH_P_ARP);

	memcpy(f + n, head, 6);
	f[n + 6] = (uint8_t)(op >> 8);
	f[n + 7] = (uint8_t)op;
	memcpy(f + n + 8, sha, 6);
	memcpy(f + n + 14, &spa, 4);
	memcpy(f + n + 18, tha, 6);
	memcpy(f + n + 24, &tpa, 4);
	return n + 28;
}

/* Ethernet + IPv4 with ihl words of header (the options from opt) + l4. */
static size_t mk_ip(uint8_t *f, const uint8_t *dst, const uint8_t *src, unsigned ihl,
		    const uint8_t *opt, uint8_t proto, uint32_t saddr, uint32_t daddr, uint16_t id,
		    const void *l4, size_t l4len)
{
	struct iphdr ip;
	size_t n = mk_eth(f, dst, src, ETH_P_IP), hl = ihl * 4;

	memset(&ip, 0, sizeof(ip));
	ip.version = 4;
	ip.ihl = ihl & 15;
	ip.ttl = 64;
	ip.protocol = proto;
	ip.id = htons(id);
	ip.tot_len = htons((uint16_t)(hl + l4len));
	ip.saddr = saddr;
	ip.daddr = daddr;
	memcpy(f + n, &ip, sizeof(ip));
	if (hl > sizeof(ip))
		memcpy(f + n + sizeof(ip), opt, hl - sizeof(ip));
	ip.check = csum_fold(csum_add(0, f + n, hl));
	memcpy(f + n + 10, &ip.check, 2);
	memcpy(f + n + hl, l4, l4len);
	return n + hl + l4len;
}

/* A TCP SYN (sport -> dport) with its checksum, for mk_ip. */
static size_t mk_syn(uint8_t *out, uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport)
{
	struct tcphdr t;
	uint8_t ph[12];
	uint16_t c;

	memset(&t, 0, sizeof(t));
	t.source = htons(sport);
	t.dest = htons(dport);
	t.seq = htonl(12345);
	t.doff = 5;
	t.syn = 1;
	t.window = htons(65535);
	memcpy(out, &t, sizeof(t));
	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	ph[10] = 0;
	ph[11] = sizeof(t);
	c = csum_fold(csum_add(csum_add(0, ph, 12), out, sizeof(t)));
	memcpy(out + 16, &c, 2);
	return sizeof(t);
}

/* An ICMP echo request (id, seq) with a 32-byte payload, for mk_ip. */
static size_t mk_echo(uint8_t *out, uint16_t id, uint16_t seq)
{
	struct icmphdr h;
	uint16_t c;

	memset(&h, 0, sizeof(h));
	h.type = ICMP_ECHO;
	h.un.echo.id = htons(id);
	h.un.echo.sequence = htons(seq);
	memcpy(out, &h, sizeof(h));
	for (int i = 0; i < 32; i++)
		out[sizeof(h) + i] = (uint8_t)(seq + i);
	c = csum_fold(csum_add(0, out, sizeof(h) + 32));
	memcpy(out + 2, &c, 2);
	return sizeof(h) + 32;
}

/* What the tests look at in a frame (headers read with ihl honoured). */
struct parsed {
	uint16_t type; /* ethertype */
	uint8_t proto, tcp_flags, icmp_type;
	uint32_t saddr, daddr;
	uint16_t ipid, sport, dport, echo_seq;
	size_t l3, hl, tot; /* IPv4: header offset, header length, total length */
	int has_l4;
	uint16_t arp_op;
	uint8_t arp_sha[6];
	uint32_t arp_spa, arp_tpa;
};

static void parse(const uint8_t *f, size_t len, struct parsed *o)
{
	memset(o, 0, sizeof(*o));
	if (len < 14)
		return;
	o->type = (uint16_t)(f[12] << 8 | f[13]);
	o->l3 = 14;
	if (o->type == ETH_P_ARP && len >= 42) {
		o->arp_op = (uint16_t)(f[20] << 8 | f[21]);
		memcpy(o->arp_sha, f + 22, 6);
		memcpy(&o->arp_spa, f + 28, 4);
		memcpy(&o->arp_tpa, f + 38, 4);
	}
	if (o->type == ETH_P_IP && len >= 34) {
		struct iphdr ip;

		memcpy(&ip, f + 14, sizeof(ip));
		o->proto = ip.protocol;
		o->saddr = ip.saddr;
		o->daddr = ip.daddr;
		o->ipid = ntohs(ip.id);
		o->hl = ip.ihl * 4u;
		o->tot = ntohs(ip.tot_len);
		if (o->proto == IPPROTO_TCP && len >= 14 + o->hl + 20) {
			const uint8_t *t = f + 14 + o->hl;

			o->sport = (uint16_t)(t[0] << 8 | t[1]);
			o->dport = (uint16_t)(t[2] << 8 | t[3]);
			o->tcp_flags = t[13];
			o->has_l4 = 1;
		}
		if (o->proto == IPPROTO_UDP && len >= 14 + o->hl + 8) {
			const uint8_t *u = f + 14 + o->hl;

			o->dport = (uint16_t)(u[2] << 8 | u[3]);
			o->has_l4 = 1;
		}
		if (o->proto == IPPROTO_ICMP && len >= 14 + o->hl + 8) {
			const uint8_t *c = f + 14 + o->hl;

			o->icmp_type = c[0];
			o->echo_seq = (uint16_t)(c[6] << 8 | c[7]);
			o->has_l4 = 1;
		}
	}
}

/* A frame to look for: 0 fields match anything. */
struct sig {
	uint16_t type, ipid, dport, arp_op;
	uint8_t proto;
	uint32_t addr; /* IPv4 destination, or ARP target */
};

static int sig_match(const struct sig *s, const uint8_t *f, size_t len)
{
	struct parsed q;

	parse(f, len, &q);
	if (s->type && q.type != s->type)
		return 0;
	if (s->arp_op && q.arp_op != s->arp_op)
		return 0;
	if (s->addr && (q.type == ETH_P_ARP ? q.arp_tpa : q.daddr) != s->addr)
		return 0;
	if (s->proto && q.proto != s->proto)
		return 0;
	if (s->ipid && q.ipid != s->ipid)
		return 0;
	if (s->dport && (!q.has_l4 || q.dport != s->dport))
		return 0;
	return 1;
}

/* ---- the port side ---- */

static struct zs_port *port_open(uint32_t frames, int *rc_out)
{
	struct zs_port_config cfg = {
		.ifname = "zpa",
		.queue = 0,
		.addr = ip4(Z_IP),
		.port = Z_PORT,
		.lport_lo = Z_LO,
		.lport_hi = Z_HI,
		.frames = frames,
	};
	struct zs_port *p = NULL;
	int rc = zs_port_open(&cfg, &p);

	if (rc_out)
		*rc_out = rc;
	else
		CHECK_EQ(rc, 0);
	return rc == 0 ? p : NULL;
}

/* Frames grabbed by zs_port_rx: a copy of each (the first 128 bytes), its
 * address in the UMEM and handle; released at once unless hold is set. */
#define GRAB_MAX 512
struct grab {
	struct zs_port *p;
	int hold;
	unsigned n;
	uint32_t len[GRAB_MAX];
	uint64_t handle[GRAB_MAX];
	uint8_t *at[GRAB_MAX];
	uint8_t copy[GRAB_MAX][128];
};

/* The bytes of grabbed frame i that g holds. */
static size_t glen(const struct grab *g, unsigned i)
{
	return g->len[i] < 128 ? g->len[i] : 128;
}

/* Each frame of a packet as a frame of its own (the frames sent here fit one). */
static void grab_fn(void *arg, const struct zs_frag *f, unsigned n)
{
	struct grab *g = arg;

	for (unsigned k = 0; k < n; k++) {
		if (g->n < GRAB_MAX) {
			g->len[g->n] = f[k].len;
			g->handle[g->n] = f[k].handle;
			g->at[g->n] = f[k].data;
			memcpy(g->copy[g->n], f[k].data, f[k].len < 128 ? f[k].len : 128);
			g->n++;
		}
		if (!g->hold)
			zs_port_release(g->p, f[k].handle);
	}
}

/* Receives until g holds want frames or ms passed; how many it holds. */
static unsigned rx_wait(struct zs_port *p, struct grab *g, unsigned want, int ms)
{
	uint64_t end = sure_now_ns() + (uint64_t)ms * 1000000u;

	while (g->n < want) {
		struct pollfd pfd = { .fd = zs_port_fd(p), .events = POLLIN };
		int64_t left = (int64_t)(end - sure_now_ns()) / 1000000;

		if (zs_port_rx(p, 64, grab_fn, g))
			continue;
		if (left <= 0)
			break;
		poll(&pfd, 1, (int)(left < 50 ? left : 50));
	}
	return g->n;
}

/* Empties the port and the tap (stray frames of an earlier step). */
static void drain(struct zs_port *p, int tap)
{
	static struct grab g;
	uint8_t buf[2048];

	do
		g = (struct grab){ .p = p };
	while (zs_port_rx(p, 64, grab_fn, &g));
	while (tap >= 0 && recv(tap, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/* Where a frame matching s lands within ms: 'X' on the XSK, 'K' at A's
 * kernel (the tap), 'B' both (never right), '-' nowhere. After the first
 * sighting it keeps looking a little while for one on the other side. */
static char landed(struct zs_port *p, int tap, const struct sig *s, int ms)
{
	uint64_t now = sure_now_ns(), end = now + (uint64_t)ms * 1000000u;
	int x = 0, k = 0;
	static struct grab g;
	uint8_t buf[2048];

	while (sure_now_ns() < end) {
		struct pollfd pfd[2] = { { .fd = zs_port_fd(p), .events = POLLIN },
					 { .fd = tap, .events = POLLIN } };
		int n;

		g = (struct grab){ .p = p };
		zs_port_rx(p, 64, grab_fn, &g);
		for (unsigned i = 0; i < g.n; i++)
			x |= sig_match(s, g.copy[i], glen(&g, i));
		while ((n = (int)recv(tap, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
			k |= sig_match(s, buf, (size_t)n);
		if ((x || k) && end > sure_now_ns() + 150000000u)
			end = sure_now_ns() + 150000000u;
		poll(pfd, 2, 20);
	}
	return x && k ? 'B' : x ? 'X' : k ? 'K' : '-';
}

/* Answers ARP requests for Z_IP and ICMP echo requests to it, by hand. */
struct responder {
	struct zs_port *p;
	int arps, echoes, tx_errors;
};

static void respond_fn(void *arg, const struct zs_frag *frags, unsigned nf)
{
	struct responder *r = arg;
	uint8_t *f = frags[0].data;
	uint32_t len = frags[0].len;
	const uint8_t *mac = zs_port_mac(r->p);
	struct parsed q;
	uint8_t out[2048];

	parse(f, len, &q);
	if (q.type == ETH_P_ARP && q.arp_op == 1 && q.arp_tpa == ip4(Z_IP)) {
		struct iovec iov = { out, mk_arp(out, q.arp_sha, mac, 2, mac, ip4(Z_IP), q.arp_sha,
						 q.arp_spa) };

		r->tx_errors += zs_port_tx(r->p, &iov, 1, NULL) != 0;
		r->arps++;
	} else if (q.type == ETH_P_IP && q.proto == IPPROTO_ICMP && q.icmp_type == ICMP_ECHO &&
		   q.daddr == ip4(Z_IP) && q.hl >= 20 && q.tot >= q.hl + 8 && 14 + q.tot <= len) {
		/* The same packet back: addresses swapped, type 0, both checksums
		 * ours (veth offloads nothing for a frame built here). Sent as two
		 * pieces to check that zs_port_tx joins them. */
		uint8_t eth[14];
		uint8_t *ip = out, *icmp = out + q.hl;
		uint16_t c = 0;
		struct iovec iov[2] = { { eth, mk_eth(eth, f + 6, mac, ETH_P_IP) },
					{ out, q.tot } };

		memcpy(out, f + 14, q.tot);
		memcpy(ip + 12, &q.daddr, 4);
		memcpy(ip + 16, &q.saddr, 4);
		ip[8] = 64;
		memcpy(ip + 10, &c, 2);
		c = csum_fold(csum_add(0, ip, q.hl));
		memcpy(ip + 10, &c, 2);
		icmp[0] = ICMP_ECHOREPLY;
		c = 0;
		memcpy(icmp + 2, &c, 2);
		c = csum_fold(csum_add(0, icmp, q.tot - q.hl));
		memcpy(icmp + 2, &c, 2);
		r->tx_errors += zs_port_tx(r->p, iov, 2, NULL) != 0;
		r->echoes++;
	}
	for (unsigned k = 0; k < nf; k++)
		zs_port_release(r->p, frags[k].handle);
}

/* Serves the port (answering as respond_fn does) until the child exits or
 * ms pass; the child's exit status, or -1. */
static int serve_until_exit(struct zs_port *p, struct responder *r, pid_t pid, int ms)
{
	uint64_t end = sure_now_ns() + (uint64_t)ms * 1000000u;
	int st;

	while (sure_now_ns() < end) {
		struct pollfd pfd = { .fd = zs_port_fd(p), .events = POLLIN };

		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		poll(&pfd, 1, 20);
		if (zs_port_rx(p, 64, respond_fn, r))
			zs_port_flush(p);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int has_ping(void)
{
	return sh("command -v ping >/dev/null 2>&1") == 0;
}

/* "xdp" (native), "xdpgeneric" or "" for zpa, from ip(8). */
static const char *xdp_shown(void)
{
	static char out[4096];

	if (capture(out, sizeof(out), "ip -n %s link show dev zpa", ns_a) < 0)
		return "?";
	if (strstr(out, "xdpgeneric"))
		return "xdpgeneric";
	if (strstr(out, "xdp"))
		return "xdp";
	return "";
}

/* ---- the tests ---- */

static void test_open(void)
{
	struct zs_port_config cfg = { .ifname = "zsnosuch0", .addr = ip4(Z_IP) };
	struct zs_port *p, *q = NULL;
	char out[4096], mac[32];
	const uint8_t *m;
	int rc;

	REQUIRE_ENV();
	CHECK_EQ(zs_port_open(&cfg, &q), -ENODEV);
	CHECK(q == NULL);
	cfg.ifname = "zpa";
	cfg.frames = 2;
	CHECK_EQ(zs_port_open(&cfg, &q), -EINVAL);
	cfg.ifname = "an-interface-name-too-long";
	cfg.frames = 0;
	CHECK_EQ(zs_port_open(&cfg, &q), -EINVAL);

	p = port_open(0, &rc);
	if (rc == -EOPNOTSUPP) {
		snprintf(env_why, sizeof(env_why), "zs_port_open: AF_XDP not supported here");
		SKIP("%s", env_why);
	}
	CHECK_EQ(rc, 0);
	if (!p)
		return;
	CHECK(zs_port_fd(p) >= 0);
	CHECK_EQ(zs_port_mtu(p), 1500);
	m = zs_port_mac(p);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
	CHECK_EQ(capture(out, sizeof(out), "ip -n %s link show dev zpa", ns_a), 0);
	CHECK(strstr(out, mac) != NULL);
	printf("# zs_port on veth: XDP %s\n",
	       !strcmp(xdp_shown(), "xdp")	  ? "native (DRV) mode" :
	       !strcmp(xdp_shown(), "xdpgeneric") ? "generic (SKB) mode" :
						    "mode unknown");
	CHECK(xdp_shown()[0] == 'x');
	/* A second port on the same interface finds a program attached. */
	q = port_open(0, &rc);
	CHECK(q == NULL);
	CHECK_EQ(rc, -EBUSY);
	zs_port_close(q);
	zs_port_close(p);
	zs_port_close(NULL);
}

/* (a) An ARP request for the stack's address reaches the port; the reply
 * made here and sent with zs_port_tx reaches B. */
static void test_arp(void)
{
	static struct grab g;
	uint8_t f[128], zero[6] = { 0 };
	struct zs_port *p;
	struct parsed q;
	int b, n, got = 0;
	unsigned i;

	REQUIRE_ENV();
	p = port_open(0, NULL);
	b = b_packet(ETH_P_ARP);
	CHECK(b >= 0);
	if (!p || b < 0)
		goto out;
	g = (struct grab){ .p = p };
	CHECK_EQ(pkt_send(b, f, mk_arp(f, mac_bcast, mac_b, 1, mac_b, ip4(B_IP), zero, ip4(Z_IP))),
		 0);
	rx_wait(p, &g, 1, 3000);
	for (i = 0; i < g.n; i++) {
		parse(g.copy[i], glen(&g, i), &q);
		if (q.type == ETH_P_ARP && q.arp_op == 1 && q.arp_tpa == ip4(Z_IP))
			break;
	}
	CHECK(i < g.n);
	if (i == g.n)
		goto out;
	CHECK(memcmp(q.arp_sha, mac_b, 6) == 0);
	CHECK_EQ(q.arp_spa, ip4(B_IP));
	{
		const uint8_t *mac = zs_port_mac(p);
		struct iovec iov = { f, mk_arp(f, q.arp_sha, mac, 2, mac, ip4(Z_IP), q.arp_sha,
					       q.arp_spa) };

		CHECK_EQ(zs_port_tx(p, &iov, 1, NULL), 0);
		zs_port_flush(p);
		while ((n = pkt_recv(b, f, sizeof(f), 3000)) >= 0) {
			struct parsed r;

			parse(f, (size_t)n, &r);
			if (r.type != ETH_P_ARP || r.arp_op != 2)
				continue;
			CHECK_EQ(r.arp_spa, ip4(Z_IP));
			CHECK_EQ(r.arp_tpa, ip4(B_IP));
			CHECK(memcmp(r.arp_sha, mac, 6) == 0);
			CHECK(memcmp(f, mac_b, 6) == 0);
			got = 1;
			break;
		}
	}
	CHECK(got);
out:
	if (b >= 0)
		close(b);
	zs_port_close(p);
}

/* (b) ping in B gets its answer: B's kernel asks for Z_IP by ARP, then
 * sends an echo request; both are answered through the port. */
static void test_ping(void)
{
	char *argv[] = { "ping", "-c1", "-n", "-W5", Z_IP, NULL };
	struct responder r = { 0 };
	char out[1024], mac[32];
	struct zs_port *p;
	const uint8_t *m;
	pid_t pid;

	REQUIRE_ENV();
	if (!has_ping())
		SKIP("no ping(8) (iputils-ping)");
	sh("ip -n %s neigh flush dev zpb", ns_b);
	p = port_open(0, NULL);
	if (!p)
		return;
	r.p = p;
	pid = spawn_in_b(argv);
	CHECK(pid > 0);
	if (pid > 0)
		CHECK_EQ(serve_until_exit(p, &r, pid, 10000), 0);
	CHECK(r.arps >= 1);
	CHECK(r.echoes >= 1);
	CHECK_EQ(r.tx_errors, 0);
	/* B's kernel learned the port's MAC from the ARP reply made here. */
	m = zs_port_mac(p);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
	CHECK_EQ(capture(out, sizeof(out), "ip -n %s neigh show " Z_IP " dev zpb", ns_b), 0);
	CHECK(strstr(out, mac) != NULL);
	zs_port_close(p);
}

/* A kernel TCP connect from B to addr:port (non-blocking): its SYN. */
static int b_connect(const char *addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = b_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sa.sin_addr.s_addr = ip4(addr);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(s);
		return -1;
	}
	return s;
}

/* Steering checks: B's packet socket, A's tap, the port. */
struct steer {
	struct zs_port *p;
	int tap, b;
	const uint8_t *mac; /* the port's (zpa's) */
	uint16_t id; /* IPv4 id of the last injected frame */
};

/* Injects an IPv4 frame from B's wire: ihl words of header (NOP options),
 * l4 (n bytes; cut bytes short of it), a fresh IPv4 id. */
static int inject_ip(struct steer *t, unsigned ihl, uint8_t proto, uint32_t daddr, const void *l4,
		     size_t n, size_t cut, const uint8_t *opt)
{
	uint8_t f[256], nops[40];

	memset(nops, IPOPT_NOP, sizeof(nops));
	n = mk_ip(f, t->mac, mac_b, ihl, opt ? opt : nops, proto, ip4(B_IP), daddr, ++t->id, l4, n);
	return pkt_send(t->b, f, n - cut);
}

/* Checks where the last injected frame went. */
static void expect_id(struct steer *t, char want, const char *what)
{
	struct sig sg = { .type = ETH_P_IP, .ipid = t->id };
	char w = landed(t->p, t->tap, &sg, 3000);

	if (w != want)
		fprintf(stderr, "  %s: landed at '%c', not '%c'\n", what, w, want);
	CHECK_EQ(w, want);
}

static void expect_syn(struct steer *t, uint16_t dport, char want)
{
	uint8_t l4[64];
	char what[48];

	CHECK_EQ(inject_ip(t, 5, IPPROTO_TCP, ip4(Z_IP), l4,
			   mk_syn(l4, ip4(B_IP), ip4(Z_IP), 5557, dport), 0, NULL),
		 0);
	snprintf(what, sizeof(what), "SYN to port %u", dport);
	expect_id(t, want, what);
}

/* (c) The program steers exactly what zs_port.h lists; the rest reaches
 * A's kernel, which still serves its own address. */
static void test_steering(void)
{
	struct sig syn = { .type = ETH_P_IP, .proto = IPPROTO_TCP, .addr = ip4(Z_IP) };
	struct steer t = { .tap = -1, .b = -1, .id = 1000 };
	uint8_t f[256], l4[64], zero[6] = { 0 };
	int lsn = -1, s;
	size_t n;

	REQUIRE_ENV();
	t.p = port_open(0, NULL);
	t.tap = a_tap();
	t.b = b_packet(ETH_P_ALL);
	CHECK(t.tap >= 0);
	CHECK(t.b >= 0);
	if (!t.p || t.tap < 0 || t.b < 0)
		goto out;
	t.mac = zs_port_mac(t.p);
	/* B reaches Z_IP without asking (the ARP part is test_arp's). */
	CHECK_EQ(sh("ip -n %s neigh replace " Z_IP " lladdr %02x:%02x:%02x:%02x:%02x:%02x "
		    "dev zpb nud permanent",
		    ns_b, t.mac[0], t.mac[1], t.mac[2], t.mac[3], t.mac[4], t.mac[5]),
		 0);

	/* Kernel SYNs from B: to the listen port and into the local-port range
	 * reach the XSK; to the port after it, A's kernel. */
	static const struct {
		uint16_t port;
		char where;
	} conns[] = { { Z_PORT, 'X' }, { Z_LO + 3, 'X' }, { Z_PORT + 1, 'K' } };
	for (size_t i = 0; i < sizeof(conns) / sizeof(conns[0]); i++) {
		drain(t.p, t.tap);
		s = b_connect(Z_IP, conns[i].port);
		CHECK(s >= 0);
		syn.dport = conns[i].port;
		char w = landed(t.p, t.tap, &syn, 3000);
		if (w != conns[i].where)
			fprintf(stderr, "  kernel SYN to port %u landed at '%c'\n", conns[i].port, w);
		CHECK_EQ(w, conns[i].where);
		if (s >= 0)
			close(s);
	}

	/* Hand-made frames from B's wire. */
	drain(t.p, t.tap);
	/* IPv4 options: the SYN to the listen port behind 4 bytes of options
	 * whose bytes 2-3 (where a reader ignoring ihl finds the destination
	 * port) say another port; a SYN to another port behind 8 bytes that,
	 * read as a TCP header, say the listen port. */
	{
		static const uint8_t o6[4] = { IPOPT_NOP, IPOPT_NOP, 0x1f, 0x91 };
		static const uint8_t o7[8] = { IPOPT_NOP, IPOPT_NOP, Z_PORT >> 8, Z_PORT & 255,
					       IPOPT_NOP, IPOPT_NOP, IPOPT_NOP, IPOPT_END };

		n = mk_syn(l4, ip4(B_IP), ip4(Z_IP), 5555, Z_PORT);
		CHECK_EQ(inject_ip(&t, 6, IPPROTO_TCP, ip4(Z_IP), l4, n, 0, o6), 0);
		expect_id(&t, 'X', "SYN to the port, ihl 6");
		n = mk_syn(l4, ip4(B_IP), ip4(Z_IP), 5556, Z_PORT + 2);
		CHECK_EQ(inject_ip(&t, 7, IPPROTO_TCP, ip4(Z_IP), l4, n, 0, o7), 0);
		expect_id(&t, 'K', "SYN to another port, ihl 7");
	}
	/* The edges of the local-port range, and just outside them. */
	expect_syn(&t, Z_LO, 'X');
	expect_syn(&t, Z_HI, 'X');
	expect_syn(&t, Z_LO - 1, 'K');
	expect_syn(&t, Z_HI + 1, 'K');
	/* A's kernel's: TCP to the listen port on A's own address, UDP to Z_IP,
	 * TCP to Z_IP whose header is cut short (by the frame's end, or by
	 * options filling the IPv4 header's 60 bytes), ICMP to A's address. */
	n = mk_syn(l4, ip4(B_IP), ip4(A_IP), 5558, Z_PORT);
	CHECK_EQ(inject_ip(&t, 5, IPPROTO_TCP, ip4(A_IP), l4, n, 0, NULL), 0);
	expect_id(&t, 'K', "SYN to A's address");
	n = mk_syn(l4, ip4(B_IP), ip4(Z_IP), 5558, Z_PORT);
	CHECK_EQ(inject_ip(&t, 5, IPPROTO_UDP, ip4(Z_IP), l4, 8, 0, NULL), 0);
	expect_id(&t, 'K', "UDP to the port");
	CHECK_EQ(inject_ip(&t, 5, IPPROTO_TCP, ip4(Z_IP), l4, n, 1, NULL), 0);
	expect_id(&t, 'K', "TCP header one byte short");
	CHECK_EQ(inject_ip(&t, 15, IPPROTO_TCP, ip4(Z_IP), l4, 0, 0, NULL), 0);
	expect_id(&t, 'K', "TCP header behind 40 bytes of options");
	n = mk_echo(l4, 7, 7);
	CHECK_EQ(inject_ip(&t, 5, IPPROTO_ICMP, ip4(A_IP), l4, n, 0, NULL), 0);
	expect_id(&t, 'K', "ICMP to A's address");
	/* The stack's: ICMP to Z_IP of any type, ARP replies to Z_IP. ARP for
	 * A's address is the kernel's. */
	l4[0] = ICMP_TIMESTAMP;
	CHECK_EQ(inject_ip(&t, 5, IPPROTO_ICMP, ip4(Z_IP), l4, n, 0, NULL), 0);
	expect_id(&t, 'X', "ICMP timestamp to Z_IP");
	{
		struct sig arp = { .type = ETH_P_ARP, .arp_op = 2, .addr = ip4(Z_IP) };

		n = mk_arp(f, t.mac, mac_b, 2, mac_b, ip4(B_IP), t.mac, ip4(Z_IP));
		CHECK_EQ(pkt_send(t.b, f, n), 0);
		CHECK_EQ(landed(t.p, t.tap, &arp, 3000), 'X');
		arp = (struct sig){ .type = ETH_P_ARP, .arp_op = 1, .addr = ip4(A_IP) };
		n = mk_arp(f, mac_bcast, mac_b, 1, mac_b, ip4(B_IP), zero, ip4(A_IP));
		CHECK_EQ(pkt_send(t.b, f, n), 0);
		CHECK_EQ(landed(t.p, t.tap, &arp, 3000), 'K');
	}

	/* A kernel listener on A's own address, on the stack's port number,
	 * still accepts B's connection. */
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(Z_PORT) };
		struct pollfd pfd;
		int one = 1, c, err = -1;
		socklen_t el = sizeof(err);

		sa.sin_addr.s_addr = ip4(A_IP);
		lsn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		CHECK_EQ(bind(lsn, (struct sockaddr *)&sa, sizeof(sa)), 0);
		CHECK_EQ(listen(lsn, 4), 0);
		s = b_connect(A_IP, Z_PORT);
		CHECK(s >= 0);
		pfd = (struct pollfd){ .fd = s, .events = POLLOUT };
		CHECK_EQ(poll(&pfd, 1, 5000), 1);
		getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
		CHECK_EQ(err, 0);
		pfd = (struct pollfd){ .fd = lsn, .events = POLLIN };
		CHECK_EQ(poll(&pfd, 1, 5000), 1);
		c = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
		CHECK(c >= 0);
		if (c >= 0) {
			CHECK_EQ(write(s, "hi", 2), 2);
			pfd = (struct pollfd){ .fd = c, .events = POLLIN };
			CHECK_EQ(poll(&pfd, 1, 5000), 1);
			CHECK_EQ(read(c, f, sizeof(f)), 2);
			close(c);
		}
		if (s >= 0)
			close(s);
	}
	/* And ping to A's address is answered by A's kernel. */
	if (has_ping()) {
		char *argv[] = { "ping", "-c1", "-n", "-W5", A_IP, NULL };
		pid_t pid = spawn_in_b(argv);
		int st = -1;

		CHECK(pid > 0);
		if (pid > 0)
			waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
out:
	if (lsn >= 0)
		close(lsn);
	if (t.tap >= 0)
		close(t.tap);
	if (t.b >= 0)
		close(t.b);
	zs_port_close(t.p);
}

/* Sends count echo requests to Z_IP from B's wire, seq first.. . */
static int b_echoes(int b, const uint8_t *mac, uint16_t first, unsigned count)
{
	uint8_t f[256], l4[64];

	for (unsigned i = 0; i < count; i++) {
		size_t n = mk_echo(l4, 42, (uint16_t)(first + i));

		if (pkt_send(b, f, mk_ip(f, mac, mac_b, 5, NULL, IPPROTO_ICMP, ip4(B_IP), ip4(Z_IP),
					 (uint16_t)(first + i), l4, n)) < 0)
			return -1;
	}
	return 0;
}

static uint16_t grabbed_seq(const struct grab *g, unsigned i)
{
	struct parsed q;

	parse(g->copy[i], glen(g, i), &q);
	return q.type == ETH_P_IP && q.proto == IPPROTO_ICMP ? q.echo_seq : 0xffff;
}

/* (d) Frames given back with zs_port_release are received into again:
 * many more frames than the UMEM has go through a small port, while two
 * held frames are never reused nor overwritten. */
static void test_release_reuses(void)
{
	static struct grab g;
	struct zs_port_stats st0, st1;
	uint8_t seen[64] = { 0 };
	uint64_t held[2] = { 0 };
	uint8_t *held_at[2] = { 0 };
	unsigned total = 0, distinct = 0, burst = 16, bursts = 13, bad = 0;
	struct zs_port *p;
	int b;

	REQUIRE_ENV();
	p = port_open(64, NULL); /* 48 RX frames */
	b = b_packet(ETH_P_ALL);
	CHECK(b >= 0);
	if (!p || b < 0)
		goto out;
	zs_port_stats(p, &st0);
	for (unsigned k = 0; k < bursts; k++) {
		g = (struct grab){ .p = p, .hold = 1 };
		CHECK_EQ(b_echoes(b, zs_port_mac(p), (uint16_t)(k * burst), burst), 0);
		rx_wait(p, &g, burst, 3000);
		CHECK_EQ(g.n, burst);
		for (unsigned i = 0; i < g.n; i++) {
			uint64_t h = g.handle[i];

			bad += grabbed_seq(&g, i) != k * burst + i;
			bad += h % ZS_FRAME_SIZE != 0 || h / ZS_FRAME_SIZE >= 64;
			bad += h == held[0] && held_at[0] ? 1 : 0;
			bad += h == held[1] && held_at[1] ? 1 : 0;
			if (h / ZS_FRAME_SIZE < 64 && !seen[h / ZS_FRAME_SIZE]++)
				distinct++;
			if (k == 0 && i < 2) {
				held[i] = h;
				held_at[i] = g.at[i];
				continue;
			}
			zs_port_release(p, h);
		}
		total += g.n;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(total, burst * bursts);
	CHECK(total > 64);
	CHECK(distinct <= 48);
	/* The held frames still hold their packets (seq 0 and 1). */
	for (int i = 0; i < 2; i++) {
		struct parsed q;

		CHECK(held_at[i] != NULL);
		if (!held_at[i])
			continue;
		parse(held_at[i], 128, &q);
		CHECK_EQ(q.echo_seq, i);
		zs_port_release(p, held[i]);
		zs_port_release(p, held[i]); /* a second release is ignored */
	}
	zs_port_stats(p, &st1);
	CHECK_EQ(st1.rx_frames - st0.rx_frames, total);
	CHECK_EQ(st1.rx_dropped, st0.rx_dropped);
	/* The twice-released frames did not go on the fill ring twice: a full
	 * ring's worth more still arrives intact and in order. */
	g = (struct grab){ .p = p };
	CHECK_EQ(b_echoes(b, zs_port_mac(p), 5000, 40), 0);
	rx_wait(p, &g, 40, 3000);
	CHECK_EQ(g.n, 40);
	for (unsigned i = 0; i < g.n; i++)
		bad += grabbed_seq(&g, i) != 5000 + i;
	CHECK_EQ(bad, 0);
out:
	if (b >= 0)
		close(b);
	zs_port_close(p);
}

/* Frames of ETH_P_TEST from B's wire: the count seen within ms, their
 * payload bytes checked against payload(i). */
static unsigned b_test_frames(int b, unsigned want, unsigned first, int ms, unsigned *bad)
{
	uint8_t f[2048];
	unsigned got = 0;
	int n;

	while (got < want && (n = pkt_recv(b, f, sizeof(f), ms)) >= 0) {
		if (n < 16 || f[12] != ETH_P_TEST >> 8 || f[13] != (ETH_P_TEST & 255))
			continue;
		*bad += f[14] != (uint8_t)(first + got) || f[15] != (uint8_t)((first + got) >> 8);
		for (int i = 16; i < n; i++)
			*bad += f[i] != (uint8_t)(i ^ (first + got));
		got++;
	}
	return got;
}

/* A frame of ETH_P_TEST to B (index i in its first payload bytes), split in
 * three pieces to check that zs_port_tx joins them. */
static int tx_test(struct zs_port *p, unsigned i, size_t len)
{
	static uint8_t f[ZS_FRAME_SIZE + 16];
	struct iovec iov[3];

	mk_eth(f, mac_b, zs_port_mac(p), ETH_P_TEST);
	f[14] = (uint8_t)i;
	f[15] = (uint8_t)(i >> 8);
	for (size_t k = 16; k < len; k++)
		f[k] = (uint8_t)(k ^ i);
	iov[0] = (struct iovec){ f, 5 };
	iov[1] = (struct iovec){ f + 5, 0 };
	iov[2] = (struct iovec){ f + 5, len - 5 };
	return zs_port_tx(p, iov, 3, NULL);
}

/* (e) Counters: drops when the stack holds every RX frame, -EAGAIN and
 * tx_busy when every TX frame is queued, the byte counts. */
static void test_drops_and_tx_busy(void)
{
	static struct grab g;
	struct zs_port_stats st0, st1, st2;
	struct zs_port *p;
	unsigned bad = 0;
	int b;

	REQUIRE_ENV();
	p = port_open(16, NULL); /* 12 RX frames, 4 TX frames */
	b = b_packet(ETH_P_ALL);
	CHECK(b >= 0);
	if (!p || b < 0)
		goto out;
	zs_port_stats(p, &st0);
	/* Hold all 12 RX frames: the next 6 find no frame to land in. */
	g = (struct grab){ .p = p, .hold = 1 };
	CHECK_EQ(b_echoes(b, zs_port_mac(p), 0, 12), 0);
	CHECK_EQ(rx_wait(p, &g, 12, 3000), 12);
	CHECK_EQ(b_echoes(b, zs_port_mac(p), 100, 6), 0);
	CHECK_EQ(rx_wait(p, &g, 13, 300), 12);
	zs_port_stats(p, &st1);
	CHECK(st1.rx_dropped >= st0.rx_dropped + 6);
	CHECK_EQ(st1.rx_frames - st0.rx_frames, 12);
	/* Given back, they take new frames again. */
	for (unsigned i = 0; i < g.n; i++)
		zs_port_release(p, g.handle[i]);
	g = (struct grab){ .p = p };
	CHECK_EQ(b_echoes(b, zs_port_mac(p), 200, 4), 0);
	CHECK_EQ(rx_wait(p, &g, 4, 3000), 4);
	for (unsigned i = 0; i < g.n; i++)
		bad += grabbed_seq(&g, i) != 200 + i;
	CHECK_EQ(bad, 0);

	/* TX: 4 frames queue (no kick), the 5th finds none free. */
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(tx_test(p, i, 60 + i), 0);
	CHECK_EQ(tx_test(p, 4, 64), -EAGAIN);
	zs_port_stats(p, &st2);
	CHECK_EQ(st2.tx_busy - st0.tx_busy, 1);
	CHECK_EQ(st2.tx_frames - st0.tx_frames, 4);
	CHECK_EQ(st2.tx_bytes - st0.tx_bytes, 60 + 61 + 62 + 63);
	CHECK_EQ(st2.tx_copied - st0.tx_copied, 60 + 61 + 62 + 63);
	CHECK_EQ(st2.rx_frames - st0.rx_frames, 16);
	CHECK(st2.rx_bytes - st0.rx_bytes >= 16 * 74);
	zs_port_flush(p);
	CHECK_EQ(b_test_frames(b, 4, 0, 3000, &bad), 4);
	/* Sent: their frames are free again. */
	CHECK_EQ(tx_test(p, 4, 64), 0);
	zs_port_flush(p);
	CHECK_EQ(b_test_frames(b, 1, 4, 3000, &bad), 1);
	CHECK_EQ(bad, 0);
	/* Sizes: nothing, or more than a frame holds past its metadata room,
	 * is refused (and not counted). */
	{
		uint8_t big[ZS_FRAME_SIZE + 1] = { 0 };
		struct iovec two[2] = { { big, ZS_TX_MAX }, { big, 1 } };
		struct iovec one = { big, ZS_TX_MAX + 1 };

		CHECK_EQ(zs_port_tx(p, two, 2, NULL), -EMSGSIZE);
		CHECK_EQ(zs_port_tx(p, &one, 1, NULL), -EMSGSIZE);
		CHECK_EQ(zs_port_tx(p, two, 0, NULL), -EMSGSIZE);
		zs_port_stats(p, &st1);
		CHECK_EQ(st1.tx_frames - st0.tx_frames, 5);
		CHECK_EQ(st1.tx_busy - st0.tx_busy, 1);
	}
out:
	if (b >= 0)
		close(b);
	zs_port_close(p);
}

/* More frames than the kernel sends per kick (32) go out in one flush. */
static void test_tx_batch(void)
{
	struct zs_port_stats st0, st1;
	struct zs_port *p;
	unsigned bad = 0, n = 300;
	int b;

	REQUIRE_ENV();
	p = port_open(0, NULL); /* 1024 TX frames */
	b = b_packet(ETH_P_ALL);
	CHECK(b >= 0);
	if (!p || b < 0)
		goto out;
	zs_port_stats(p, &st0);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(tx_test(p, i, 100), 0);
	zs_port_flush(p);
	CHECK_EQ(b_test_frames(b, n, 0, 3000, &bad), n);
	CHECK_EQ(bad, 0);
	/* A frame as long as the MTU allows, and one as long as a frame holds
	 * (after the room for TX metadata). */
	CHECK_EQ(tx_test(p, n, 1514), 0);
	zs_port_flush(p);
	CHECK_EQ(b_test_frames(b, 1, n, 3000, &bad), 1);
	CHECK_EQ(bad, 0);
	CHECK_EQ(tx_test(p, n + 1, ZS_TX_MAX), 0); /* too long for veth: dropped there */
	zs_port_flush(p);
	zs_port_stats(p, &st1);
	CHECK_EQ(st1.tx_frames - st0.tx_frames, n + 2);
	CHECK_EQ(st1.tx_bytes - st0.tx_bytes, n * 100 + 1514 + ZS_TX_MAX);
	CHECK_EQ(st1.tx_busy, st0.tx_busy);
out:
	if (b >= 0)
		close(b);
	zs_port_close(p);
}

/* Close detaches the program, leaks no fd, and a new port opens. After it,
 * the stack's frames go to the kernel. */
static void test_close_detaches(void)
{
	struct sig sg = { .type = ETH_P_IP };
	uint8_t f[256], l4[64];
	struct zs_port *p;
	int fds0, fds1, tap, b;
	size_t n;

	REQUIRE_ENV();
	fds0 = check_count_dir("/proc/self/fd");
	p = port_open(0, NULL);
	if (!p)
		return;
	CHECK(xdp_shown()[0] == 'x');
	zs_port_close(p);
	CHECK_EQ(xdp_shown()[0], 0);
	fds1 = check_count_dir("/proc/self/fd");
	CHECK_EQ(fds1, fds0);
	/* Nothing was left behind that refuses a new port. */
	p = port_open(0, NULL);
	CHECK(p != NULL);
	zs_port_close(p);
	CHECK_EQ(xdp_shown()[0], 0);

	tap = a_tap();
	b = b_packet(ETH_P_ALL);
	CHECK(tap >= 0 && b >= 0);
	if (tap >= 0 && b >= 0) {
		uint8_t buf[2048];
		int got = 0, k;

		n = mk_syn(l4, ip4(B_IP), ip4(Z_IP), 6000, Z_PORT);
		CHECK_EQ(pkt_send(b, f, mk_ip(f, mac_bcast, mac_b, 5, NULL, IPPROTO_TCP, ip4(B_IP),
					      ip4(Z_IP), 4242, l4, n)),
			 0);
		sg.ipid = 4242;
		while (!got && (k = pkt_recv(tap, buf, sizeof(buf), 3000)) >= 0)
			got = sig_match(&sg, buf, (size_t)k);
		CHECK(got);
	}
	if (tap >= 0)
		close(tap);
	if (b >= 0)
		close(b);
}

/* (g) TCP checksums finished by the port, each way (zs_port.h's ZS_CSUM_*):
 * a segment with an odd payload leaves with its checksum field holding only
 * the caller's seed (the pseudo-header's sum), and what B's wire carries is
 * right. In software (the port's own, or the kernel's at once with
 * XDP_UMEM_TX_SW_CSUM) the frame carries the whole checksum; through TX
 * metadata it leaves partial (CHECKSUM_PARTIAL), which the kernel completes
 * only where it has to (a NIC, or a path that needs it): here the seed is
 * found in place, and seed plus the segment's own sum is the checksum. A
 * checksum field outside the frame is refused. A kernel before 6.11 has no
 * TX metadata (XDP_UMEM_TX_METADATA_LEN): there the port refuses the
 * kernel's software checksums (EINVAL) and AUTO finishes them itself. */
static void test_tx_checksums(void)
{
	int meta = check_kernel_at_least(6, 11);
	static const uint8_t modes[] = { ZS_CSUM_SOFTWARE, ZS_CSUM_KERNEL_SOFTWARE, ZS_CSUM_AUTO };
	uint8_t seg[20 + 1001], f[1600], got[1600];
	uint32_t saddr = ip4(Z_IP), daddr = ip4(B_IP);
	struct tcphdr t;
	uint8_t ph[12];

	REQUIRE_ENV();
	memset(&t, 0, sizeof(t));
	t.source = htons(Z_LO + 1);
	t.dest = htons(9);
	t.seq = htonl(777);
	t.ack_seq = htonl(1);
	t.doff = 5;
	t.ack = 1;
	t.psh = 1;
	t.window = htons(512);
	memcpy(seg, &t, sizeof(t));
	for (size_t k = sizeof(t); k < sizeof(seg); k++)
		seg[k] = (uint8_t)(k * 7 + 3);
	/* The right checksum, and the seed: the pseudo-header's sum, folded. */
	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	ph[10] = (uint8_t)(sizeof(seg) >> 8);
	ph[11] = (uint8_t)sizeof(seg);
	uint32_t psum = csum_add(0, ph, 12);
	uint16_t right = csum_fold(csum_add(psum, seg, sizeof(seg)));
	uint16_t seed = htons((uint16_t)~ntohs(csum_fold(psum)));
	/* Garbage where the checksum goes: the port writes the seed there. */
	seg[16] = 0xde;
	seg[17] = 0xad;

	for (size_t m = 0; m < sizeof(modes); m++) {
		struct zs_port_config cfg = { .ifname = "zpa", .addr = saddr, .port = Z_PORT,
					      .lport_lo = Z_LO, .lport_hi = Z_HI, .frames = 64,
					      .tx_csum = modes[m] };
		struct zs_port_stats st0, st1;
		struct zs_port *p = NULL;
		int b = b_packet(ETH_P_IP), n = -1;

		CHECK(b >= 0);
		if (!meta && modes[m] == ZS_CSUM_KERNEL_SOFTWARE) {
			CHECK_EQ(zs_port_open(&cfg, &p), -EINVAL);
			goto next;
		}
		CHECK_EQ(zs_port_open(&cfg, &p), 0);
		if (!p || b < 0)
			goto next;
		zs_port_stats(p, &st0);
		size_t len = mk_ip(f, mac_b, zs_port_mac(p), 5, NULL, IPPROTO_TCP, saddr, daddr, 1, seg,
				   sizeof(seg));
		struct iovec iov = { f, len };
		struct zs_tx_csum c = { .start = 34, .offset = 16, .seed = seed };
		struct zs_tx_csum outside = { .start = 34, .offset = (uint16_t)(len - 34 - 1) };
		CHECK_EQ(zs_port_tx(p, &iov, 1, &outside), -EMSGSIZE);
		CHECK_EQ(zs_port_tx(p, &iov, 1, &c), 0);
		zs_port_flush(p);
		while ((n = pkt_recv(b, got, sizeof(got), 3000)) >= 0)
			if ((size_t)n == len && got[23] == IPPROTO_TCP && memcmp(got + 26, &saddr, 4) == 0)
				break;
		CHECK_EQ(n, (int)len);
		if (n != (int)len)
			goto next;
		/* Everything but the checksum as sent. */
		CHECK(memcmp(got, f, 34 + 16) == 0);
		CHECK(memcmp(got + 34 + 18, f + 34 + 18, len - 34 - 18) == 0);
		uint16_t field;
		memcpy(&field, got + 34 + 16, 2);
		zs_port_stats(p, &st1);
		if (modes[m] == ZS_CSUM_AUTO && st1.tx_metadata) {
			CHECK_EQ(field, seed);
			CHECK_EQ(csum_fold(csum_add(0, got + 34, len - 34)), right);
			CHECK_EQ(st1.tx_csum_kernel - st0.tx_csum_kernel, 1);
		} else {
			CHECK_EQ(field, right);
			CHECK_EQ(csum_fold(csum_add(psum, got + 34, len - 34)), 0);
			if (modes[m] == ZS_CSUM_KERNEL_SOFTWARE)
				CHECK_EQ(st1.tx_csum_kernel - st0.tx_csum_kernel, 1);
			else
				CHECK_EQ(st1.tx_csum_software - st0.tx_csum_software, 1);
		}
		CHECK_EQ(st1.tx_metadata, modes[m] != ZS_CSUM_SOFTWARE && meta);
	next:
		zs_port_close(p);
		if (b >= 0)
			close(b);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	env_setup();
	if (!env_why[0]) {
		int s = b_socket(AF_INET, SOCK_DGRAM, 0);

		if (s < 0 || if_mac(s, "zpb", mac_b) < 0)
			snprintf(env_why, sizeof(env_why), "cannot read zpb's MAC");
		if (s >= 0)
			close(s);
	}
	RUN(test_open);
	RUN(test_arp);
	RUN(test_ping);
	RUN(test_steering);
	RUN(test_release_reuses);
	RUN(test_drops_and_tx_busy);
	RUN(test_tx_batch);
	RUN(test_tx_checksums);
	RUN(test_close_detaches);
	env_teardown();
	return CHECK_DONE();
}
