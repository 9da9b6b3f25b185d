/*
 * test_template.c - templates and copy-on-write clones on real KVM, with a
 * real function linked against libsg: init runs once, clones continue from
 * its state without sharing their writes, sure_start runs per clone, and a
 * clone that dies in sure_start fails alone. Every test skips (check.h's
 * REQUIRE_KVM) when KVM is unusable; clone and boot times are in bench_vm.c.
 */
#include <errno.h>

#include "build_fn.h"
#include "check.h"
#include "shells.h"
#include "libsure.h"
#include "sure_abi.h"

/*
 * init stamps the TSC and logs; every request counts; sure_start counts its
 * runs, keeps the seed and crashes in the clone numbered CRASH_NO.
 */
static const char stateful_src[] =
	"#include <sure.h>\n"
	"static uint64_t init_tsc, seed; static unsigned count, started;\n"
	"void sure_init(void) { init_tsc = sure_rdtsc(); sure_log(\"init done\"); }\n"
	"void sure_start(void) {\n"
	"	started++; seed = sure_instance_seed();\n"
	"	if (sure_instance_number() == CRASH_NO) *(volatile int *)0 = 1;\n"
	"}\n"
	"int handle(sure_req *req) {\n"
	"	(void)req; count++;\n"
	"	return sure_printf(req, \"%llu %u %u %u %llu\", (unsigned long long)init_tsc,\n"
	"			   count, started, sure_instance_number(), (unsigned long long)seed) < 0;\n"
	"}\n";

struct answer {
	unsigned long long init_tsc, seed;
	unsigned count, started, no;
};

static uint8_t *build_stateful(int crash_no, size_t *len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/stateful.c", tmp_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fprintf(f, "#define CRASH_NO %uu\n%s", (unsigned)crash_no, stateful_src);
	fclose(f);
	return build_function(path, len);
}

static int ask(struct sure_instance *inst, struct answer *a)
{
	int n = sure_instance_invoke(inst, 0, 2000);
	char buf[128];

	if (n <= 0 || n >= (int)sizeof(buf))
		return -1;
	memcpy(buf, sure_instance_resp_buf(inst), (size_t)n);
	buf[n] = 0;
	return sscanf(buf, "%llu %u %u %u %llu", &a->init_tsc, &a->count, &a->started, &a->no,
		      &a->seed) == 5
		       ? 0
		       : -1;
}

static struct sure_template *make_template(const uint8_t *img, size_t len, char *err,
					   size_t errcap, int *rc)
{
	struct sure_template *t = NULL;
	*rc = sure_template_create(img, len, 16, 65536, 2000, NULL, 0, &t, err, errcap);
	return t;
}

static struct sure_instance *clone_of(struct sure_template *t, int *rc, char *err, size_t cap)
{
	struct sure_instance *inst = NULL;
	*rc = sure_instance_clone(t, 2000, &inst, err, cap);
	return inst;
}

static void test_clones_share_init_not_writes(void)
{
	REQUIRE_KVM();
	char err[256] = "";
	size_t len = 0;
	int rc;
	uint8_t *img = build_stateful(-1, &len);
	CHECK(img != NULL);
	if (!img)
		return;
	struct sure_template *t = make_template(img, len, err, sizeof(err), &rc);
	free(img);
	CHECK_EQ(rc, 0);
	if (!t) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	uint8_t log[64];
	CHECK_EQ(sure_template_read_log(t, log, sizeof(log)), 10);
	CHECK(memcmp(log, "init done\n", 10) == 0);
	CHECK_EQ(sure_template_read_log(t, log, sizeof(log)), 0);
	CHECK(sure_template_resident(t) > 0);

	struct sure_instance *a = clone_of(t, &rc, err, sizeof(err));
	struct sure_instance *b = clone_of(t, &rc, err, sizeof(err));
	CHECK(a && b);
	if (!a || !b) {
		fprintf(stderr, "  clone: %s\n", err);
		sure_instance_destroy(a);
		sure_template_destroy(t);
		return;
	}
	CHECK_EQ(sure_template_clones(t), 2);
	struct answer a1, a2, b1;
	CHECK_EQ(ask(a, &a1), 0);
	CHECK_EQ(ask(a, &a2), 0);
	CHECK_EQ(ask(b, &b1), 0);
	CHECK(a1.init_tsc != 0);
	CHECK_EQ(a1.init_tsc, b1.init_tsc); /* one init, shared by both */
	CHECK_EQ(a1.count, 1);
	CHECK_EQ(a2.count, 2);
	CHECK_EQ(b1.count, 1); /* a's writes did not reach b or the template */
	CHECK_EQ(a1.started, 1);
	CHECK_EQ(b1.started, 1);
	CHECK_EQ(a1.no, 1);
	CHECK_EQ(b1.no, 2);
	CHECK(a1.seed != b1.seed);
	/* Init's log lines are the template's: a clone does not repeat them. */
	CHECK_EQ(sure_instance_read_log(a, log, sizeof(log)), 0);

	/* Clones outlive their template. */
	sure_template_destroy(t);
	CHECK_EQ(ask(a, &a1), 0);
	CHECK_EQ(a1.count, 3);
	sure_instance_destroy(a);
	sure_instance_destroy(b);
}

