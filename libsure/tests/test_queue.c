/*
 * test_queue.c - a plain instance's request queue (ABI 7) on real KVM, with a
 * real function linked against libsg: the host posts as many requests as the
 * instance has slots, each in its own slot, without waiting; the guest
 * answers every one, in order, into that slot's response area; a slot is
 * posted again only once its answer was taken; a crash under the first leaves
 * the ones behind it unanswered (the data plane gives those to another
 * instance); one withdrawn from behind a slow one never runs, and its slot
 * frees once the guest passed it; the blocking invoke keeps to slot 0. Every test skips (check.h's
 * REQUIRE_KVM) when KVM is unusable.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build_fn.h"
#include "check.h"
#include "instance.h"
#include "libsure.h"
#include "sure_abi.h"
#include "util.h"

/* Answers "<count>:<body>" (count: requests so far), and on "crash" crashes
 * after 200 ms (time for the host to post the next one behind it); "slow"
 * answers after 1 s. */
static const char numbered_src[] =
	"#include <sure.h>\n"
	"static unsigned count;\n"
	"int handle(sure_req *req) {\n"
	"	count++;\n"
	"	if (req->len == 5 && memcmp(req->body, \"crash\", 5) == 0) {\n"
	"		uint64_t end = sure_now_ns() + 200000000ull;\n"
	"		while (sure_now_ns() < end) {}\n"
	"		*(volatile int *)0 = 1;\n"
	"	}\n"
	"	return sure_printf(req, \"%u:%.*s\", count, (int)req->len, (const char *)req->body) < 0;\n"
	"}\n";

static struct sure_instance *boot_numbered(char *err, size_t cap)
{
	char path[PATH_MAX];
	size_t len = 0;
	struct sure_instance *inst = NULL;

	snprintf(path, sizeof(path), "%s/numbered.c", tmp_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(numbered_src, f);
	fclose(f);
	uint8_t *img = build_function(path, &len);
	if (!img)
		return NULL;
	int rc = sure_instance_create(img, len, 16, 65536, 2000, NULL, 0, &inst, err, cap);
	free(img);
	return rc == 0 ? inst : NULL;
}

/* boot_numbered, checked: an instance with at least two slots, or NULL. */
static struct sure_instance *boot_queued(void)
{
	char err[256] = "";
	struct sure_instance *inst = boot_numbered(err, sizeof(err));

