/*
 * dp_reqlog.c - the request log of what the data plane answers, written in
 * C: one JSON line per answered request, the same line the control plane's
 * console logger writes for a request (runtime/middleware/request_log.ts,
 * runtime/log.ts: ts, level, requestId, function or chain, status,
 * durationMs, traceId, error, msg), so that no JavaScript runs per request
 * for it. Lines wait in a buffer per stream (stdout: info, stderr: warn for
 * a 5xx) until the control plane has handled the batch of events they
 * belong to (sure_dataplane_request_log_flush): a request's line still
 * follows the lines its function logged, which the control plane writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp_internal.h"
#include "dp_trace.h"

/* Bytes a stream's buffer holds before lines are dropped (and counted): the
 * control plane flushes every few ms, and a data plane that waited for a
 * stuck reader of stdout would stop serving. */
#define REQLOG_CAP (512u << 10)
#define LINE_MAX_BYTES 1600u

/* A line being made: snprintf per field cost ~2 us a line (measured with
 * bench/dataplane_events_bench.ts), so fields are appended by hand. */
struct line {
	char b[LINE_MAX_BYTES];
	size_t n;
	int over; /* did not fit: the line is dropped */
};

static void put(struct line *l, const char *s, size_t len)
{
	if (l->n + len > sizeof(l->b)) {
		l->over = 1;
		return;
	}
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

#define PUT_LIT(l, s) put(l, s, sizeof(s) - 1)

static void put_u64(struct line *l, uint64_t v)
{
	char d[20];
	size_t k = sizeof(d);

	do {
		d[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(l, d + k, sizeof(d) - k);
}

/* v as 0-padded decimal of width digits. */
static void put_pad(struct line *l, unsigned v, int width)
{
	char d[8];

	for (int k = width - 1; k >= 0; k--, v /= 10)
		d[k] = (char)('0' + v % 10);
	put(l, d, (size_t)width);
}

/* s as a JSON string's contents, as the node's error answers escape theirs
 * (ids and names are checked already: this only keeps a line valid). The
 * escaper stops short of the end: a line it filled is not one. */
static void put_text(struct line *l, const char *s)
{
	if (l->over)
		return;
	l->n = sure_dp_json_escape(l->b, sizeof(l->b), l->n, s);
	if (l->n + 8 >= sizeof(l->b))
		l->over = 1;
}

/* The wall clock as the control plane's logger writes it (toISOString). */
static void put_now(struct dp_reqlog *r, struct line *l)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != r->iso_sec) { /* gmtime once a second, not per line */
		gmtime_r(&ts.tv_sec, &tm);
		strftime(r->iso, sizeof(r->iso), "%Y-%m-%dT%H:%M:%S", &tm);
		r->iso_sec = ts.tv_sec;
	}
	put(l, r->iso, strlen(r->iso));
	PUT_LIT(l, ".");
	put_pad(l, (unsigned)(ts.tv_nsec / 1000000), 3);
	PUT_LIT(l, "Z");
}

/* Milliseconds with up to 3 decimals, as JSON.stringify writes
 * Math.round(seconds * 1e6) / 1000. */
static void put_ms(struct line *l, uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;
	unsigned frac = (unsigned)(us % 1000);

	put_u64(l, us / 1000);
	if (frac) {
		int width = 3;
		while (frac % 10 == 0) {
			frac /= 10;
			width--;
		}
		PUT_LIT(l, ".");
		put_pad(l, frac, width);
	}
}

void sure_dp_reqlog(struct sure_dataplane *dp, const struct sure_dp_event *ev, const char *target,
		    const char *name)
{
	struct dp_reqlog *r = &dp->reqlog;
	struct line l;
	char trace[33];
	int err = ev->status >= 500;

	if (r->fd[err] < 0)
		return;
	l.n = 0;
	l.over = 0;
	PUT_LIT(&l, "{\"ts\":\"");
	put_now(r, &l);
	if (err)
		PUT_LIT(&l, "\",\"level\":\"warn\",\"requestId\":\"");
	else
		PUT_LIT(&l, "\",\"level\":\"info\",\"requestId\":\"");
	put_text(&l, ev->request_id); /* the data plane's, NUL-terminated */
	PUT_LIT(&l, "\",\"");
	put(&l, target, strlen(target));
	PUT_LIT(&l, "\":\"");
	put_text(&l, name); /* a route's or chain's name, NUL-terminated by the host */
	PUT_LIT(&l, "\",\"status\":");
	put_u64(&l, ev->status);
	PUT_LIT(&l, ",\"durationMs\":");
	put_ms(&l, ev->total_ns);
	PUT_LIT(&l, ",\"traceId\":\"");
	sure_dp_hex(trace, ev->trace_id, 16);
	put(&l, trace, 32);
	PUT_LIT(&l, "\"");
	if (ev->code[0]) {
		PUT_LIT(&l, ",\"error\":\"");
		put_text(&l, ev->code);
		PUT_LIT(&l, "\"");
	}
	PUT_LIT(&l, ",\"msg\":\"request\"}\n");
	if (l.over || r->len[err] + l.n > REQLOG_CAP) {
		r->dropped++;
		return;
	}
	if (!r->buf[err] && !(r->buf[err] = malloc(REQLOG_CAP))) {
		r->dropped++;
		return;
	}
	memcpy(r->buf[err] + r->len[err], l.b, l.n);
	r->len[err] += l.n;
	r->total[err] += l.n;
}

void sure_dp_reqlog_queued(struct sure_dataplane *dp, uint32_t ev_index)
{
	struct dp_reqlog *l = &dp->reqlog;

	l->pos[ev_index][0] = l->total[0];
	l->pos[ev_index][1] = l->total[1];
}

void sure_dp_reqlog_taken(struct sure_dataplane *dp, uint32_t ev_index)
{
	struct dp_reqlog *l = &dp->reqlog;

	l->ready[0] = l->pos[ev_index][0];
	l->ready[1] = l->pos[ev_index][1];
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a closed stdout loses the lines, not the node */
		p += w;
		n -= (size_t)w;
	}
}

