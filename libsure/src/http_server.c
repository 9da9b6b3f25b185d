/*
 * http_server.c - the HTTP server's life and loop (http_server.h): the
 * listening socket, the one thread running epoll, accepting, the owner's
 * watches and ticks, the timeout sweep, the graceful stop and the counters.
 * Connections themselves are http_conn.c's.
 *
 * Timeouts cost no syscall per request: each connection keeps one deadline
 * (set from the loop's clock, read once per round), and a sweep over the
 * connections every 100 ms acts on those that passed; so a timeout fires up
 * to 100 ms late, which is nothing next to seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "util.h"

#define SWEEP_NS (100ull * 1000000)
/* A raw head limit past this would make every connection's buffer huge. */
#define MAX_HEAD_LIMIT (1u << 20)
#define EVENTS 64
#define ACCEPTS_PER_EVENT 64
/* How long a stopping server waits for cancelled operations to come back. */
#define LIMBO_WAIT_NS (1000ull * 1000000)

static int listen_on(struct sure_http_server *s, const char *host, uint16_t port)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a;
	socklen_t len;
	char h[INET6_ADDRSTRLEN + 2];
	size_t hl = strnlen(host, sizeof(h));
	int fd, one = 1;

	if (hl >= sizeof(h))
		return -EINVAL;
	/* "[::1]" as in a URL is "::1". */
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memcpy(h, host + 1, hl - 2);
		h[hl - 2] = 0;
	} else {
		memcpy(h, host, hl + 1);
	}
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, h, &a.v4.sin_addr) == 1) {
		a.v4.sin_family = AF_INET;
		a.v4.sin_port = htons(port);
		len = sizeof(a.v4);
	} else if (inet_pton(AF_INET6, h, &a.v6.sin6_addr) == 1) {
		a.v6.sin6_family = AF_INET6;
		a.v6.sin6_port = htons(port);
		len = sizeof(a.v6);
	} else {
		return -EINVAL;
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, &a.sa, len) < 0 || listen(fd, 1024) < 0 || getsockname(fd, &a.sa, &len) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	s->port = ntohs(a.sa.sa_family == AF_INET ? a.v4.sin_port : a.v6.sin6_port);
	s->lfd = fd;
	return 0;
}

/* "/path" or "@name" (Linux abstract socket). */
static int set_upstream(struct sure_http_server *s, const char *path)
{
	size_t len;

	if (!path || !path[0])
		return 0; /* no upstream: tunnels answer 502 */
	len = strnlen(path, sizeof(s->up_addr.sun_path));
	if (len >= sizeof(s->up_addr.sun_path))
		return -ENAMETOOLONG;
	s->up_addr.sun_family = AF_UNIX;
	memcpy(s->up_addr.sun_path, path, len);
	s->up_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	if (path[0] == '@') {
		s->up_addr.sun_path[0] = 0;
		s->up_len--; /* an abstract name has no NUL at the end */
	}
	return 0;
}

/* ---- the loop ---- */

static void pause_listener(struct sure_http_server *s, int pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.ptr = &s->lev };

	if (s->lfd < 0)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_MOD, s->lfd, &ev);
	s->listen_resume_ns = pause ? s->now_ns + SWEEP_NS : 0;
}

static void accept_some(struct sure_http_server *s)
{
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage addr = { 0 };
		socklen_t alen = sizeof(addr);
		int fd = accept4(s->lfd, (struct sockaddr *)&addr, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC),
		    one = 1;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* Out of fds or memory: the listener is level-triggered, so
			 * pause it for a sweep rather than spin on it. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_listener(s, 1);
			return;
		}
		/* Over the limit: accepted and closed, so the client learns at once. */
		if (s->nconns >= s->cfg.max_conns) {
			STAT_ADD(s, conns_refused, 1);
			close(fd);
			continue;
		}
		/* Answers go out whole; pipelined ones must not wait for an ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c;
		if (conn_open(s, fd, NULL, &addr, &c) < 0) {
			STAT_ADD(s, conns_refused, 1);
			close(fd);
		} else if (s->ring) {
			conn_drive(c); /* submits its first recv */
		}
	}
}

static void begin_drain(struct sure_http_server *s)
{
	struct conn *c, *next;

	s->draining = 1;
	s->drain_deadline_ns = s->now_ns + MS(sure_load(&s->grace_ms));
	if (s->lfd >= 0) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
		close(s->lfd);
		s->lfd = -1;
	}
	zsrv_stop_listening(s);
	for (c = s->conns; c; c = next) {
		next = c->next;
		conn_drain(c);
	}
}

