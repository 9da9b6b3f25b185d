/*
 * test_http_server.c - libsure's HTTP server (src/http_server.c and its
 * helpers) over real sockets, no KVM: a fake owner serves a few /invoke
 * routes (echo, slow answers from a tick, a held exchange, a big answer), a
 * fake upstream on a unix socket answers everything else, and clients speak
 * raw HTTP/1.1 to check framing, order, timeouts, tunnels and closing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http_server.h"
#include "util.h"

/* ---- the fake owner ---- */

enum { R_ECHO = 1, R_SLOW, R_HOLD, R_BIG, R_FIXED, R_ERR, R_EMPTY, R_OWN, R_SMALL, R_ZERO, R_IDLE,
       R_POLL };

#define SLOW_MAX 16
#define BIG_LEN (8u << 20)

static atomic_int n_take, n_run, n_cancel, n_answered;
static struct sure_http_exchange *slow_q[SLOW_MAX];
static uint64_t slow_due[SLOW_MAX];
static int slow_n;
/* Several servers run at once (each its own thread): the queue is shared. */
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sure_http_exchange *_Atomic held; /* read by the tests too */
static uint8_t own_buf[64];
/* R_IDLE: run() queues, idle() answers when armed; R_POLL: idle() answers
 * while the server polls (not armed). The server's thread only. */
static struct sure_http_exchange *idle_q[16], *poll_q[16];
static int idle_n, idle_done, poll_n, poll_done;
static atomic_int n_idle, n_polls, n_poll_answers;
static uint8_t *big;

static int take(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		uint64_t *max_body, uint32_t *route, uint8_t **body, uint64_t *body_cap)
{
	static const struct {
		const char *name;
		uint32_t route;
	} routes[] = {
		{ "echo", R_ECHO }, { "slow", R_SLOW },	  { "hold", R_HOLD }, { "big", R_BIG },
		{ "fixed", R_FIXED }, { "err", R_ERR }, { "empty", R_EMPTY }, { "own", R_OWN },
		{ "small", R_SMALL }, { "zero", R_ZERO }, { "idle", R_IDLE },
		{ "poll", R_POLL },
	};

	(void)ctx;
	(void)head;
	n_take++;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(req->name, routes[i].name))
			continue;
		*route = routes[i].route;
		if (*route == R_SMALL)
			*max_body = 16;
		if (*route == R_ZERO)
			*max_body = 0;
		if (*route == R_OWN) {
			*body = own_buf;
			*body_cap = sizeof(own_buf);
		}
		return 1;
	}
	return 0; /* not ours: the upstream's */
}

/* Answers with the body back (and the path in a header). Its buffers are
 * shared by the servers' threads: one at a time. */
static void answer_echo(struct sure_http_exchange *ex, const char *prefix)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint8_t rh[SURE_RESP_HEAD_CAP], out[1 << 20];
	const struct sure_head *h = (const struct sure_head *)ex->head;
	size_t pl = strlen(prefix);

	pthread_mutex_lock(&lock);
	sure_http_resp_head_reset(rh);
	sure_http_head_add(rh, "X-Echo", 6, "yes", 3);
	sure_http_head_add(rh, "X-Path", 6, (const char *)ex->head + h->path.off, h->path.len);
	if (ex->body_len + pl > sizeof(out))
		abort();
	memcpy(out, prefix, pl);
	memcpy(out + pl, ex->body, ex->body_len);
	if (sure_http_answer(ex, 200, rh, out, pl + ex->body_len) == 0)
		n_answered++;
	pthread_mutex_unlock(&lock);
}

static void run(void *ctx, struct sure_http_exchange *ex)
{
	static uint8_t rh[SURE_RESP_HEAD_CAP];

	(void)ctx;
	n_run++;
	switch (ex->route) {
	case R_SLOW:
		pthread_mutex_lock(&slow_lock);
		if (slow_n == SLOW_MAX)
			abort();
		slow_due[slow_n] = 0;
		slow_q[slow_n++] = ex;
		pthread_mutex_unlock(&slow_lock);
		break;
	case R_HOLD:
		held = ex;
		break;
	case R_BIG:
		for (uint32_t i = 0; i < BIG_LEN; i++)
			big[i] = (uint8_t)(i * 7 + (i >> 13));
		if (sure_http_answer(ex, 200, NULL, big, BIG_LEN) == 0)
			n_answered++;
		memset(big, 0, BIG_LEN); /* the server must have its own copy by now */
		break;
	case R_FIXED:
		sure_http_resp_head_reset(rh);
		sure_http_head_add(rh, "Content-Type", 12, "text/plain", 10);
		ex->request_id = "owner-id-1";
		if (sure_http_answer(ex, 200, rh, (const uint8_t *)"hello", 5) == 0)
			n_answered++;
		break;
	case R_ERR:
		if (sure_http_answer_error(ex, 429, "too_many", "a \"quoted\"\n\\ message", ",\"retry\":1") ==
		    0)
			n_answered++;
		break;
	case R_EMPTY:
		if (sure_http_answer(ex, 204, NULL, (const uint8_t *)"no", 2) == 0)
			n_answered++;
		break;
	case R_OWN:
		CHECK(ex->body == own_buf);
		answer_echo(ex, "own:");
		break;
	case R_POLL: /* answered by idle() while the server polls */
		poll_q[poll_n++ % 16] = ex;
		return;
	case R_IDLE: /* answered by idle(), when the server is about to sleep */
		idle_q[idle_n++ % 16] = ex;
		break;
	default:
		answer_echo(ex, "");
		break;
	}
}

static void cancel(void *ctx, struct sure_http_exchange *ex)
{
	(void)ctx;
	n_cancel++;
	if (ex == held)
		held = NULL;
	pthread_mutex_lock(&slow_lock);
	for (int i = 0; i < slow_n; i++) {
		if (slow_q[i] != ex)
			continue;
		memmove(&slow_q[i], &slow_q[i + 1], (size_t)(slow_n - i - 1) * sizeof(slow_q[0]));
		memmove(&slow_due[i], &slow_due[i + 1], (size_t)(slow_n - i - 1) * sizeof(slow_due[0]));
		slow_n--;
		break;
	}
	pthread_mutex_unlock(&slow_lock);
	/* Answering a cancelled exchange is refused. */
	CHECK_EQ(sure_http_answer(ex, 200, NULL, NULL, 0), -EINVAL);
}

/* Slow answers: 50 ms after the tick first sees them, oldest first; each
 * server's tick answers its own exchanges (on its own thread). */
static void slow_tick(void *arg, uint64_t now)
{
	struct sure_http_server *srv = arg;

	for (;;) {
		struct sure_http_exchange *ex = NULL;
		pthread_mutex_lock(&slow_lock);
		for (int i = 0; i < slow_n && !ex; i++) {
			if (slow_q[i]->srv != srv)
				continue;
			if (!slow_due[i])
				slow_due[i] = now + 50 * 1000000ull;
			if (now < slow_due[i])
				break; /* the older ones first */
			ex = slow_q[i];
			memmove(&slow_q[i], &slow_q[i + 1], (size_t)(slow_n - i - 1) * sizeof(slow_q[0]));
			memmove(&slow_due[i], &slow_due[i + 1],
				(size_t)(slow_n - i - 1) * sizeof(slow_due[0]));
			slow_n--;
		}
		pthread_mutex_unlock(&slow_lock);
		if (!ex)
			return;
		answer_echo(ex, "slow:");
	}
}

/* The server has nothing to do. Polling (arm 0): R_POLL's exchanges are
 * answered (1); R_IDLE's are outstanding (0) but wait for the armed call;
 * else nothing is (-1). About to sleep (arm 1): R_IDLE's are answered now
 * (so the server must not sleep: 1). */