/* Writes what is ready (all: everything buffered). `lock` not held. */
static int flush(struct sure_dataplane *dp, int all)
{
	struct dp_reqlog *l = &dp->reqlog;
	int rc = 0;

	pthread_mutex_lock(&l->flush_lock);
	for (int k = 0; k < 2; k++) {
		pthread_mutex_lock(&dp->lock);
		/* buf holds the bytes from total - len on. */
		uint64_t from = l->total[k] - l->len[k];
		size_t n = all ? l->len[k] : l->ready[k] > from ? (size_t)(l->ready[k] - from) : 0;
		int fd = l->fd[k];
		if (n > l->len[k])
			n = l->len[k];
		if (n && !l->out[k] && !(l->out[k] = malloc(REQLOG_CAP)))
			n = 0;
		if (n) {
			/* Out of the way of the server's thread before the write. */
			memcpy(l->out[k], l->buf[k], n);
			memmove(l->buf[k], l->buf[k] + n, l->len[k] - n);
			l->len[k] -= n;
		}
		pthread_mutex_unlock(&dp->lock);
		if (n && fd >= 0)
			write_all(fd, l->out[k], n);
		rc += (int)(n > 0);
	}
	pthread_mutex_unlock(&l->flush_lock);
	return rc;
}

int sure_dp_reqlog_init(struct sure_dataplane *dp)
{
	dp->reqlog.fd[0] = dp->reqlog.fd[1] = -1;
	pthread_mutex_init(&dp->reqlog.flush_lock, NULL);
	dp->reqlog.pos = calloc(DP_EVENTS, sizeof(*dp->reqlog.pos));
	return dp->reqlog.pos ? 0 : -ENOMEM;
}

void sure_dp_reqlog_free(struct sure_dataplane *dp)
{
	flush(dp, 1);
	for (int k = 0; k < 2; k++) {
		free(dp->reqlog.buf[k]);
		free(dp->reqlog.out[k]);
	}
	free(dp->reqlog.pos);
	pthread_mutex_destroy(&dp->reqlog.flush_lock);
}

SURE_API int sure_dataplane_request_log(struct sure_dataplane *dp, int out_fd, int err_fd)
{
	if (!dp || out_fd < -1 || err_fd < -1)
		return -EINVAL;
	flush(dp, 1); /* what was logged goes where it was meant to */
	pthread_mutex_lock(&dp->lock);
	dp->reqlog.fd[0] = out_fd;
	dp->reqlog.fd[1] = err_fd;
	pthread_mutex_unlock(&dp->lock);
	return 0;
}

SURE_API int sure_dataplane_request_log_flush(struct sure_dataplane *dp)
{
	if (!dp)
		return -EINVAL;
	return flush(dp, 0);
}