/* The nodes sure_http_server_fail_node named: their exchanges fail now. */
static void dead_nodes(struct sure_http_server *s)
{
	char names[8][32];
	uint32_t n;
	struct conn *c, *next;

	pthread_mutex_lock(&s->lock);
	n = s->ndead;
	memcpy(names, s->dead_nodes, sizeof(names));
	s->ndead = 0;
	pthread_mutex_unlock(&s->lock);
	for (uint32_t k = 0; k < n; k++) {
		for (c = s->conns; c; c = next) {
			next = c->next;
			if (!fwd_to_node(c, names[k]))
				continue;
			fwd_node_dead(c);
			conn_drive(c);
		}
	}
}

static void dispatch(struct sure_http_server *s, const struct epoll_event *ev)
{
	struct http_ev *e = ev->data.ptr;
	uint32_t in = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR, out = EPOLLOUT | EPOLLHUP | EPOLLERR;
	struct conn *c;
	uint64_t v;

	switch (e->kind) {
	case EV_LISTEN:
		if (s->lfd >= 0)
			accept_some(s);
		break;
	case EV_WAKE:
		if (read(s->wfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		if (sure_load(&s->open_req) && !s->listening && !s->draining) {
			s->listening = 1;
			if (s->cfg.zs)
				zsrv_listen(s); /* lwIP is this thread's */
		}
		if (sure_load(&s->stop_req) && !s->draining)
			begin_drain(s);
		dead_nodes(s);
		break;
	case EV_WATCH: {
		struct http_watch *w = container_of(e, struct http_watch, ev);
		w->fn(w->arg);
		break;
	}
	case EV_CLIENT:
		c = container_of(e, struct conn, cev);
		if (c->closed)
			break;
		c->rd |= (ev->events & in) != 0;
		c->wr |= (ev->events & out) != 0;
		c->hup |= (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
		conn_drive(c);
		break;
	case EV_ZSTACK:
		zsrv_poll(s);
		break;
	default: /* EV_UPSTREAM */
		c = container_of(e, struct conn, uev);
		if (c->closed)
			break;
		c->urd |= (ev->events & in) != 0;
		c->uwr |= (ev->events & out) != 0;
		conn_drive(c);
		break;
	}
}

/* Connections that used up their budget go on, after everyone had a turn. */
static void run_again(struct sure_http_server *s)
{
	struct conn *list = s->again, *c;

	s->again = NULL;
	while (list) {
		c = list;
		list = c->again_next;
		c->on_again = 0;
		conn_drive(c); /* nothing if it closed meanwhile */
	}
}

static void run_ticks(struct sure_http_server *s)
{
	for (struct http_tick *t = sure_load(&s->ticks); t; t = t->next) {
		if (s->now_ns < t->next_ns)
			continue;
		t->next_ns += t->period_ns;
		if (t->next_ns <= s->now_ns)
			t->next_ns = s->now_ns + t->period_ns; /* late: no burst to catch up */
		t->fn(t->arg, s->now_ns);
	}
}

static void sweep(struct sure_http_server *s)
{
	struct conn *c, *next;

	s->next_sweep_ns = s->now_ns + SWEEP_NS;
	if (s->listen_resume_ns && s->now_ns >= s->listen_resume_ns)
		pause_listener(s, 0);
	for (c = s->conns; c; c = next) {
		next = c->next;
		conn_sweep(c, s->now_ns);
	}
	fwd_idle_sweep(s, 0);
}

/* Closed connections whose operations in the ring have all come back. */
static void release_limbo(struct sure_http_server *s)
{
	struct conn **pp = &s->limbo, *c;

	while ((c = *pp)) {
		if (conn_ring_busy(c)) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		conn_release(c);
	}
}

/* Frees the connections closed this round (those still on the again list
 * wait for the next: run_again will look at them once more). */
static void reap(struct sure_http_server *s)
{
	struct conn *c = s->grave, *keep = NULL;

	s->grave = NULL;
	while (c) {
		struct conn *next = c->next;
		if (c->on_again) {
			c->next = keep;
			keep = c;
		} else if (s->ring && conn_ring_busy(c)) {
			c->next = s->limbo; /* its cancelled operations come back first */
			s->limbo = c;
		} else {
			conn_release(c);
		}
		c = next;
	}
	s->grave = keep;
	release_limbo(s);
}

/* After the loop: cancelled operations may still write into their
 * connections, so wait (a while) for them before anything is freed; what is
 * still in limbo then is leaked rather than freed under the kernel. */
static void close_ring(struct sure_http_server *s)
{
	uint64_t until = sure_now_ns() + LIMBO_WAIT_NS;

	if (!s->ring)
		return;
	while (s->limbo && sure_now_ns() < until) {
		srv_ring_settle(s, 10);
		release_limbo(s);
	}
	s->limbo = NULL;
	srv_ring_close(s);
}

static int wait_ms(struct sure_http_server *s)
{
	uint64_t t = s->next_sweep_ns;

	if (s->again)
		return 0;
	for (struct http_tick *k = sure_load(&s->ticks); k; k = k->next)
		if (k->next_ns < t)
			t = k->next_ns;
	if (s->draining && s->drain_deadline_ns < t)
		t = s->drain_deadline_ns;
	if (s->cfg.zs && s->zs_timer_ns < t)
		t = s->zs_timer_ns;
	if (t <= s->now_ns)
		return 0;
	return (int)((t - s->now_ns + 999999) / 1000000);
}

/*
 * Nothing to handle: ms is how long the loop would sleep. First the owner is
 * polled (a non-blocking round in between, for the sockets), while it has
 * something outstanding, for as long as it says its answers are worth
 * waiting for: a guest answering within that then costs no exit for its
 * wake-up call (NOTIFY: ~65 us under PVM, ../shared/platform.md). Then one
 * look, armed, and the sleep. 0: do not sleep.
 * The spell is over until an answer or an event: a wake-up for a timer
 * alone (the data plane's every 5 ms) polls nothing while a function runs on.
 */
static int before_sleep(struct sure_http_server *s, int ms)
{
	struct sure_http_poll poll = { 0, 0 };
	int r = s->cfg.ops->idle(s->cfg.ctx, 0, &poll);

	if (r > 0) {
		s->poll_until_ns = 0;
		return 0;
	}
	if (r == 0) {
		if (s->poll_until_ns == 0)
			s->poll_until_ns = s->now_ns + poll.for_ns;
		if (s->now_ns < s->poll_until_ns) {
			s->nap_ns = poll.nap_ns;
			return 0;
		}
	} else {
		s->poll_until_ns = 0;
	}
	return s->cfg.ops->idle(s->cfg.ctx, 1, &poll) > 0 ? 0 : ms;
}

static void *loop(void *arg)
{
	struct sure_http_server *s = arg;
	struct epoll_event evs[EVENTS];

	pthread_setname_np(pthread_self(), "sure-dataplane");
	if (s->cfg.cpu_mask) {
		/* Placed by the control plane (off the vCPUs' CPUs); refused: anywhere. */
		cpu_set_t set;
		CPU_ZERO(&set);
		for (int c = 0; c < 64; c++)
			if (s->cfg.cpu_mask & (1ull << c))
				CPU_SET(c, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	/* Where it runs, as the kernel has it: what stats report, not what was asked. */
	cpu_set_t got;
	uint64_t mask = 0;
	if (pthread_getaffinity_np(pthread_self(), sizeof(got), &got) == 0)
		for (int c = 0; c < 64; c++)
			if (CPU_ISSET(c, &got))
				mask |= 1ull << c;
	sure_store(&s->st.cpu_mask, mask);
	/* Kernel clients on io_uring if asked for. The ring is this thread's
	 * alone (uring.h says why); start() waits for the outcome. */
	if (s->lfd >= 0 && s->cfg.io == SURE_HTTP_IO_URING)
		s->ring_rc = srv_ring_open(s);
	if (s->ring_rc == 0)
		STAT_ADD(s, threads, 1); /* counted before start() returns */
	sure_store(&s->io_known, 1);
	sure_futex_wake(&s->io_known);
	if (s->ring_rc < 0)
		return NULL; /* start() says why and frees */
	s->now_ns = sure_now_ns();
	s->next_sweep_ns = s->now_ns + SWEEP_NS;
	/* A nap between looks is microseconds long: the kernel's default slack
	 * for a thread's timers (50 us) would stretch it several times over. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	for (;;) {
		int n, ms = wait_ms(s);

		s->nap_ns = 0;
		if (ms != 0 && s->cfg.ops->idle)
			ms = before_sleep(s, ms);
		if (s->ring) {
			n = srv_ring_round(s, evs, EVENTS,
					   s->nap_ns ? s->nap_ns : (uint64_t)ms * 1000000u);
		} else if (s->nap_ns) {
			struct timespec nap = { 0, (long)s->nap_ns };
			n = epoll_pwait2(s->ep, evs, EVENTS, &nap, NULL);
			s->now_ns = sure_now_ns();
		} else {
			n = epoll_wait(s->ep, evs, EVENTS, ms);
			s->now_ns = sure_now_ns();
		}
		if (n > 0)
			s->poll_until_ns = 0; /* busy again: a later idle spell polls anew */
		for (int i = 0; i < n; i++)
			dispatch(s, &evs[i]);
		run_again(s);
		run_ticks(s);
		if (s->now_ns >= s->next_sweep_ns)
			sweep(s);
		if (s->cfg.zs)
			zsrv_timers(s); /* lwIP's: retransmissions, delayed ACKs, ARP, TIME-WAIT */
		if (s->draining && (!s->conns || s->now_ns >= s->drain_deadline_ns))
			break;
		reap(s);
	}
	/* The grace is over: cancel and close what is left. */
	while (s->conns)
		conn_close(s->conns);
	zsrv_stop_listening(s);
	if (s->cfg.zs)
		zstack_flush(s->cfg.zs); /* the FINs and resets of those closes */
	for (struct conn *c = s->again; c; c = c->again_next)
		c->on_again = 0;
	s->again = NULL;
	reap(s);
	close_ring(s);
	STAT_SUB(s, threads, 1);
	return NULL;
}

/* ---- the API ---- */

static void destroy(struct sure_http_server *s)
{
	struct conn *c;

	if (s->lfd >= 0)
		close(s->lfd);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->ep >= 0)
		close(s->ep);
	fwd_idle_sweep(s, 1);
	while ((c = s->pool)) {
		s->pool = c->next;
		free(c->out);
		free(c->body);
		free(c);
	}
	while (s->ticks) {
		struct http_tick *t = s->ticks;
		s->ticks = t->next;
		free(t);
	}
	while (s->watches) {
		struct http_watch *w = s->watches;
		s->watches = w->next;
		free(w);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int sure_http_server_start(const struct sure_http_server_config *cfg,
			   struct sure_http_server **out)
{
	struct sure_http_server *s;
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	if (!cfg || !out || !cfg->host || !cfg->ops || !cfg->ops->take || !cfg->ops->run ||
	    !cfg->ops->cancel || cfg->max_head > MAX_HEAD_LIMIT || cfg->io > SURE_HTTP_IO_URING)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lfd = s->wfd = s->ep = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->cfg = *cfg;
	s->cfg.host = s->cfg.upstream = NULL; /* the caller's strings are not kept */
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 4096;
	s->pcfg.max_head = cfg->max_head ? cfg->max_head : SURE_HTTP_HEAD_MAX_DEFAULT;
	s->pcfg.max_body = cfg->max_body ? cfg->max_body : 1u << 20;
	s->hdr_ns = MS(cfg->header_timeout_ms ? cfg->header_timeout_ms : 10000);
	s->body_ns = MS(cfg->body_timeout_ms ? cfg->body_timeout_ms : 10000);
	s->idle_ns = MS(cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 60000);
	s->write_ns = MS(cfg->write_timeout_ms ? cfg->write_timeout_ms : 30000);
	s->lev.kind = EV_LISTEN;
	s->wev.kind = EV_WAKE;
	rc = set_upstream(s, cfg->upstream);
	if (rc == 0) {
		s->ep = epoll_create1(EPOLL_CLOEXEC);
		s->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		rc = s->ep < 0 || s->wfd < 0 ? -errno : 0;
	}
	if (rc == 0 && (cfg->host[0] || !cfg->zs))
		rc = listen_on(s, cfg->host, cfg->port);
	if (rc == 0 && cfg->zs)
		rc = zsrv_attach(s);
	if (rc == 0 && cfg->zs && !cfg->hold_accept)
		rc = zsrv_listen(s);
	s->listening = !cfg->hold_accept;
	if (rc == 0) {
		ev.data.ptr = &s->wev;
		rc = epoll_ctl(s->ep, EPOLL_CTL_ADD, s->wfd, &ev);
		ev.data.ptr = &s->lev;
		if (rc == 0 && s->lfd >= 0 && !cfg->hold_accept)
			rc = epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev);
		rc = rc < 0 ? -errno : 0;
	}
	if (rc == 0)
		rc = -pthread_create(&s->thr, NULL, loop, s);
	if (rc == 0) {
		/* How it reads is known before anyone asks for its stats. */
		while (!sure_load(&s->io_known))
			sure_futex_wait(&s->io_known, 0, UINT64_MAX);
		if (s->ring_rc < 0) {
			pthread_join(s->thr, NULL);
			rc = s->ring_rc; /* asked for io_uring: the caller hears why not */
		}
	}
	if (rc < 0) {
		zsrv_stop_listening(s);
		destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

int sure_http_server_open(struct sure_http_server *srv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t one = 1;

	if (!srv || !srv->cfg.hold_accept || sure_load(&srv->open_req) || sure_load(&srv->stop_req))
		return -EINVAL;
	sure_store(&srv->open_req, 1);
	/* The listener is not in the loop's epoll set yet, so the loop does
	 * not touch it: add it from here (an epoll set takes that from any
	 * thread). Connections made meanwhile waited in its backlog. */
	if (srv->lfd >= 0) {
		ev.data.ptr = &srv->lev;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->lfd, &ev) < 0)
			return -errno;
	}
	if (write(srv->wfd, &one, sizeof(one)) < 0) {
		/* An eventfd only fails when its counter would overflow. */
	}
	return 0;
}

uint16_t sure_http_server_port(struct sure_http_server *srv)
{
	return srv ? srv->port : 0;
}

void sure_http_server_stop(struct sure_http_server *srv, uint32_t grace_ms)
{
	uint64_t one = 1;

	if (!srv)
		return;
	sure_store(&srv->grace_ms, grace_ms);
	sure_store(&srv->stop_req, 1);
	if (write(srv->wfd, &one, sizeof(one)) < 0) {
		/* Cannot fail on a fresh eventfd; nothing better to do anyway. */
	}
	pthread_join(srv->thr, NULL);
	destroy(srv);
}

int sure_http_server_fail_node(struct sure_http_server *srv, const char *node)
{
	uint64_t one = 1;
	int rc = 0;

	if (!srv || !node || !node[0] || strlen(node) >= sizeof(srv->dead_nodes[0]))
		return -EINVAL;
	pthread_mutex_lock(&srv->lock);
	if (srv->ndead == 8)
		rc = -EAGAIN;
	else
		snprintf(srv->dead_nodes[srv->ndead++], sizeof(srv->dead_nodes[0]), "%s", node);
	pthread_mutex_unlock(&srv->lock);
	if (rc == 0 && write(srv->wfd, &one, sizeof(one)) < 0) {
		/* An eventfd only fails when its counter would overflow. */
	}
	return rc;
}

int sure_http_server_watch(struct sure_http_server *srv, int fd, void (*fn)(void *arg),
			   void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct http_watch *w;

	if (!srv || fd < 0 || !fn)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ev.kind = EV_WATCH;
	w->fn = fn;
	w->arg = arg;
	ev.data.ptr = &w->ev;
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;
		free(w);
		return rc;
	}
	/* Kept until the server is freed (the fd stays the owner's). */
	pthread_mutex_lock(&srv->lock);
	w->next = srv->watches;
	srv->watches = w;
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

int sure_http_server_tick(struct sure_http_server *srv, uint32_t period_ms,
			  void (*fn)(void *arg, uint64_t now_ns), void *arg)
{
	struct http_tick *t;
	uint64_t one = 1;

	if (!srv || !period_ms || !fn)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->period_ns = MS(period_ms);
	t->next_ns = sure_now_ns() + t->period_ns;
	t->fn = fn;
	t->arg = arg;
	/* The loop reads the list without the lock: publish a complete node. */
	pthread_mutex_lock(&srv->lock);
	t->next = srv->ticks;
	sure_store(&srv->ticks, t);
	pthread_mutex_unlock(&srv->lock);
	/* Wake the loop so that its next wait counts this tick. */
	if (write(srv->wfd, &one, sizeof(one)) < 0) {
		/* An eventfd only fails when its counter would overflow. */
	}
	return 0;
}

void sure_http_server_stats(struct sure_http_server *srv, struct sure_http_server_stats *out)
{
	const struct sure_http_server_stats *st = &srv->st;

	out->conns_open = sure_load(&st->conns_open);
	out->conns_accepted = sure_load(&st->conns_accepted);
	out->conns_refused = sure_load(&st->conns_refused);
	out->requests = sure_load(&st->requests);
	out->tunnelled = sure_load(&st->tunnelled);
	out->forwarded = sure_load(&st->forwarded);
	out->forwards_refused = sure_load(&st->forwards_refused);
	out->forward_failures = sure_load(&st->forward_failures);
	out->forward_connects = sure_load(&st->forward_connects);
	out->parse_errors = sure_load(&st->parse_errors);
	out->timeouts = sure_load(&st->timeouts);
	out->bytes_in = sure_load(&st->bytes_in);
	out->bytes_out = sure_load(&st->bytes_out);
	out->copied_in = sure_load(&st->copied_in);
	out->copied_out = sure_load(&st->copied_out);
	out->io_uring = sure_load(&st->io_uring);
	out->threads = sure_load(&st->threads);
	out->cpu_mask = sure_load(&st->cpu_mask);
}