static _Atomic uint64_t poll_for_ns = 30000, poll_nap_ns; /* what idle() says (test_idle_naps) */

static int idle(void *ctx, int arm, struct sure_http_poll *poll)
{
	int any = 0;

	(void)ctx;
	poll->for_ns = poll_for_ns;
	poll->nap_ns = poll_nap_ns;
	if (!arm) {
		n_polls++;
		while (poll_done < poll_n) {
			n_poll_answers++; /* before the answer, which the client may see at once */
			answer_echo(poll_q[poll_done++ % 16], "poll:");
			any = 1;
		}
		return any ? 1 : idle_done < idle_n ? 0 : -1;
	}
	n_idle++;
	while (idle_done < idle_n) {
		struct sure_http_exchange *ex = idle_q[idle_done++ % 16];
		answer_echo(ex, "idle:");
		any = 1;
	}
	return any;
}

/* Another node (test_forward): where forward() sends names it knows. */
static struct sockaddr_in node_ok, node_refusing, node_mute;

static int forward(void *ctx, const struct sure_http_req *req, const uint8_t *head,
		   struct sure_http_forward *fw)
{
	int mute = !strcmp(req->name, "fwmute") || !strcmp(req->name, "fwlong");
	int chain = !strcmp(req->name, "fwchain"); /* a chain whose step 0 b runs */
	int priv = !strcmp(req->name, "fwpriv"); /* signed: the caller's token stays */
	const struct sockaddr_in *to = mute ? &node_mute
				       : !strcmp(req->name, "fw") || chain || priv ? &node_ok
				       : !strcmp(req->name, "fwref")       ? &node_refusing
									   : NULL;

	(void)ctx;
	(void)head;
	if (!to)
		return 0;
	memset(fw, 0, sizeof(*fw));
	fw->addr = *to;
	snprintf(fw->node, sizeof(fw->node), "%s", mute ? "c" : "b");
	snprintf(fw->name, sizeof(fw->name), "%s", req->name);
	/* fwlong: failed by sure_http_server_fail_node, not by the clock */
	fw->timeout_ms = !strcmp(req->name, "fwlong") ? 20000 : 300;
	snprintf(fw->mark, sizeof(fw->mark), "%s",
		 chain  ? "x-sure-chain-entry: 1\r\n"
		 : priv ? "x-sure-forwarded-by: a\r\nx-sure-forward-mac: m\r\n"
			: "x-sure-forwarded-by: a\r\n");
	fw->chain = (uint8_t)chain;
	fw->drop_auth = (uint8_t)priv;
	return 1;
}

static const struct sure_http_ops OPS = { take, run, cancel, forward, idle };

/* ---- the fake upstream: answers one canned response per connection ---- */

static char up_path[108];
static pthread_t up_thr;
static atomic_int up_stop, up_conns;
static pthread_mutex_t up_lock = PTHREAD_MUTEX_INITIALIZER;
static char up_got[65536];
static size_t up_got_len;

#define UP_ANSWER "HTTP/1.1 200 OK\r\ncontent-length: 8\r\nx-from: upstream\r\n\r\nupstream"
/* An answer whose end only a chunk parser can tell: the tunnel stays. */
#define UP_CHUNKED "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"

/* Content-Length of a raw head, 0 when none. */
static size_t raw_length(const char *head, size_t len)
{
	for (size_t i = 0; i + 16 < len; i++)
		if (strncasecmp(head + i, "\r\ncontent-length:", 17) == 0)
			return strtoul(head + i + 17, NULL, 10);
	return 0;
}

/* Reads one request (head and Content-Length body) and answers it: the
 * canned answer, or for /stream its body back, in one answer. */
static void up_serve(int fd)
{
	size_t cap = 1 << 16, len = 0, need = 0;
	char *buf = malloc(cap);

	for (;;) {
		if (len == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		char *end = memmem(buf, len, "\r\n\r\n", 4);
		if (end && !need)
			need = (size_t)(end + 4 - buf) + raw_length(buf, (size_t)(end - buf));
		if (need && len >= need)
			break;
	}
	pthread_mutex_lock(&up_lock);
	up_got_len = len < sizeof(up_got) ? len : sizeof(up_got);
	memcpy(up_got, buf, up_got_len);
	pthread_mutex_unlock(&up_lock);
	if (len > 12 && memcmp(buf, "POST /stream", 12) == 0 && need && len >= need) {
		char *end = memmem(buf, len, "\r\n\r\n", 4);
		size_t hl = (size_t)(end + 4 - buf), bl = need - hl;
		char head[128];
		int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\ncontent-length: %zu\r\n\r\n", bl);
		if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n) {
			for (size_t off = 0; off < bl;) {
				ssize_t k = send(fd, buf + hl + off, bl - off, MSG_NOSIGNAL);
				if (k <= 0)
					break;
				off += (size_t)k;
			}
		}
	} else if (len > 12 && memcmp(buf, "GET /chunked", 12) == 0) {
		if (send(fd, UP_CHUNKED, strlen(UP_CHUNKED), MSG_NOSIGNAL) < 0) {
			/* the test will tell */
		}
	} else if (send(fd, UP_ANSWER, strlen(UP_ANSWER), MSG_NOSIGNAL) < 0) {
		/* the test will tell */
	}
	free(buf);
	up_conns++;
	close(fd);
}

static void *up_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	while (!up_stop) {
		struct pollfd p = { lfd, POLLIN, 0 };
		if (poll(&p, 1, 20) == 1) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0)
				up_serve(fd);
		}
	}
	close(lfd);
	return NULL;
}

static void up_start(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(up_path, sizeof(up_path), "/tmp/sure-test-up-%d.sock", (int)getpid());
	unlink(up_path);
	strcpy(a.sun_path, up_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0)
		abort();
	pthread_create(&up_thr, NULL, up_main, (void *)(intptr_t)fd);
}

/* ---- clients ---- */

struct client {
	int fd;
	size_t len, cap;
	char *buf;
};

struct resp {
	int status;
	size_t head_len, body_len;
	char head[16384];
	char *body; /* into the client's buffer, valid until the next read */
};

/* The pass's way of reading kernel sockets: every test runs on both. */
static uint8_t io_mode;

static struct sure_http_server_config base_cfg(void)
{
	struct sure_http_server_config cfg = { 0 };

	cfg.io = io_mode;
	cfg.host = "127.0.0.1";
	cfg.upstream = up_path;
	cfg.ops = &OPS;
	return cfg;
}

static struct sure_http_server *start(struct sure_http_server_config *cfg)
{
	struct sure_http_server *s = NULL;

	if (sure_http_server_start(cfg, &s) < 0)
		abort();
	if (sure_http_server_tick(s, 10, slow_tick, s) < 0)
		abort();
	return s;
}

static void client_open(struct client *cl, struct sure_http_server *s, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(sure_http_server_port(s)) };
	struct timeval tv = { 3, 0 };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(cl, 0, sizeof(*cl));
	cl->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (rcvbuf)
		setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(cl->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	cl->cap = 1 << 16;
	cl->buf = malloc(cl->cap);
}

static void client_close(struct client *cl)
{
	close(cl->fd);
	free(cl->buf);
}

static void send_str(struct client *cl, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(cl->fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}
#define SEND(cl, s) send_str((cl), (s), strlen(s))

/* Reads more into the client's buffer: bytes read, 0 at EOF, -1 on error/timeout. */
static ssize_t client_more(struct client *cl)
{
	if (cl->len == cl->cap) {
		cl->cap *= 2;
		cl->buf = realloc(cl->buf, cl->cap);
	}
	ssize_t n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);
	if (n > 0)
		cl->len += (size_t)n;
	return n;
}