	CHECK(inst != NULL);
	if (!inst) {
		fprintf(stderr, "# %s\n", err);
		return NULL;
	}
	CHECK(sure_instance_io_slots(inst) >= 2);
	return inst;
}

/* Copies body into a free slot and posts it: the slot, or < 0. */
static int post(struct sure_instance *inst, const char *body)
{
	int slot = sure_channel_free_slot(&inst->ch);

	if (slot < 0)
		return slot;
	memcpy(sure_instance_slot_req(inst, (uint32_t)slot), body, strlen(body));
	sure_http_resp_head_reset(sure_instance_slot_resp_head(inst, (uint32_t)slot));
	int rc = sure_instance_post(inst, (uint32_t)slot, (uint32_t)strlen(body), -1);
	return rc < 0 ? rc : slot;
}

/* Waits (up to 2 s) for the oldest request's answer: its length, the answer
 * copied into out (NUL terminated). */
static int take(struct sure_instance *inst, char *out, size_t cap)
{
	uint64_t end = sure_now_ns() + 2000000000ull;
	uint32_t slot = 0;
	int n;

	while ((n = sure_instance_poll(inst, 0, &slot)) == -EAGAIN && sure_now_ns() < end)
		__builtin_ia32_pause();
	if (n >= 0 && (size_t)n < cap) {
		memcpy(out, sure_instance_slot_resp(inst, slot), (size_t)n);
		out[n] = 0;
	}
	return n;
}

static void test_a_burst_is_answered_in_order_from_its_slots(void)
{
	REQUIRE_KVM();
	char got[160], want[160];
	struct sure_instance *inst = boot_queued();

	if (!inst)
		return;
	uint32_t slots = sure_instance_io_slots(inst);
	CHECK_EQ(slots, sure_io_slots(65536));
	unsigned count = 0;
	for (int round = 0; round < 50; round++) {
		char body[SURE_IO_QUEUE_MAX][16];
		for (uint32_t k = 0; k < slots; k++) {
			snprintf(body[k], sizeof(body[k]), "r%d-%u", round, k);
			CHECK_EQ(post(inst, body[k]), (int)k); /* the lowest free slot */
		}
		CHECK_EQ(post(inst, "one too many"), -EBUSY);
		for (uint32_t k = 0; k < slots; k++) {
			snprintf(want, sizeof(want), "%u:%s", ++count, body[k]);
			CHECK_EQ(take(inst, got, sizeof(got)), (int)strlen(want));
			CHECK(strcmp(got, want) == 0);
			CHECK_EQ(sure_instance_status(inst), 200);
			/* Its slot is free again, and reused at once, the others in flight. */
			if (round % 2 && k + 1 < slots)
				CHECK(sure_channel_free_slot(&inst->ch) >= 0);
		}
		CHECK_EQ(sure_channel_inflight(&inst->ch), 0);
	}
	/* The blocking invoke, between bursts, keeps to slot 0. */
	memcpy(sure_instance_req_buf(inst), "inv", 3);
	int n = sure_instance_invoke(inst, 3, 2000);
	snprintf(want, sizeof(want), "%u:inv", ++count);
	CHECK_EQ(n, (int)strlen(want));
	CHECK(n > 0 && memcmp(sure_instance_resp_buf(inst), want, (size_t)n) == 0);
	CHECK_EQ(sure_instance_requests(inst), count);
	sure_instance_destroy(inst);
}

static void test_a_crash_leaves_the_ones_behind_unanswered(void)
{
	REQUIRE_KVM();
	char got[64];
	struct sure_instance *inst = boot_queued();

	if (!inst)
		return;
	CHECK_EQ(post(inst, "crash"), 0);
	CHECK_EQ(post(inst, "after"), 1);
	CHECK_EQ(take(inst, got, sizeof(got)), -EFAULT);
	struct sure_fault_info fi;
	CHECK_EQ(sure_instance_fault(inst, &fi, sizeof(fi)), 0);
	CHECK_EQ(fi.kind, SURE_FAULT_EXCEPTION);
	/* The one behind never ran: no answer comes for it either. */
	CHECK_EQ(sure_channel_inflight(&inst->ch), 1);
	CHECK_EQ(take(inst, got, sizeof(got)), -EFAULT);
	CHECK_EQ(sure_instance_requests(inst), 0);
	sure_instance_destroy(inst);
}

static void test_a_withdrawn_request_never_runs(void)
{
	REQUIRE_KVM();
	char got[64];
	struct sure_instance *inst = boot_queued();

	if (!inst)
		return;
	uint32_t first = inst->ch.seq + 1;
	CHECK_EQ(post(inst, "slow"), 0);
	CHECK_EQ(post(inst, "behind"), 1);
	/* Once the guest runs the slow one, the one behind it is surely not begun. */
	uint64_t end = sure_now_ns() + 5000000000ull;
	while (sure_load(&inst->ctrl->started_seq) != first && sure_now_ns() < end)
		usleep(1000);
	CHECK_EQ(sure_load(&inst->ctrl->started_seq), first);
	CHECK_EQ(sure_instance_withdraw(inst, 1), 1);
	CHECK_EQ(take(inst, got, sizeof(got)), 6);
	CHECK(strcmp(got, "1:slow") == 0);
	/* The guest passes over it at once: its slot frees without anyone taking it. */
	end = sure_now_ns() + 5000000000ull;
	while (sure_channel_inflight(&inst->ch) && sure_now_ns() < end) {
		sure_channel_free_slot(&inst->ch);
		usleep(1000);
	}
	CHECK_EQ(sure_channel_inflight(&inst->ch), 0);
	CHECK_EQ(inst->ctrl->io_withdrawn[(first + 1) % SURE_IO_QUEUE_MAX], 0u);
	CHECK_EQ(post(inst, "next"), 0);
	CHECK_EQ(take(inst, got, sizeof(got)), 6);
	CHECK(strcmp(got, "2:next") == 0); /* "behind" never ran */
	CHECK_EQ(sure_instance_requests(inst), 2);
	sure_instance_destroy(inst);
}

int main(void)
{
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("test_queue setup");
		return 1;
	}
	RUN(test_a_burst_is_answered_in_order_from_its_slots);
	RUN(test_a_crash_leaves_the_ones_behind_unanswered);
	RUN(test_a_withdrawn_request_never_runs);
	cleanup_tmp();
	return CHECK_DONE();
}
