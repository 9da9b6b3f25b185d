/*
 * fuzz_ctrl.c - libFuzzer target for the host code that reads what a guest
 * writes into its control page (struct sure_ctrl): the request/response
 * handshake (src/channel.c: resp_seq, resp_len, ready), the checks of
 * sure_instance_invoke (src/instance.c: resp_len against the I/O area,
 * resp_status), the log drain through the instance and resp_reason; in
 * both protocols: the single-request fields of images before ABI 7 and
 * ABI 7's request queue (io_req, io_resp: several requests in flight),
 * and ABI 8's withdrawals (io_withdrawn, started_seq, SURE_REASON_WITHDRAWN).
 *
 * A plain instance without a VM (fuzz_instance.h) plays against a scripted
 * guest: the input says what the guest writes (any field, any bytes) and when
 * it answers a request, and what the host asks. The host must then return
 * only lengths inside the I/O area, statuses inside 100..599, refuse or kill
 * exactly when the rules say so, and never block: every wait here has a
 * deadline that has already passed, or an answer that is already there.
 * An empty input serves a few requests (the built-in seed).
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_ctrl -max_total_time=60
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "fuzz_instance.h"
#include "libsure.h"
#include "util.h"

/* Control-page fields the host reads or writes, for the guest to scribble. */
#define F(name) { offsetof(struct sure_ctrl, name), sizeof(((struct sure_ctrl *)0)->name) }
static const struct {
	size_t off, size;
} fields[] = {
	F(resp_seq), F(resp_len), F(resp_status), F(guest_state), F(ready),     F(log_head),
	F(log_dropped), F(requests), F(req_seq), F(req_len),  F(host_waiting), F(log_tail),
	F(tsc_hz),   F(resp_reason), F(io_cap), F(log_size), F(snapshot_wanted), F(io_slots),
	F(io_req),   F(io_resp),   F(io_withdrawn), F(started_seq),
};

struct model {
	int dead;
	uint64_t requests; /* answers the host accepted */
};

/* The status rules of sure_instance_invoke, restated: 0 means 200. */
static int want_status(int32_t s)
{
	if (s == 0)
		return 200;
	return s < 100 || s > 599 ? 502 : s;
}

/* Where the guest writes request n's answer, in the instance's protocol. */
static void answer(struct sure_instance *inst, uint32_t n, uint32_t len, int32_t status,
		   uint32_t reason)
{
	struct sure_ctrl *c = inst->ctrl;

	if (inst->ch.queue) {
		c->io_resp[n % SURE_IO_QUEUE_MAX].len = len;
		c->io_resp[n % SURE_IO_QUEUE_MAX].status = status;
		c->io_resp[n % SURE_IO_QUEUE_MAX].reason = reason;
	} else {
		c->resp_len = len;
		c->resp_status = status;
		c->resp_reason = reason;
	}
}

/* Any reason, one past the last known included; WITHDRAWN often. */
static uint32_t answer_reason(struct fuzz_in *in)
{
	return fin_u8(in, 0) % (SURE_REASON_WITHDRAWN + 2);
}

static uint32_t answer_len(struct fuzz_in *in)
{
	return fin_u8(in, 0) & 1 ? fin_u32(in, 0) : fin_u16(in, 5) % (FUZZ_IO_CAP + 2);
}

/* The guest answers the next request before it is even posted. */
static void invoke_answered(struct sure_instance *inst, struct model *m, struct fuzz_in *in)
{
	struct sure_ctrl *c = inst->ctrl;
	uint32_t req_len = fin_u16(in, 5) % (FUZZ_IO_CAP + 64);
	uint32_t resp_len = answer_len(in);
	int32_t status = (int32_t)fin_u32(in, 0);
	uint32_t reason = answer_reason(in);
	struct sure_fault_info fi;

	c->resp_seq = inst->ch.seq + 1;
	answer(inst, inst->ch.seq + 1, resp_len, status, reason);
	int rc = sure_instance_invoke(inst, req_len, 1000);
	if (req_len > FUZZ_IO_CAP) { /* refused before anything else, dead or alive */
		if (rc != -E2BIG)
			abort();
	} else if (m->dead) {
		if (rc != -EPIPE)
			abort();
	} else if (resp_len > FUZZ_IO_CAP || reason == SURE_REASON_WITHDRAWN) {
		/* A length past the response area, or a request the host never
		 * withdrew said to be withdrawn, is a protocol fault: it dies. */
		if (rc != -EPROTO || !sure_channel_dead(&inst->ch))
			abort();
		if (sure_instance_fault(inst, &fi, sizeof(fi)) != 0 ||
		    (fi.kind == SURE_FAULT_PROTOCOL && fi.error_code != resp_len))
			abort();
		m->dead = 1;
	} else {
		m->requests++;
		if (rc != (int)resp_len || sure_instance_status(inst) != want_status(status))
			abort();
	}
	int s = sure_instance_status(inst);
	if (s < 100 || s > 599 || sure_instance_requests(inst) != m->requests)
		abort();
}