static const char *header(const struct resp *r, const char *name)
{
	static char val[256];
	size_t nl = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			const char *v = p + 3 + nl, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
			return val;
		}
	}
	return NULL;
}

/* Drops the first n bytes of the client's buffer (the last response). */
static void client_consume(struct client *cl, size_t n)
{
	memmove(cl->buf, cl->buf + n, cl->len - n);
	cl->len -= n;
}

/* One response (after any 100 Continue unless want_100): 0, or -1 if the
 * connection ended or timed out first. no_body: a HEAD's answer. */
static int read_resp(struct client *cl, struct resp *r, int no_body)
{
	char *end;

	memset(r, 0, offsetof(struct resp, head));
	while (!(end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)))
		if (client_more(cl) <= 0)
			return -1;
	r->head_len = (size_t)(end + 4 - cl->buf);
	if (r->head_len >= sizeof(r->head))
		return -1;
	memcpy(r->head, cl->buf, r->head_len);
	r->head[r->head_len] = 0;
	r->status = atoi(r->head + 9);
	const char *cl_h = header(r, "content-length");
	r->body_len = no_body || !cl_h ? 0 : strtoul(cl_h, NULL, 10);
	while (cl->len < r->head_len + r->body_len)
		if (client_more(cl) <= 0)
			return -1;
	r->body = cl->buf + r->head_len;
	return 0;
}

/* Reads the next response and leaves its body in body (NUL-terminated). */
static int next_resp(struct client *cl, struct resp *r, char *body, size_t cap, int no_body)
{
	if (read_resp(cl, r, no_body) < 0)
		return -1;
	snprintf(body, cap, "%.*s", (int)r->body_len, r->body);
	client_consume(cl, r->head_len + r->body_len);
	return 0;
}

/* 1 if the server closes the connection (EOF or reset) within 3 s and sends nothing more. */
static int closed_by_server(struct client *cl)
{
	size_t before = cl->len;
	ssize_t n;

	while ((n = client_more(cl)) > 0)
		;
	return n == 0 && cl->len == before ? 1 : n == 0 ? 2 : 0;
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 300 && *v < want; i++)
		usleep(10000);
}

/* ---- tests ---- */

static struct sure_http_server *S;

static void test_keep_alive(void)
{
	struct client cl;
	struct resp r;
	char body[256];
	struct sure_http_server_stats st;

	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/echo/a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: req-42\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(header(&r, "x-echo") && strcmp(header(&r, "x-echo"), "yes") == 0);
	CHECK(header(&r, "x-path") && strcmp(header(&r, "x-path"), "/a/b") == 0);
	CHECK(header(&r, "content-type") &&
	      strcmp(header(&r, "content-type"), "application/octet-stream") == 0);
	CHECK(header(&r, "x-request-id") && strcmp(header(&r, "x-request-id"), "req-42") == 0);
	CHECK(header(&r, "connection") == NULL);
	CHECK_EQ(r.body_len, 0);
	/* The same connection again, with a body. */
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "hello world") == 0);
	CHECK(header(&r, "x-request-id") == NULL);
	/* The owner's content-type and request id win. */
	SEND(&cl, "GET /invoke/fixed HTTP/1.1\r\nHost: h\r\nX-Request-Id: mine\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "hello") == 0);
	CHECK(header(&r, "content-type") && strcmp(header(&r, "content-type"), "text/plain") == 0);
	CHECK(header(&r, "x-request-id") && strcmp(header(&r, "x-request-id"), "owner-id-1") == 0);
	/* The owner's own body buffer. */
	SEND(&cl, "POST /invoke/own HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "own:abc") == 0);
	/* HTTP/1.0 keeps the connection only when asked, and is told so. */
	SEND(&cl, "GET /invoke/echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "connection") && strcmp(header(&r, "connection"), "keep-alive") == 0);
	/* Connection: close is honoured after the answer. */
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "connection") && strcmp(header(&r, "connection"), "close") == 0);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
	sure_http_server_stats(S, &st);
	CHECK(st.requests >= 5);
	CHECK(st.conns_accepted >= 1);
	CHECK(st.bytes_in > 0 && st.bytes_out > 0);
}

static void test_pipelined(void)
{
	struct client cl;
	struct resp r;
	char body[256];

	client_open(&cl, S, 0);
	/* slow, then fast, then slow: answered in request order all the same */
	SEND(&cl, "POST /invoke/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\none"
		  "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ntwo"
		  "GET /invoke/slow/three HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "slow:one") == 0);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "two") == 0);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "slow:") == 0);
	CHECK(header(&r, "x-path") && strcmp(header(&r, "x-path"), "/three") == 0);
	client_close(&cl);
}

/* What the owner's idle hook answers goes out before the server sleeps:
 * nothing else wakes it for these (no tick, no watch). */
static void test_idle_hook(void)
{
	struct client cl;
	struct resp r;
	char body[256];
	int before = n_idle;

	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/idle HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\none"
		  "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ntwo");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "idle:one") == 0);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "two") == 0);
	CHECK(n_idle > before);
	client_close(&cl);
}

/* Before it sleeps, the server polls its owner: an answer found then goes
 * out without the armed look (the one a guest's wake-up call would need),
 * and an exchange still outstanding is polled for a while, then armed for
 * (test_idle_hook's, which only the armed look answers). */
static void test_idle_poll(void)
{
	struct client cl;
	struct resp r;
	char body[256];
	int answers = n_poll_answers, polls = n_polls, armed = n_idle;

	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/poll HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\none");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "poll:one") == 0);
	CHECK_EQ(n_poll_answers, answers + 1);
	/* Outstanding: polled more than once (for ~30 us), then armed. */
	polls = n_polls;
	armed = n_idle;
	SEND(&cl, "POST /invoke/idle HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ntwo");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "idle:two") == 0);
	CHECK(n_polls > polls + 1);
	CHECK(n_idle > armed);
	client_close(&cl);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An owner whose answers are due far apart lets the server nap between its
 * looks: a 1.2 s spell with 400 ms naps is a handful of looks, not a spin
 * (hundreds of thousands), and a request that comes during a nap is served
 * at once, not when the nap ends (the bounds are that wide so that a loaded
 * machine cannot fail them). */
static void test_idle_naps(void)
{
	struct client cl, other;
	struct resp r;
	char body[256];

	poll_for_ns = 1200000000;
	poll_nap_ns = 400000000;
	client_open(&cl, S, 0);
	client_open(&other, S, 0);
	int polls = n_polls;
	uint64_t t0 = mono_ms();
	SEND(&cl, "POST /invoke/idle HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\none");
	usleep(100000); /* into the spell, in a nap */
	uint64_t t1 = mono_ms();
	SEND(&other, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nnow");
	CHECK_EQ(next_resp(&other, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "now") == 0);
	uint64_t served = mono_ms() - t1;
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "idle:one") == 0);
	uint64_t spell = mono_ms() - t0;
	int looks = n_polls - polls;
	CHECK(spell >= 1200); /* the spell ran its length (the echo starts it anew) */
	CHECK(looks >= 2 && looks <= 20);
	CHECK(served < 200);
	if (looks < 2 || looks > 20 || served >= 200)
		fprintf(stderr, "  %d looks in %llu ms, the echo served in %llu ms\n", looks,
			(unsigned long long)spell, (unsigned long long)served);
	poll_for_ns = 30000;
	poll_nap_ns = 0;
	client_close(&other);
	client_close(&cl);
}

