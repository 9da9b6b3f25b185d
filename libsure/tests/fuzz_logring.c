/*
 * fuzz_logring.c - libFuzzer target for the host's drain of a guest's log
 * ring (src/logring.c). The guest owns the ring bytes and log_head and can
 * write log_tail as well; whatever it does, the host must read only inside
 * the ring, copy out at most what it was asked for and at most what is
 * unread, hand out whole lines (or a line that can never complete, cut),
 * keep its own tail, and skip to the head when the head is impossible.
 *
 * The input is a script of guest and host steps (see run()). The ring and
 * each drain buffer are heap blocks of exactly their size, so ASan sees any
 * access outside them. The ring size is a power of two, as SURE_LOG_SIZE is
 * (the free-running uint32 counters wrap cleanly only then); small rings
 * reach wrap-around and overruns quickly. An empty input logs and drains a
 * few lines (the built-in seed).
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_logring -max_total_time=60
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "logring.h"

struct fix {
	struct sure_ctrl *ctrl;
	uint8_t *ring;
	uint32_t size;
	struct sure_logring lr;
};

/* What a well-behaved guest does: bytes at head % size, then a new head. */
static void append(struct fix *f, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		f->ring[f->ctrl->log_head % f->size] = s[i];
		f->ctrl->log_head++;
	}
}

static int has_nl(const struct fix *f, uint32_t from, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (f->ring[(from + i) % f->size] == '\n')
			return 1;
	return 0;
}

static void drain(struct fix *f, size_t cap)
{
	uint8_t *buf = cap ? malloc(cap) : NULL;
	uint32_t head = f->ctrl->log_head, tail0 = f->lr.tail, avail = head - tail0;
	uint64_t resets0 = f->lr.resets;
	size_t n = sure_logring_drain(&f->lr, buf, cap);

	if (avail > f->size) {
		/* An impossible head: nothing handed out, skip to it. */
		if (n != 0 || f->lr.tail != head || f->ctrl->log_tail != head ||
		    f->lr.resets != resets0 + 1)
			abort();
		free(buf);
		return;
	}
	if (n > cap || n > avail || f->lr.tail != tail0 + (uint32_t)n || f->lr.resets != resets0)
		abort();
	if (n > 0 && f->ctrl->log_tail != f->lr.tail)
		abort(); /* the guest must learn the space is free */
	for (size_t i = 0; i < n; i++)
		if (buf[i] != f->ring[(tail0 + i) % f->size])
			abort();
	uint32_t m = (uint32_t)(avail < cap ? avail : cap); /* what it could have taken */
	if (n > 0 && buf[n - 1] != '\n') {
		/* Cut: only a line that cannot complete (as long as cap or the ring). */
		if (has_nl(f, tail0, m) || (n != cap && n != f->size))
			abort();
	} else if (n > 0) {
		/* Whole lines, as many as fit. */
		if (has_nl(f, tail0 + (uint32_t)n, m - (uint32_t)n))
			abort();
	} else if (buf && m > 0) {
		/* Nothing: only a partial line that may still complete. */
		if (has_nl(f, tail0, m) || m == cap || avail >= f->size)
			abort();
	}
	free(buf);
}

static void run(struct fix *f, struct fuzz_in *in)
{
	static const uint8_t lines[] = "hello log\nsecond line\na partial";
	uint8_t bytes[256];

	/* The seed: two lines and a partial one, drained with room to spare. */
	append(f, lines, sizeof(lines) - 1);
	drain(f, 64);
	while (fin_more(in)) {
		switch (fin_u8(in, 0) % 7) {
		case 0: { /* the guest logs bytes */
			size_t n = fin_u8(in, 0);
			size_t k = fin_bytes(in, bytes, n);
			append(f, bytes, k);
			break;
		}
		case 1: { /* ... or a run of lines, to overrun the ring quickly */
			uint16_t reps = fin_u16(in, 1) % 2048;
			for (uint16_t i = 0; i < reps; i++)
				append(f, lines, 10);
			break;
		}
		case 2: /* the guest lies about its head */
			f->ctrl->log_head = fin_u32(in, 0);
			break;
		case 3:
			f->ctrl->log_head += fin_u16(in, 1);
			break;
		case 4: /* the guest writes the host's field */
			f->ctrl->log_tail = fin_u32(in, 0);
			break;
		case 5:
			drain(f, fin_u16(in, 64) % 600);
			break;
		case 6: /* a clone starts from the (guest-writable) cursor it inherited */
			sure_logring_init(&f->lr, f->ctrl, f->ring, f->size);
			break;
		}
	}
	drain(f, 4096);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fix f;

	f.size = 1u << (4 + fin_u8(&in, 10) % 11); /* 16 .. SURE_LOG_SIZE */
	f.ctrl = calloc(1, sizeof(*f.ctrl));
	f.ring = calloc(1, f.size);
	if (!f.ctrl || !f.ring)
		abort();
	/* The counters may start anywhere: a clone goes on from its template's. */
	f.ctrl->log_tail = fin_u32(&in, 0);
	f.ctrl->log_head = f.ctrl->log_tail + (fin_u8(&in, 0) % 4 == 3 ? fin_u32(&in, 0) : 0);
	sure_logring_init(&f.lr, f.ctrl, f.ring, f.size);
	run(&f, &in);
	free(f.ring);
	free(f.ctrl);
	return 0;
}

_Static_assert((SURE_LOG_SIZE & (SURE_LOG_SIZE - 1)) == 0, "the ring size is a power of two");
_Static_assert(SURE_LOG_SIZE <= 1u << 14, "the sizes fuzzed reach SURE_LOG_SIZE");