/* A request the guest does not answer (unless it wrote resp_seq ahead): no wait. */
static void channel_unanswered(struct sure_instance *inst, struct model *m, struct fuzz_in *in)
{
	struct sure_channel *ch = &inst->ch;
	struct sure_io_req req = { .len = fin_u16(in, 1) % (FUZZ_IO_CAP + 64) };
	int rc = sure_channel_begin(ch, &req);

	if (req.len > FUZZ_IO_CAP ? rc != -E2BIG : m->dead ? rc != -EPIPE : rc != 0)
		abort();
	if (rc < 0)
		return;
	const struct sure_io_req *e = &inst->ctrl->io_req[ch->seq % SURE_IO_QUEUE_MAX];
	if (inst->ctrl->req_seq != ch->seq ||
	    (ch->queue ? e->len != req.len || e->slot != 0 : inst->ctrl->req_len != req.len))
		abort();
	int early = inst->ctrl->resp_seq == ch->seq;
	uint32_t len = ch->queue ? inst->ctrl->io_resp[ch->seq % SURE_IO_QUEUE_MAX].len
				 : inst->ctrl->resp_len;
	uint32_t reason = ch->queue ? inst->ctrl->io_resp[ch->seq % SURE_IO_QUEUE_MAX].reason
				    : inst->ctrl->resp_reason;
	rc = sure_channel_wait(ch, sure_now_ns());
	if (!early && (rc != -ETIMEDOUT || inst->ctrl->host_waiting != 0))
		abort();
	/* Nothing was withdrawn: an answer that says so is a fault. */
	int bad = len > FUZZ_IO_CAP || reason == SURE_REASON_WITHDRAWN;
	if (early && rc != (bad ? -EPROTO : (int)len))
		abort();
	if (rc > (int)FUZZ_IO_CAP)
		abort();
	sure_channel_end(ch);
}

/*
 * ABI 7: up to io_slots requests posted at once, each in a free slot; the
 * guest then says it answered up to any request number and writes any
 * answers. Exactly the requests from the oldest in flight up to that number
 * are answered, if it lies among those posted (none otherwise), in order,
 * each with the length it wrote for it (a length past the area kills it).
 * ABI 8: the host may first withdraw those behind the oldest, with the guest
 * saying it began any request number: those after the one it names (or all
 * of them, if it names none in flight) are surely not run, and their
 * answers never reach the caller, whatever they say; the others' answers
 * count, and may say WITHDRAWN, which only a withdrawn request may say (a
 * protocol fault otherwise).
 */
static void queue_burst(struct sure_instance *inst, struct model *m, struct fuzz_in *in)
{
	struct sure_channel *ch = &inst->ch;
	struct sure_ctrl *c = inst->ctrl;
	uint32_t want = fin_u8(in, 1) % (SURE_IO_QUEUE_MAX + 1), posted = 0;
	uint32_t lens[SURE_IO_QUEUE_MAX] = { 0 }, reasons[SURE_IO_QUEUE_MAX] = { 0 };
	uint32_t first_gone = SURE_IO_QUEUE_MAX + 1; /* request k (from 1) >= this: surely withdrawn */
	int asked = 0;

	if (!ch->queue || m->dead)
		return;
	while (sure_channel_inflight(ch) > 0) { /* what an earlier case left */
		sure_channel_end(ch);
	}
	uint32_t done = ch->done;
	for (uint32_t k = 0; k < want; k++) {
		int slot = sure_channel_free_slot(ch);
		struct sure_io_req req = { .slot = slot < 0 ? 0 : (uint32_t)slot, .len = k };
		int rc = sure_channel_begin(ch, &req);
		if (k < ch->slots ? slot < 0 || rc != 0 : slot != -EBUSY || rc != -EBUSY)
			abort();
		if (rc == 0)
			posted++;
	}
	if (ch->withdraw && fin_u8(in, 0) & 1) {
		uint32_t began = (uint32_t)(int8_t)fin_u8(in, 0);
		c->started_seq = done + began;
		if (began > posted)
			began = 0;
		first_gone = began + 1 > 2 ? began + 1 : 2;
		int gone = sure_channel_withdraw(ch, 1);
		if (gone != (int)(posted >= first_gone ? posted - first_gone + 1 : 0))
			abort();
		for (uint32_t k = 2; k <= posted; k++)
			if (c->io_withdrawn[(done + k) % SURE_IO_QUEUE_MAX] != 1)
				abort();
		/* Asked once: a second call asks nothing more. */
		if (sure_channel_withdraw(ch, 1) != 0)
			abort();
		asked = 1;
	} else if (!ch->withdraw && sure_channel_withdraw(ch, 1) != -ENOTSUP) {
		abort();
	}
	for (uint32_t k = 1; k <= posted; k++) {
		lens[k - 1] = answer_len(in);
		reasons[k - 1] = answer_reason(in);
		answer(inst, done + k, lens[k - 1], 200, reasons[k - 1]);
	}
	uint32_t said = done + (uint32_t)(int8_t)fin_u8(in, 0);
	c->resp_seq = said;
	uint32_t ahead = said - done, accepted = ahead >= 1 && ahead <= posted ? ahead : 0;
	for (uint32_t k = 0; k < posted && k + 1 < first_gone; k++) {
		uint32_t slot;
		int rc = sure_instance_poll(inst, 0, &slot);
		if (k >= accepted) {
			/* dead: -EFAULT, it died under this request */
			if (rc != (m->dead ? -EFAULT : -EAGAIN))
				abort();
			break;
		}
		int withdrawn = reasons[k] == SURE_REASON_WITHDRAWN;
		if (lens[k] > FUZZ_IO_CAP || (withdrawn && (!asked || k == 0))) {
			if (rc != -EPROTO || !sure_channel_dead(ch))
				abort();
			m->dead = 1;
		} else if (rc != (int)lens[k] || slot != k) {
			abort();
		} else if (!withdrawn) {
			m->requests++; /* a withdrawn one never ran */
		}
	}
	/* The answered ones surely withdrawn left with the last taken. */
	if (!m->dead && accepted >= posted && sure_channel_inflight(ch) != 0)
		abort();
	while (sure_channel_inflight(ch) > 0)
		sure_channel_end(ch);
	for (uint32_t k = 2; k <= posted && asked; k++)
		if (c->io_withdrawn[(done + k) % SURE_IO_QUEUE_MAX] != 0)
			abort(); /* cleared before the entry is used again */
}

