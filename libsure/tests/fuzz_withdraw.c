/*
 * fuzz_withdraw.c - libFuzzer target for ABI 8's withdrawals (src/channel.c:
 * sure_channel_withdraw, and the answers wait and poll skip), against an
 * honest guest whose every step the input interleaves with the host's: the
 * guest's loop (loop.c) publishes started_seq, then reads io_withdrawn, then
 * runs or passes over the request and answers it; the host posts into free
 * slots, withdraws what waits behind the oldest it waits for, and takes
 * answers, as the data plane does (dp_plain.c).
 *
 * What must hold, for any interleaving: a request the host gave back (from
 * a withdrawal, or an answer that says WITHDRAWN) is never run, a request
 * whose answer the host took was run, no request is answered twice or
 * lost, an answer the guest gave is never kept from the host, and in the
 * end every slot is free and every io_withdrawn entry clear. (A dishonest
 * guest is fuzz_ctrl's.) An empty input posts, withdraws and drains a few.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_withdraw -max_total_time=60
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "fuzz_input.h"
#include "sure_abi.h"

#define IO_CAP 4096u
#define MAX_REQS 200u /* requests posted per input */

enum fate { UNPOSTED, POSTED, ANSWERED, GIVEN_BACK };

struct world {
	struct sure_ctrl *c;
	struct sure_channel ch;
	/* the host's side: what the caller waits for, oldest first */
	uint32_t list[SURE_IO_QUEUE_MAX], nlist, posted;
	uint8_t fate[MAX_REQS + 1];
	/* the guest's side: the last request answered, the one it is on */
	uint32_t seen, cur, phase; /* 0: waiting, 1: began cur, 2: decided */
	uint8_t ran[MAX_REQS + 1], passed[MAX_REQS + 1];
};

static uint32_t answer_len(uint32_t n)
{
	return n * 37 % IO_CAP;
}

static void host_post(struct world *w)
{
	if (w->posted == MAX_REQS)
		return;
	int slot = sure_channel_free_slot(&w->ch);
	struct sure_io_req req = { .slot = slot < 0 ? 0 : (uint32_t)slot, .len = 1 };
	int rc = sure_channel_begin(&w->ch, &req);
	if (slot < 0) {
		if (rc != -EBUSY)
			abort();
		return;
	}
	if (rc != 0)
		abort();
	w->posted++;
	w->fate[w->posted] = POSTED;
	w->list[w->nlist++] = w->posted;
}

static void host_withdraw(struct world *w)
{
	int gone = sure_channel_withdraw(&w->ch, 1);

	if (gone < 0 || (uint32_t)gone >= (w->nlist ? w->nlist : 1))
		abort(); /* never the oldest the caller waits for */
	for (; gone > 0; gone--) {
		uint32_t n = w->list[--w->nlist];
		if (w->ran[n])
			abort(); /* given back after it ran */
		w->fate[n] = GIVEN_BACK;
	}
}

static void host_poll(struct world *w)
{
	int rc = sure_channel_poll(&w->ch, 0);

	if (rc == -EAGAIN) {
		/* The guest answers in order: an answer to the oldest waited for
		 * must be seen, whatever was withdrawn before it. */
		if (w->nlist && w->seen >= w->list[0])
			abort();
		return;
	}
	if (rc < 0 || !w->nlist || w->seen < w->list[0])
		abort();
	uint32_t n = w->list[0];
	if (w->ch.ans.reason == SURE_REASON_WITHDRAWN) {
		if (!w->passed[n] || rc != 0)
			abort();
		w->fate[n] = GIVEN_BACK;
	} else {
		if (!w->ran[n] || rc != (int)answer_len(n))
			abort();
		w->fate[n] = ANSWERED;
	}
	memmove(&w->list[0], &w->list[1], --w->nlist * sizeof(w->list[0]));
	sure_channel_end(&w->ch);
}

/* One step of the guest's loop, with the fences of loop.c between them. */
static void guest_step(struct world *w)
{
	struct sure_ctrl *c = w->c;

	if (w->phase == 0) {
		if (__atomic_load_n(&c->req_seq, __ATOMIC_ACQUIRE) == w->seen)
			return;
		w->cur = w->seen + 1;
		__atomic_store_n(&c->started_seq, w->cur, __ATOMIC_SEQ_CST);
		w->phase = 1;
	} else if (w->phase == 1) {
		if (__atomic_load_n(&c->io_withdrawn[w->cur % SURE_IO_QUEUE_MAX], __ATOMIC_SEQ_CST)) {
			w->passed[w->cur] = 1;
		} else {
			if (w->fate[w->cur] != POSTED)
				abort(); /* it runs a request the host gave back */
			w->ran[w->cur] = 1;
		}
		w->phase = 2;
	} else {
		struct sure_io_resp *r = &c->io_resp[w->cur % SURE_IO_QUEUE_MAX];
		int ran = w->ran[w->cur];
		r->len = ran ? answer_len(w->cur) : 0;
		r->status = ran ? 200 : 0;
		r->reason = ran ? SURE_REASON_HANDLER : SURE_REASON_WITHDRAWN;
		r->rc = 0;
		__atomic_store_n(&c->resp_seq, w->cur, __ATOMIC_SEQ_CST);
		w->seen = w->cur;
		w->phase = 0;
	}
}

/* The built-in seed: two slots' worth posted, the one behind withdrawn
 * before the guest begins it, then a drain. */
static const uint8_t seed[] = { 0, 0, 3, 1, 3, 3, 3, 3, 3, 2, 2, 0, 3, 3, 3, 2 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { size ? data : seed, size ? size : sizeof(seed) };
	struct world *w = calloc(1, sizeof(*w));

	w->c = calloc(1, sizeof(*w->c));
	sure_channel_init(&w->ch, w->c, IO_CAP);
	sure_channel_set_queue(&w->ch, 2 + fin_u8(&in, 0) % (SURE_IO_QUEUE_MAX - 1), 1);
	while (fin_more(&in)) {
		switch (fin_u8(&in, 0) % 5) {
		case 0:
			host_post(w);
			break;
		case 1:
			host_withdraw(w);
			break;
		case 2:
			host_poll(w);
			break;
		default:
			guest_step(w);
			break;
		}
	}
	/* Drain: the guest serves what is posted, the host takes every answer. */
	for (int round = 0; round < 10000 && (w->nlist || w->phase ||
					      w->seen != w->c->req_seq); round++) {
		guest_step(w);
		host_poll(w);
	}
	if (w->nlist || sure_channel_free_slot(&w->ch) != 0 || sure_channel_inflight(&w->ch))
		abort();
	for (uint32_t n = 1; n <= w->posted; n++)
		if ((w->fate[n] == ANSWERED) != (w->ran[n] == 1) || w->fate[n] == POSTED)
			abort(); /* answered iff it ran, once; none lost */
	for (uint32_t e = 0; e < SURE_IO_QUEUE_MAX; e++)
		if (w->c->io_withdrawn[e])
			abort();
	free(w->c);
	free(w);
	return 0;
}