static void test_bodies(void)
{
	struct client cl;
	struct resp r;
	char body[4096], want[2001];

	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: 1\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "hello world") == 0);
	/* A Content-Length body in many small writes (received in place). */
	for (int i = 0; i < 2000; i++)
		want[i] = (char)('a' + i % 26);
	want[2000] = 0;
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n");
	for (int i = 0; i < 2000; i += 100) {
		send_str(&cl, want + i, 100);
		usleep(500);
	}
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.body_len, 2000);
	CHECK(strcmp(body, want) == 0);
	client_close(&cl);
}

/* Bodies past the input buffer: chunked (our buffer, sized to the limit)
 * and Content-Length after a 100 Continue (received in place). */
static void test_large_bodies(void)
{
	static char want[300001], req[400000];
	static char body[300100];
	struct client cl;
	struct resp r;
	struct sure_http_server_stats st0, st1;
	size_t n = 0;

	sure_http_server_stats(S, &st0);
	for (size_t i = 0; i < 300000; i++)
		want[i] = (char)('A' + (i * 13) % 50);
	client_open(&cl, S, 0);
	n = (size_t)snprintf(req, sizeof(req),
			     "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (size_t off = 0; off < 300000; off += 30000)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "7530\r\n%.30000s\r\n", want + off);
	n += (size_t)snprintf(req + n, sizeof(req) - n, "0\r\n\r\n");
	send_str(&cl, req, n);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK_EQ(r.body_len, 300000);
	CHECK(strcmp(body, want) == 0);
	/* Every chunk went through the input buffer: the parser copied it, counted. */
	sure_http_server_stats(S, &st1);
	CHECK_EQ(st1.copied_in - st0.copied_in, 300000);
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
		  "Content-Length: 300000\r\n\r\n");
	CHECK_EQ(read_resp(&cl, &r, 1), 0);
	CHECK_EQ(r.status, 100);
	client_consume(&cl, r.head_len);
	send_str(&cl, want, 300000);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.body_len, 300000);
	CHECK(strcmp(body, want) == 0);
	/* Sent after the head was read: received in place, nothing copied. */
	sure_http_server_stats(S, &st0);
	CHECK_EQ(st0.copied_in, st1.copied_in);
	client_close(&cl);
}

static void test_expect_continue(void)
{
	struct client cl;
	struct resp r;
	char body[256];

	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
		  "Content-Length: 4\r\n\r\n");
	CHECK_EQ(read_resp(&cl, &r, 1), 0);
	CHECK_EQ(r.status, 100);
	CHECK_EQ(r.head_len, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
	client_consume(&cl, r.head_len);
	SEND(&cl, "ping");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "ping") == 0);
	/* Over the function's limit: 413 at once, no 100, the body never read. */
	SEND(&cl, "POST /invoke/small HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
		  "Content-Length: 100\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 413);
	CHECK(strstr(body, "\"error\":\"payload_too_large\"") != NULL);
	CHECK(strstr(body, "\"limit\":16}") != NULL);
	CHECK(header(&r, "connection") && strcmp(header(&r, "connection"), "close") == 0);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
	/* chunked past the limit: 413 once the chunks say so */
	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "10\r\n0123456789abcdef\r\n1\r\nx\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 413);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
	/* a function that takes no body at all (and a fresh connection, no buffer yet) */
	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/zero HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "1\r\nx\r\n0\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 413);
	CHECK(strstr(body, "\"limit\":0}") != NULL);
	client_close(&cl);
}

/* A request the parser refuses: status, error code, connection closed. */
static void refused(const char *req, size_t len, int status, const char *code)
{
	struct client cl;
	struct resp r;
	char body[512], want[64];

	client_open(&cl, S, 0);
	send_str(&cl, req, len);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, status);
	snprintf(want, sizeof(want), "{\"error\":\"%s\",\"message\":\"", code);
	CHECK(strncmp(body, want, strlen(want)) == 0);
	CHECK(header(&r, "content-type") &&
	      strcmp(header(&r, "content-type"), "application/json") == 0);
	CHECK(header(&r, "connection") && strcmp(header(&r, "connection"), "close") == 0);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
}

static void refused_str(const char *req, int status, const char *code)
{
	refused(req, strlen(req), status, code);
}

static void test_parse_errors(void)
{
	static char big[40000];
	struct sure_http_server_stats st0, st1;
	size_t n;

	sure_http_server_stats(S, &st0);
	refused_str("GET /invoke/echo HTTP/1.1\r\n\r\n", 400, "bad_request"); /* no Host */
	refused_str("GET /x HTTP/2.0\r\nHost: h\r\n\r\n", 505, "http_version_not_supported");
	refused_str("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
		"not_implemented");
	n = (size_t)snprintf(big, sizeof(big), "GET /");
	memset(big + n, 'a', 9000);
	n += 9000;
	n += (size_t)snprintf(big + n, sizeof(big) - n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	refused(big, n, 414, "uri_too_long");
	n = (size_t)snprintf(big, sizeof(big), "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < 8; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad-%d: ", i);
		memset(big + n, 'v', 4500);
		n += 4500;
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	}
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	refused(big, n, 431, "request_headers_too_large");
	refused_str("POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", 413,
		"payload_too_large");
	sure_http_server_stats(S, &st1);
	CHECK_EQ(st1.parse_errors - st0.parse_errors, 6);
}

static void test_no_body_answers(void)
{
	struct client cl;
	struct resp r;
	char body[512];

	client_open(&cl, S, 0);
	SEND(&cl, "HEAD /invoke/fixed HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 1), 0);
	CHECK_EQ(r.status, 200);
	CHECK(header(&r, "content-length") && strcmp(header(&r, "content-length"), "5") == 0);
	SEND(&cl, "GET /invoke/empty HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 1), 0);
	CHECK_EQ(r.status, 204);
	CHECK(header(&r, "content-length") == NULL);
	/* Nothing stray came after either: the next answer starts right here. */
	SEND(&cl, "GET /invoke/err HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 429);
	CHECK(strcmp(body, "{\"error\":\"too_many\",\"message\":\"a \\\"quoted\\\"\\u000a\\\\ message\","
			   "\"retry\":1}") == 0);
	CHECK(header(&r, "content-type") &&
	      strcmp(header(&r, "content-type"), "application/json") == 0);
	CHECK_EQ(cl.len, 0);
	client_close(&cl);
}

static void test_tunnel(void)
{
	const char *req = "POST /admin/x?y=1 HTTP/1.1\r\nHost: h\r\nX-Odd:  kept  \r\n"
			  "Content-Length: 5\r\n\r\nabcde";
	struct client cl;
	struct resp r;
	char body[512];
	struct sure_http_server_stats st0, st1;
	int conns = up_conns;

	sure_http_server_stats(S, &st0);
	client_open(&cl, S, 0);
	SEND(&cl, req);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "upstream") == 0);
	CHECK(header(&r, "x-from") != NULL);
	/* One exchange: the connection is parsed again after its answer, so an
	 * /invoke on it is the owner's, not the upstream's. */
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "x-echo") != NULL);
	client_close(&cl);
	wait_for(&up_conns, conns + 1);
	pthread_mutex_lock(&up_lock);
	CHECK_EQ(up_got_len, strlen(req));
	CHECK(memcmp(up_got, req, strlen(req)) == 0);
	pthread_mutex_unlock(&up_lock);

	/* An /invoke name the owner does not take, after a request it served:
	 * the tunnel starts at the first byte of that request. */
	req = "GET /invoke/nope/z HTTP/1.1\r\nHost: h\r\n\r\n";
	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "x-echo") != NULL);
	SEND(&cl, req);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "upstream") == 0);
	client_close(&cl);
	wait_for(&up_conns, conns + 2);
	pthread_mutex_lock(&up_lock);
	CHECK_EQ(up_got_len, strlen(req));
	CHECK(memcmp(up_got, req, strlen(req)) == 0);
	pthread_mutex_unlock(&up_lock);
	sure_http_server_stats(S, &st1);
	CHECK_EQ(st1.tunnelled - st0.tunnelled, 2);
}