static void run(struct sure_instance *inst, struct fuzz_in *in)
{
	struct model m = { 0 };
	struct sure_ctrl *c = inst->ctrl;
	uint8_t bytes[64];

	/* The seed: the guest says ready, then answers requests. */
	c->ready = 1;
	if (sure_channel_wait_ready(&inst->ch, sure_now_ns()) != 0)
		abort();
	for (int i = 0; i < 2; i++) {
		struct fuzz_in none = { NULL, 0 };
		invoke_answered(inst, &m, &none);
	}
	while (fin_more(in)) {
		switch (fin_u8(in, 0) % 9) {
		case 0: { /* the guest writes one field (8 bytes of it, of an array) */
			unsigned k = fin_u8(in, 0) % (sizeof(fields) / sizeof(fields[0]));
			uint64_t v = fin_u64(in, 0);
			size_t n = fields[k].size < sizeof(v) ? fields[k].size : sizeof(v);
			size_t at = fin_u16(in, 0) % (fields[k].size - n + 1);
			memcpy((uint8_t *)c + fields[k].off + at, &v, n);
			break;
		}
		case 1: { /* ... or any bytes of the page */
			size_t off = fin_u16(in, 0) % sizeof(*c);
			size_t n = fin_u8(in, 0) % sizeof(bytes);
			if (n > sizeof(*c) - off)
				n = sizeof(*c) - off;
			memset(bytes, 0, n);
			fin_bytes(in, bytes, n);
			memcpy((uint8_t *)c + off, bytes, n);
			break;
		}
		case 2:
		case 3:
			invoke_answered(inst, &m, in);
			break;
		case 4:
			channel_unanswered(inst, &m, in);
			break;
		case 5: { /* init done? only ready == 1 says so */
			int rc = sure_channel_wait_ready(&inst->ch, sure_now_ns());
			int want = c->ready == 1 ? 0 : m.dead ? -EPIPE : -ETIMEDOUT;
			if (rc != want)
				abort();
			break;
		}
		case 6: { /* the log, through the instance */
			size_t cap = fin_u16(in, 64) % 512;
			uint8_t *buf = malloc(cap ? cap : 1);
			int n = sure_instance_read_log(inst, buf, cap);
			if (n < 0 || (size_t)n > cap)
				abort();
			free(buf);
			if (sure_instance_resp_reason(inst) < 0 ||
			    sure_instance_resp_reason(inst) > SURE_REASON_WITHDRAWN)
				abort();
			break;
		}
		case 7: /* the guest died (what the vCPU thread does on a fault) */
			if (fin_u8(in, 0) % 8 == 0) {
				sure_channel_kill(&inst->ch);
				m.dead = 1;
			}
			break;
		case 8:
			queue_burst(inst, &m, in);
			break;
		}
	}
	struct fuzz_in none = { NULL, 0 };
	invoke_answered(inst, &m, &none);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint32_t slots = fin_u8(&in, 0) % (SURE_IO_QUEUE_MAX + 1); /* 0: before ABI 7 */
	struct sure_instance *inst = fuzz_instance_new(fin_u32(&in, 0), slots);

	run(inst, &in);
	fuzz_instance_free(inst);
	return 0;
}