static void test_start_crash_fails_that_clone(void)
{
	REQUIRE_KVM();
	char err[256] = "";
	size_t len = 0;
	int rc;
	uint8_t *img = build_stateful(1, &len);
	CHECK(img != NULL);
	if (!img)
		return;
	struct sure_template *t = make_template(img, len, err, sizeof(err), &rc);
	free(img);
	CHECK_EQ(rc, 0);
	if (!t)
		return;
	struct sure_instance *a = clone_of(t, &rc, err, sizeof(err));
	CHECK(a == NULL);
	CHECK_EQ(rc, -EFAULT);
	CHECK(strstr(err, "exception 14") != NULL);
	struct sure_instance *b = clone_of(t, &rc, err, sizeof(err));
	CHECK(b != NULL);
	struct answer b1;
	if (b) {
		CHECK_EQ(ask(b, &b1), 0);
		CHECK_EQ(b1.no, 2);
	}
	sure_instance_destroy(b);
	sure_template_destroy(t);
}

static void test_init_crash_is_no_template(void)
{
	REQUIRE_KVM();
	static const char src[] = "#include <sure.h>\n"
				  "static volatile int *volatile bad;\n"
				  "void sure_init(void) { *bad = 1; }\n"
				  "int handle(sure_req *r) { (void)r; return 0; }\n";
	char path[PATH_MAX], err[256] = "";
	size_t len = 0;
	int rc;
	snprintf(path, sizeof(path), "%s/initcrash.c", tmp_dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(src, f);
		fclose(f);
	}
	uint8_t *img = build_function(path, &len);
	CHECK(img != NULL);
	if (!img)
		return;
	uint64_t before[3], after[3];
	check_process_stats(before);
	struct sure_template *t = make_template(img, len, err, sizeof(err), &rc);
	free(img);
	CHECK(t == NULL);
	CHECK_EQ(rc, -EFAULT);
	CHECK(strstr(err, "during init") != NULL);
	check_process_stats(after);
	CHECK_EQ(after[0], before[0]);
	CHECK_EQ(after[1], before[1]);
	CHECK_EQ(after[2], before[2]);
}

static int wait_ready_shells(uint32_t n)
{
	for (int i = 0; i < 500; i++) {
		if (sure_vm_shells_ready() == n)
			return 1;
		usleep(2000);
	}
	return 0;
}

/* Empty VMs made ahead are used by clones and refilled in the background. */
static void test_shells(void)
{
	REQUIRE_KVM();
	char path[PATH_MAX], err[256] = "";
	size_t len = 0;
	int rc;
	snprintf(path, sizeof(path), "%s/../functions/echo/echo.c", libsure_dir);
	uint8_t *img = build_function(path, &len);
	CHECK(img != NULL);
	if (!img)
		return;
	struct sure_template *t = make_template(img, len, err, sizeof(err), &rc);
	free(img);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(sure_vm_shells(65), -EINVAL);
	CHECK_EQ(sure_vm_shells(2), 0);
	CHECK(wait_ready_shells(2));
	uint64_t taken = sure_shells_taken();
	struct sure_instance *a = clone_of(t, &rc, err, sizeof(err));
	CHECK(a != NULL);
	/* One was taken (counted, not timed: the refill may already be done). */
	CHECK_EQ(sure_shells_taken(), taken + 1);
	CHECK(wait_ready_shells(2)); /* and made again */
	if (a) { /* a VM from the shelf serves like any other */
		memcpy(sure_instance_req_buf(a), "hi", 2);
		CHECK_EQ(sure_instance_invoke(a, 2, 2000), 2);
		CHECK(memcmp(sure_instance_resp_buf(a), "hi", 2) == 0);
	}
	CHECK_EQ(sure_vm_shells(0), 0);
	CHECK_EQ(sure_vm_shells_ready(), 0);
	struct sure_instance *b = clone_of(t, &rc, err, sizeof(err)); /* and without one */
	CHECK(b != NULL);
	sure_instance_destroy(a);
	sure_instance_destroy(b);
	sure_template_destroy(t);
}

int main(void)
{
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("test_template setup");
		return 1;
	}
	RUN(test_clones_share_init_not_writes);
	RUN(test_start_crash_fails_that_clone);
	RUN(test_init_crash_is_no_template);
	RUN(test_shells);
	cleanup_tmp();
	return CHECK_DONE();
}
