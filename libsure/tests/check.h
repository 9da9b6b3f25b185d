/*
 * check.h - the smallest test harness that reports like TAP: one
 * "ok N - name", "not ok N - name" or "ok N - name # SKIP reason" line per
 * test, then "# passed P failed F skipped S". scripts/test.sh adds these
 * counts to the project's summary line; a skipped test is never a pass.
 *
 * A test that cannot run here says SKIP("why %s", ...), which returns from
 * it. One that needs KVM starts with REQUIRE_KVM(): a skip when
 * sure_kvm_probe() finds KVM unusable, or a failure when SURE_REQUIRE_KVM=1
 * is set (a machine with /dev/kvm, e.g. CI, insists that nothing skips).
 */
#ifndef SURE_CHECK_H
#define SURE_CHECK_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "libsure.h"

static int check_failed_here, check_skipped_here;
static char check_skip_why[256], check_kvm_why[200];
static int check_n, check_pass, check_fail, check_skip;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
				#cond);                                              \
			check_failed_here = 1;                                       \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
		if (check_a_ != check_b_) {                                          \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",     \
				__FILE__, __LINE__, #a, check_a_, #b, check_b_);     \
			check_failed_here = 1;                                       \
		}                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *check_s_ = (a), *check_t_ = (b);                         \
		if (!check_s_ || strcmp(check_s_, check_t_)) {                       \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n",      \
				__FILE__, __LINE__, #a, check_s_ ? check_s_ : "(null)", \
				check_t_);                                           \
			check_failed_here = 1;                                       \
		}                                                                    \
	} while (0)

/* Marks the running test skipped (the caller returns right after). */
static inline void __attribute__((format(printf, 1, 2))) check_skip_test(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(check_skip_why, sizeof(check_skip_why), fmt, ap);
	va_end(ap);
	/* One line: a newline in the reason would end the TAP directive. */
	check_skip_why[strcspn(check_skip_why, "\n")] = 0;
	check_skipped_here = 1;
}
#define SKIP(...)                                                                    \
	do {                                                                         \
		check_skip_test(__VA_ARGS__);                                        \
		return;                                                              \
	} while (0)

/* 1 if the running kernel is at least major.minor (a feature it brought). */
static inline int check_kernel_at_least(unsigned major, unsigned minor)
{
	struct utsname u;
	unsigned ma = 0, mi = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &ma, &mi) != 2)
		return 0;
	return ma > major || (ma == major && mi >= minor);
}

/* 1 if KVM can run sure guests here; probed once, the reason kept in check_kvm_why. */
static inline int check_have_kvm(void)
{
	static int state = -1;

	if (state < 0)
		state = sure_kvm_probe(check_kvm_why, sizeof(check_kvm_why)) == 0;
	return state;
}

static inline int check_kvm_required(void)
{
	const char *v = getenv("SURE_REQUIRE_KVM");

	return v && strcmp(v, "1") == 0;
}

/* First statement of a test that needs KVM: skip without it (fail if it is required). */
#define REQUIRE_KVM()                                                                \
	do {                                                                         \
		if (!check_have_kvm()) {                                             \
			if (check_kvm_required()) {                                  \
				fprintf(stderr, "  SURE_REQUIRE_KVM=1 but no usable KVM: %s\n", \
					check_kvm_why);                              \
				check_failed_here = 1;                               \
				return;                                              \
			}                                                            \
			SKIP("no usable KVM: %s", check_kvm_why);                    \
		}                                                                    \
	} while (0)

/* CHECK_ONLY=name[,name...] runs only the tests named (to chase one that is
 * flaky); the others are neither run nor counted. */
static inline int check_selected(const char *name)
{
	const char *only = getenv("CHECK_ONLY");
	size_t n = strlen(name);

	if (!only || !*only)
		return 1;
	for (const char *at = strstr(only, name); at; at = strstr(at + 1, name))
		if ((at == only || at[-1] == ',') && (at[n] == 0 || at[n] == ','))
			return 1;
	return 0;
}

/* A failed check wins over a skip: a test that skips after failing still failed. */
#define RUN(fn)                                                                      \
	do {                                                                         \
		if (!check_selected(#fn))                                            \
			break;                                                       \
		check_failed_here = 0;                                               \
		check_skipped_here = 0;                                              \
		fn();                                                                \
		check_n++;                                                           \
		if (check_failed_here) {                                             \
			check_fail++;                                                \
			printf("not ok %d - %s\n", check_n, #fn);                    \
		} else if (check_skipped_here) {                                     \
			check_skip++;                                                \
			printf("ok %d - %s # SKIP %s\n", check_n, #fn, check_skip_why); \
		} else {                                                             \
			check_pass++;                                                \
			printf("ok %d - %s\n", check_n, #fn);                        \
		}                                                                    \
		fflush(stdout);                                                      \
	} while (0)

/* Entries in a directory (e.g. /proc/self/fd, /proc/self/task) for leak checks; -1 on error. */
static inline int check_count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The process counters (sure_stats) as an array, for before/after leak checks. */
static inline void check_process_stats(uint64_t out[3])
{
	struct sure_process_stats st = { 0 };

	sure_stats(&st, sizeof(st));
	out[0] = st.instances;
	out[1] = st.vcpu_threads;
	out[2] = st.mapped_bytes;
}

#define CHECK_DONE()                                                                 \
	(printf("# passed %d failed %d skipped %d\n", check_pass, check_fail, check_skip), \
	 check_fail ? 1 : 0)

#endif