/* Requests for the upstream between /invoke requests on one connection,
 * pipelined: each exchange is tunnelled alone, in order, and what follows it
 * is parsed again; a body of many segments passes whole. An answer whose end
 * the server cannot tell (chunked) keeps the tunnel until the upstream closes. */
static void test_tunnel_one_exchange(void)
{
	static char big[300001], req[300200];
	const char *second = "POST /admin/b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
	struct client cl;
	struct resp r;
	char body[512];
	struct sure_http_server_stats st0, st1;
	int n, conns = up_conns;

	sure_http_server_stats(S, &st0);
	client_open(&cl, S, 0);
	SEND(&cl, "GET /admin/a HTTP/1.1\r\nHost: h\r\n\r\n"
		  "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n"
		  "POST /admin/b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
		  "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "upstream") == 0);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "x-echo") != NULL);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "upstream") == 0);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "x-echo") != NULL);
	wait_for(&up_conns, conns + 2);
	pthread_mutex_lock(&up_lock);
	CHECK_EQ(up_got_len, strlen(second)); /* exactly its request, nothing of the next */
	CHECK(memcmp(up_got, second, strlen(second)) == 0);
	pthread_mutex_unlock(&up_lock);

	/* A body far bigger than the input buffer, then an /invoke. */
	for (size_t i = 0; i < 300000; i++)
		big[i] = (char)('a' + (i * 7) % 26);
	n = snprintf(req, sizeof(req),
		     "POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: 300000\r\n\r\n%s", big);
	send_str(&cl, req, (size_t)n);
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(read_resp(&cl, &r, 0), 0);
	CHECK(r.body_len == 300000 && memcmp(r.body, big, 300000) == 0);
	client_consume(&cl, r.head_len + r.body_len);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(header(&r, "x-echo") != NULL);
	sure_http_server_stats(S, &st1);
	CHECK_EQ(st1.tunnelled - st0.tunnelled, 3);

	/* Chunked: relayed as it comes, and the connection ends with the upstream's. */
	SEND(&cl, "GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n");
	while (client_more(&cl) > 0)
		;
	CHECK(cl.len == strlen(UP_CHUNKED) && memcmp(cl.buf, UP_CHUNKED, cl.len) == 0);
	client_close(&cl);
}

/* Big bodies both ways through a tunnel, and the client's half-close
 * passed on while the answer still comes back. */
static void test_tunnel_stream(void)
{
	static char want[1000001], req[1000200];
	struct client cl;
	struct resp r;
	int n, conns = up_conns;

	for (size_t i = 0; i < 1000000; i++)
		want[i] = (char)('a' + (i * 31) % 26);
	n = snprintf(req, sizeof(req), "POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n%s",
		     want);
	client_open(&cl, S, 0);
	send_str(&cl, req, (size_t)n);
	shutdown(cl.fd, SHUT_WR);
	CHECK_EQ(read_resp(&cl, &r, 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK_EQ(r.body_len, 1000000);
	CHECK(r.body_len == 1000000 && memcmp(r.body, want, 1000000) == 0);
	client_consume(&cl, r.head_len + r.body_len);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
	wait_for(&up_conns, conns + 1);
}

static void test_upstream_down(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct sure_http_server *s;
	struct client cl;
	struct resp r;
	char body[512];

	cfg.upstream = "/tmp/sure-test-nobody-listens-here.sock";
	s = start(&cfg);
	client_open(&cl, s, 0);
	SEND(&cl, "GET /admin HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 502);
	CHECK(strncmp(body, "{\"error\":\"upstream_unavailable\",\"message\":\"", 43) == 0);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
	sure_http_server_stop(s, 0);
}

static void test_timeouts(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct sure_http_server *s;
	struct sure_http_server_stats st;
	struct client cl;
	struct resp r;
	char body[512];

	cfg.header_timeout_ms = 200;
	cfg.body_timeout_ms = 200;
	cfg.idle_timeout_ms = 300;
	cfg.write_timeout_ms = 200;
	s = start(&cfg);
	/* a head that never ends */
	client_open(&cl, s, 0);
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 408);
	CHECK(strstr(body, "\"error\":\"request_timeout\"") != NULL);
	CHECK_EQ(closed_by_server(&cl), 1);
	client_close(&cl);
	/* a body that stalls: the owner had taken it, so it hears cancel */
	int cancels = n_cancel;
	client_open(&cl, s, 0);
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 408);
	CHECK_EQ(n_cancel, cancels + 1);
	client_close(&cl);
	/* an idle keep-alive connection: just closed */
	client_open(&cl, s, 0);
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	uint64_t t0 = sure_now_ns();
	CHECK_EQ(closed_by_server(&cl), 1);
	uint64_t waited = (sure_now_ns() - t0) / 1000000;
	CHECK(waited >= 200 && waited < 1500);
	client_close(&cl);
	sure_http_server_stats(s, &st);
	CHECK_EQ(st.timeouts, 2);
	/* a client that never reads its (big) answer: cut off */
	client_open(&cl, s, 4096);
	SEND(&cl, "GET /invoke/big HTTP/1.1\r\nHost: h\r\n\r\n");
	for (int i = 0; i < 100 && st.timeouts < 3; i++) {
		usleep(10000);
		sure_http_server_stats(s, &st);
	}
	CHECK_EQ(st.timeouts, 3);
	CHECK_EQ(st.conns_open, 0);
	client_close(&cl);
	sure_http_server_stop(s, 0);
}

static void test_cancel_on_disconnect(void)
{
	struct client cl;
	int runs = n_run, cancels = n_cancel, answered = n_answered;

	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/hold HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi");
	wait_for(&n_run, runs + 1);
	CHECK_EQ(n_run, runs + 1);
	client_close(&cl);
	wait_for(&n_cancel, cancels + 1);
	usleep(50000);
	CHECK_EQ(n_cancel, cancels + 1);
	CHECK_EQ(n_answered, answered);
	CHECK(held == NULL);
}

/* Clients that reset their connections with a head or a body half sent, or
 * nothing: nothing the server waits on (a recv, a poll) outlives them, and
 * it serves on as ever. */
static void test_abrupt_closes(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct sure_http_server *s = start(&cfg);
	struct sure_http_server_stats st;
	struct linger rst = { 1, 0 };
	struct client cl[64], one;
	struct resp r;
	char body[64];

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++) {
			client_open(&cl[i], s, 0);
			if (i % 3 == 1)
				SEND(&cl[i], "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Le");
			if (i % 3 == 2)
				SEND(&cl[i], "POST /invoke/echo HTTP/1.1\r\nHost: h\r\n"
					     "Content-Length: 100000\r\n\r\nabc");
		}
		usleep(20000);
		for (int i = 0; i < 64; i++) {
			setsockopt(cl[i].fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
			client_close(&cl[i]);
		}
	}
	client_open(&one, s, 0);
	SEND(&one, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok");
	CHECK_EQ(next_resp(&one, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "ok") == 0);
	client_close(&one);
	sure_http_server_stats(s, &st);
	for (int i = 0; i < 300 && st.conns_open; i++) {
		usleep(10000);
		sure_http_server_stats(s, &st);
	}
	CHECK_EQ(st.conns_open, 0u);
	CHECK_EQ(st.conns_accepted, 4u * 64 + 1);
	sure_http_server_stop(s, 0);
}

/* The owner answers from another thread's signal: an eventfd it watches. */
static int watch_efd;
static atomic_int n_watch;

static void on_watch(void *arg)
{
	uint64_t v;

	(void)arg;
	while (read(watch_efd, &v, sizeof(v)) == sizeof(v))
		n_watch++;
	if (held) {
		struct sure_http_exchange *ex = held;
		held = NULL;
		answer_echo(ex, "woken:");
	}
}

static void test_watch(void)
{
	struct client cl;
	struct resp r;
	char body[256];
	uint64_t one = 1;
	int runs = n_run;

	watch_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK_EQ(sure_http_server_watch(S, watch_efd, on_watch, NULL), 0);
	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/hold HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
	wait_for(&n_run, runs + 1);
	CHECK(write(watch_efd, &one, sizeof(one)) == sizeof(one));
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK(strcmp(body, "woken:abc") == 0);
	CHECK(n_watch >= 1);
	client_close(&cl);
}

struct stopper {
	struct sure_http_server *s;
	uint32_t grace;
};

static void *stop_main(void *arg)
{
	struct stopper *st = arg;

	sure_http_server_stop(st->s, st->grace);
	return NULL;
}

static void test_graceful_stop(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct stopper st;
	pthread_t thr;
	struct client busy, idle, late;
	struct resp r;
	char body[512];
	int runs = n_run, cancels = n_cancel;

	st.s = start(&cfg);
	st.grace = 2000;
	client_open(&idle, st.s, 0);
	SEND(&idle, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&idle, &r, body, sizeof(body), 0), 0);
	client_open(&busy, st.s, 0);
	runs = n_run; /* stop only once the server has it (a backlog is reset) */
	SEND(&busy, "POST /invoke/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nlast");
	wait_for(&n_run, runs + 1);
	pthread_create(&thr, NULL, stop_main, &st);
	/* The idle one goes at once; the one in flight gets its answer, then closes. */
	CHECK_EQ(closed_by_server(&idle), 1);
	CHECK_EQ(next_resp(&busy, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "slow:last") == 0);
	CHECK(header(&r, "connection") && strcmp(header(&r, "connection"), "close") == 0);
	CHECK_EQ(closed_by_server(&busy), 1);
	pthread_join(thr, NULL);
	CHECK_EQ(n_cancel, cancels);
	client_close(&idle);
	client_close(&busy);

	/* Past the grace: the held exchange is cancelled, its connection closed. */
	st.s = start(&cfg);
	st.grace = 100;
	client_open(&late, st.s, 0);
	runs = n_run;
	SEND(&late, "GET /invoke/hold HTTP/1.1\r\nHost: h\r\n\r\n");
	wait_for(&n_run, runs + 1);
	sure_http_server_stop(st.s, st.grace);
	CHECK_EQ(n_cancel, cancels + 1);
	CHECK(held == NULL);
	CHECK_EQ(closed_by_server(&late), 1);
	client_close(&late);
}

/* hold_accept: the port is taken at start (a second server on it fails),
 * a connection made before open waits, unanswered, and is served once open;
 * open is once, and only for a server that holds. */
static void test_hold_accept(void)
{
	struct sure_http_server_config cfg = base_cfg(), again;
	struct sure_http_server *s, *other = NULL;
	struct client cl;
	struct resp r;
	char body[64];

	cfg.hold_accept = 1;
	s = start(&cfg);
	again = cfg;
	again.port = sure_http_server_port(s);
	again.hold_accept = 0;
	CHECK(again.port != 0);
	CHECK_EQ(sure_http_server_start(&again, &other), -EADDRINUSE);
	client_open(&cl, s, 0);
	SEND(&cl, "POST /invoke/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok");
	struct pollfd pfd = { .fd = cl.fd, .events = POLLIN };
	CHECK_EQ(poll(&pfd, 1, 200), 0); /* not accepted: nobody answers */
	CHECK_EQ(sure_http_server_open(s), 0);
	CHECK_EQ(sure_http_server_open(s), -EINVAL);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(strcmp(body, "ok") == 0);
	client_close(&cl);
	sure_http_server_stop(s, 0);
	s = start(&again); /* accepting at once: nothing to open */
	CHECK_EQ(sure_http_server_open(s), -EINVAL);
	sure_http_server_stop(s, 0);
}

static void test_max_conns(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct sure_http_server *s;
	struct sure_http_server_stats st;
	struct client a, b, c;
	struct resp r;
	char body[64];

	cfg.max_conns = 2;
	s = start(&cfg);
	client_open(&a, s, 0);
	client_open(&b, s, 0);
	SEND(&a, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	SEND(&b, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&a, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(next_resp(&b, &r, body, sizeof(body), 0), 0);
	client_open(&c, s, 0);
	CHECK_EQ(closed_by_server(&c), 1);
	sure_http_server_stats(s, &st);
	CHECK_EQ(st.conns_refused, 1);
	CHECK_EQ(st.conns_open, 2);
	client_close(&a);
	client_close(&b);
	client_close(&c);
	sure_http_server_stop(s, 0);
}

static void test_big_answer_slow_reader(void)
{
	struct sure_http_server_stats st0, st1;
	struct client cl;
	struct resp r;
	uint32_t bad = 0;

	sure_http_server_stats(S, &st0);
	client_open(&cl, S, 4096);
	SEND(&cl, "GET /invoke/big HTTP/1.1\r\nHost: h\r\n\r\n");
	usleep(100000); /* the socket fills up: the rest must wait in the server */
	for (int i = 0; i < 5; i++) {
		char tmp[4096];
		ssize_t n = recv(cl.fd, tmp, sizeof(tmp), MSG_PEEK);
		CHECK(n > 0);
		usleep(20000);
	}
	CHECK_EQ(read_resp(&cl, &r, 0), 0);
	CHECK_EQ(r.body_len, BIG_LEN);
	for (uint32_t i = 0; i < BIG_LEN && i < r.body_len; i++)
		bad += (uint8_t)r.body[i] != (uint8_t)(i * 7 + (i >> 13));
	CHECK_EQ(bad, 0);
	sure_http_server_stats(S, &st1);
	CHECK(st1.copied_out > st0.copied_out);
	client_close(&cl);
}

static void test_bad_calls(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct sure_http_server *s = NULL;

	CHECK_EQ(sure_http_server_start(NULL, &s), -EINVAL);
	cfg.host = "not-an-address";
	CHECK_EQ(sure_http_server_start(&cfg, &s), -EINVAL);
	cfg = base_cfg();
	cfg.port = sure_http_server_port(S);
	CHECK_EQ(sure_http_server_start(&cfg, &s), -EADDRINUSE);
	cfg = base_cfg();
	cfg.host = "[::1]";
	if (sure_http_server_start(&cfg, &s) == 0) {
		CHECK(sure_http_server_port(s) != 0);
		sure_http_server_stop(s, 0);
	}
	CHECK_EQ(sure_http_server_tick(S, 0, slow_tick, S), -EINVAL);
	CHECK_EQ(sure_http_server_watch(S, -1, NULL, NULL), -EINVAL);
	CHECK_EQ(sure_http_answer(NULL, 200, NULL, NULL, 0), -EINVAL);
}

/* The server of each pass reads its sockets the way the pass says. */
static void test_io_mode(void)
{
	struct sure_http_server_stats st;

	sure_http_server_stats(S, &st);
	CHECK_EQ(st.io_uring, io_mode == SURE_HTTP_IO_URING ? 1u : 0u);
}

/* Its loop thread is counted while it runs, and placed where it was asked:
 * the CPUs it reports are the kernel's for that thread. */
static void test_thread_placed(void)
{
	struct sure_http_server_config cfg = base_cfg();
	struct sure_http_server_stats st;
	struct sure_http_server *s;
	cpu_set_t mine;

	sure_http_server_stats(S, &st);
	CHECK_EQ(st.threads, 1);
	CHECK(st.cpu_mask != 0);
	/* The first CPU this process may use, alone. */
	CHECK_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
	int cpu = 0;
	while (cpu < 63 && !CPU_ISSET(cpu, &mine))
		cpu++;
	cfg.cpu_mask = 1ull << cpu;
	s = start(&cfg);
	sure_http_server_stats(s, &st);
	CHECK_EQ(st.threads, 1);
	CHECK_EQ(st.cpu_mask, 1ull << cpu);
	sure_http_server_stop(s, 0);
}

static int uring_rc;

/* Stands for the io_uring pass on a kernel without it. */
static void test_io_uring(void)
{
	SKIP("no io_uring here: %s", strerror(-uring_rc));
}


/* ---- forwards to another node ---- */

/* A listener on 127.0.0.1 (backlog only if mute: it never accepts), its address in a. */
static int node_listen(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &len) < 0)
		abort();
	return fd;
}

/* ka_drop: the next request with x-drop on a kept connection closes it
 * unanswered, as a node that let it go idle just then would. */
static atomic_int node_stop, ka_conns, ka_served, ka_drop;

/* Keep-alive: answers each request on the connection ("ka") until it ends. */
static void node_keep_alive(int fd)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	ka_conns++;
	while (!node_stop) {
		char *end = memmem(buf, len, "\r\n\r\n", 4);
		if (end) {
			static const char ans[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nka";
			size_t used = (size_t)(end + 4 - buf);
			if (ka_served && memmem(buf, used, "x-drop", 6) && atomic_exchange(&ka_drop, 0))
				break;
			memmove(buf, buf + used, len - used);
			len -= used;
			ka_served++;
			if (send(fd, ans, sizeof(ans) - 1, MSG_NOSIGNAL) < 0)
				break;
			continue;
		}
		struct pollfd q = { fd, POLLIN, 0 };
		if (poll(&q, 1, 20) != 1)
			continue;
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
}

/* Node b: answers as the upstream does (up_serve), except that a request
 * with x-close gets the connection closed before any answer. */
static void *node_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	while (!node_stop) {
		struct pollfd p = { lfd, POLLIN, 0 };
		if (poll(&p, 1, 20) != 1)
			continue;
		int fd = accept(lfd, NULL, NULL);
		char peek[512];
		ssize_t n;
		if (fd < 0)
			continue;
		n = recv(fd, peek, sizeof(peek) - 1, MSG_PEEK);
		peek[n > 0 ? n : 0] = 0;
		if (strstr(peek, "x-ka")) {
			node_keep_alive(fd);
		} else if (strstr(peek, "x-close")) {
			close(fd);
		} else if (strstr(peek, "x-chunked")) {
			/* A chunked answer at once; then all that comes until 300 ms
			 * of quiet is recorded. */
			struct pollfd q = { fd, POLLIN, 0 };
			pthread_mutex_lock(&up_lock);
			up_got_len = 0;
			while (!memmem(up_got, up_got_len, "\r\n\r\n", 4) &&
			       (n = recv(fd, up_got + up_got_len, sizeof(up_got) - up_got_len, 0)) > 0)
				up_got_len += (size_t)n;
			if (send(fd, UP_CHUNKED, strlen(UP_CHUNKED), MSG_NOSIGNAL) < 0) {
				/* the test will tell */
			}
			while (poll(&q, 1, 300) == 1 && up_got_len < sizeof(up_got) &&
			       (n = recv(fd, up_got + up_got_len, sizeof(up_got) - up_got_len, 0)) > 0)
				up_got_len += (size_t)n;
			pthread_mutex_unlock(&up_lock);
			close(fd);
		} else {
			up_serve(fd);
		}
	}
	close(lfd);
	return NULL;
}

/* The next answer is node b's (200, x-sure-node b); got: what b received. */
static void answered_by_b(struct client *cl, char *got, size_t cap)
{
	struct resp r;
	char body[1024];

	CHECK_EQ(next_resp(cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK_STR(header(&r, "x-sure-node"), "b");
	pthread_mutex_lock(&up_lock);
	snprintf(got, cap, "%.*s", (int)up_got_len, up_got);
	pthread_mutex_unlock(&up_lock);
}

static void test_forward(void)
{
	struct client cl;
	struct resp r;
	struct sure_http_server_stats st0, st1, ka0, ka1;
	char body[1024], got[65536];
	pthread_t thr;
	int ok_fd = node_listen(&node_ok), mute_fd = node_listen(&node_mute);
	int gone_fd = node_listen(&node_refusing);

	close(gone_fd); /* nobody there: refused */
	node_stop = 0;
	pthread_create(&thr, NULL, node_main, (void *)(intptr_t)ok_fd);
	sure_http_server_stats(S, &st0);

	/* Straight to node b, as it came plus the mark; its answer plus
	 * x-sure-node, and the connection is parsed again after it. */
	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/fw/p?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK_STR(header(&r, "x-sure-node"), "b");
	CHECK_STR(header(&r, "x-from"), "upstream");
	CHECK_STR(body, "upstream");
	pthread_mutex_lock(&up_lock);
	snprintf(got, sizeof(got), "%.*s", (int)up_got_len, up_got);
	pthread_mutex_unlock(&up_lock);
	CHECK_STR(got, "POST /invoke/fw/p?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
		       "x-sure-forwarded-by: a\r\n\r\nhello");
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(header(&r, "x-sure-node") == NULL);
	client_close(&cl);

	/* A private function's: every Authorization line (this node's token)
	 * stays here, wherever it is in the head, and so does a signature the
	 * client sent; nothing else is cut; the node's signature goes in; the next request on the connection is parsed after
	 * it, its bytes untouched. */
	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/fwpriv HTTP/1.1\r\nAuthorization: Bearer t\r\nHost: h\r\n"
		  "authorization-hint: 1\r\nAUTHORIZATION:x\r\nX-Sure-Forward-Mac: forged\r\n"
		  "Content-Length: 5\r\n\r\nhello"
		  "GET /invoke/echo HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\n\r\n");
	answered_by_b(&cl, got, sizeof(got));
	CHECK_STR(got, "POST /invoke/fwpriv HTTP/1.1\r\nHost: h\r\nauthorization-hint: 1\r\n"
		       "Content-Length: 5\r\nx-sure-forwarded-by: a\r\nx-sure-forward-mac: m\r\n"
		       "\r\nhello");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(header(&r, "x-sure-node") == NULL);
	client_close(&cl);

	/* An answer with no length keeps the tunnel to the end of the
	 * connection, but what the client sends after the request never goes
	 * to the node (it could say anything there, from this node's address). */
	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/fw HTTP/1.1\r\nHost: h\r\nx-chunked: 1\r\n\r\n");
	CHECK_EQ(read_resp(&cl, &r, 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK_STR(header(&r, "x-sure-node"), "b");
	CHECK_STR(header(&r, "transfer-encoding"), "chunked");
	SEND(&cl, "GET /invoke/fw HTTP/1.1\r\nHost: h\r\nx-sure-hop: a b 200 1\r\n\r\n");
	CHECK(closed_by_server(&cl) > 0); /* the chunks, then the close */
	CHECK(memmem(cl.buf, cl.len, "5\r\nhello\r\n0\r\n\r\n", 15) != NULL);
	pthread_mutex_lock(&up_lock);
	snprintf(got, sizeof(got), "%.*s", (int)up_got_len, up_got);
	pthread_mutex_unlock(&up_lock);
	CHECK_STR(got, "GET /invoke/fw HTTP/1.1\r\nHost: h\r\nx-chunked: 1\r\n"
		       "x-sure-forwarded-by: a\r\n\r\n");
	client_close(&cl);

	/* A request whose end only a chunk parser or an interim answer tells
	 * is the upstream's to forward; so is one the node refuses (unmarked). */
	static const char *const upstreams[] = {
		"POST /invoke/fw HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
		"2\r\nhi\r\n0\r\n\r\n",
		"GET /invoke/fwref HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	for (size_t k = 0; k < sizeof(upstreams) / sizeof(upstreams[0]); k++) {
		client_open(&cl, S, 0);
		SEND(&cl, upstreams[k]);
		CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
		CHECK_EQ(r.status, 200);
		CHECK(header(&r, "x-sure-node") == NULL);
		CHECK_STR(body, "upstream");
		client_close(&cl);
	}

	/* Closed without a word: 502 naming the node. */
	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/fw HTTP/1.1\r\nHost: h\r\nx-close: 1\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 502);
	CHECK(strstr(body, "\"error\":\"forward_failed\"") != NULL);
	CHECK(strstr(body, "node b (127.0.0.1:") != NULL);
	CHECK(strstr(body, "\"node\":\"b\"") != NULL);
	client_close(&cl);

	/* A chain whose first step b runs: b gets it with the chain's mark, and
	 * fails it as the chain's hops fail (peer_unreachable, naming both). */
	client_open(&cl, S, 0);
	SEND(&cl, "POST /invoke/fwchain HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi");
	answered_by_b(&cl, got, sizeof(got));
	CHECK_STR(got, "POST /invoke/fwchain HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
		       "x-sure-chain-entry: 1\r\n\r\nhi");
	SEND(&cl, "GET /invoke/fwchain HTTP/1.1\r\nHost: h\r\nx-close: 1\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 502);
	CHECK(strstr(body, "\"error\":\"peer_unreachable\"") != NULL);
	CHECK(strstr(body, "chain fwchain: node b (127.0.0.1:") != NULL);
	CHECK(strstr(body, "which runs step 0, cannot be reached") != NULL);
	CHECK(strstr(body, "\"chain\":\"fwchain\",\"node\":\"b\"") != NULL);
	client_close(&cl);

	/* Silent past its timeout (300 ms): 504. */
	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/fwmute HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 504);
	CHECK(strstr(body, "\"error\":\"function_timeout\"") != NULL);
	CHECK(strstr(body, "\"timeoutMs\":300") != NULL);
	client_close(&cl);

	/* The node is declared dead: at once, not after 20 s. */
	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/fwlong HTTP/1.1\r\nHost: h\r\n\r\n");
	usleep(100000);
	CHECK_EQ(sure_http_server_fail_node(S, "b"), 0); /* not the one it went to */
	usleep(100000);
	CHECK_EQ(sure_http_server_fail_node(S, "c"), 0);
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 502);
	CHECK(strstr(body, "node c, which ran fwlong, stopped answering") != NULL);
	client_close(&cl);
	CHECK_EQ(sure_http_server_fail_node(S, ""), -EINVAL);

	/* A connection a forward left open carries the next one to that node
	 * (another client's): one connection, two requests. */
	sure_http_server_stats(S, &ka0);
	ka_conns = ka_served = 0;
	for (int k = 0; k < 2; k++) {
		client_open(&cl, S, 0);
		SEND(&cl, "GET /invoke/fw HTTP/1.1\r\nHost: h\r\nx-ka: 1\r\n\r\n");
		CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
		CHECK_EQ(r.status, 200);
		CHECK_STR(header(&r, "x-sure-node"), "b");
		CHECK_STR(body, "ka");
		client_close(&cl);
	}
	CHECK_EQ(ka_served, 2);
	CHECK_EQ(ka_conns, 1);
	sure_http_server_stats(S, &ka1);
	CHECK_EQ(ka1.forward_connects - ka0.forward_connects, 1);

	/* The node closes the kept connection, unanswered, as the next forward
	 * takes it: the request goes once more, whole, on a new connection. */
	ka_drop = 1;
	client_open(&cl, S, 0);
	SEND(&cl, "GET /invoke/fw HTTP/1.1\r\nHost: h\r\nx-ka: 1\r\nx-drop: 1\r\n\r\n");
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK_STR(header(&r, "x-sure-node"), "b");
	CHECK_STR(body, "ka");
	SEND(&cl, "GET /invoke/echo HTTP/1.1\r\nHost: h\r\n\r\n"); /* parsed after it */
	CHECK_EQ(next_resp(&cl, &r, body, sizeof(body), 0), 0);
	CHECK_EQ(r.status, 200);
	CHECK(header(&r, "x-sure-node") == NULL);
	client_close(&cl);
	CHECK_EQ(ka_drop, 0);
	CHECK_EQ(ka_served, 3);
	CHECK_EQ(ka_conns, 2);
	sure_http_server_stats(S, &ka0);
	CHECK_EQ(ka0.forward_connects - ka1.forward_connects, 1);

	sure_http_server_stats(S, &st1);
	CHECK_EQ(st1.forwarded - st0.forwarded, 12);
	CHECK_EQ(st1.forwards_refused - st0.forwards_refused, 1);
	CHECK_EQ(st1.forward_failures - st0.forward_failures, 4);
	node_stop = 1;
	pthread_join(thr, NULL);
	close(mute_fd);
}

static void suite(void)
{
	struct sure_http_server_config cfg = base_cfg();

	S = start(&cfg);
	RUN(test_io_mode);
	RUN(test_keep_alive);
	RUN(test_pipelined);
	RUN(test_idle_hook);
	RUN(test_idle_poll);
	RUN(test_idle_naps);
	RUN(test_bodies);
	RUN(test_large_bodies);
	RUN(test_expect_continue);
	RUN(test_parse_errors);
	RUN(test_no_body_answers);
	RUN(test_tunnel);
	RUN(test_tunnel_stream);
	RUN(test_tunnel_one_exchange);
	RUN(test_upstream_down);
	RUN(test_forward);
	RUN(test_timeouts);
	RUN(test_cancel_on_disconnect);
	RUN(test_abrupt_closes);
	RUN(test_watch);
	RUN(test_graceful_stop);
	RUN(test_hold_accept);
	RUN(test_max_conns);
	RUN(test_big_answer_slow_reader);
	RUN(test_bad_calls);
	RUN(test_thread_placed);
	sure_http_server_stop(S, 1000);
	S = NULL;
}

int main(void)
{
	struct sure_http_server_config cfg;
	struct sure_http_server *probe = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	big = malloc(BIG_LEN);
	up_start();
	/* io_uring where this kernel has it (every machine of ours does: 5.19+). */
	io_mode = SURE_HTTP_IO_URING;
	cfg = base_cfg();
	rc = getenv("ONLY_EPOLL") ? -1 : sure_http_server_start(&cfg, &probe);
	if (rc == 0) {
		sure_http_server_stop(probe, 0);
		printf("# kernel sockets on io_uring\n");
		suite();
	} else {
		uring_rc = rc;
		RUN(test_io_uring);
	}
	printf("# kernel sockets on epoll\n");
	io_mode = SURE_HTTP_IO_EPOLL;
	suite();
	up_stop = 1;
	pthread_join(up_thr, NULL);
	unlink(up_path);
	free(big);
	return CHECK_DONE();
}
