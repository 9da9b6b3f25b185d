/*
 * check.h - the smallest test harness that reports like TAP: one
 * "ok N - name" or "not ok N - name" line per test, then "# passed P failed F".
 * scripts/test.sh adds these counts to the project's summary line.
 */
#ifndef SURE_CHECK_H
#define SURE_CHECK_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int check_failed_here;
static int check_n, check_pass, check_fail;

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

#define RUN(fn)                                                                      \
	do {                                                                         \
		check_failed_here = 0;                                               \
		fn();                                                                \
		check_n++;                                                           \
		if (check_failed_here) {                                             \
			check_fail++;                                                \
			printf("not ok %d - %s\n", check_n, #fn);                    \
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

#define CHECK_DONE()                                                                 \
	(printf("# passed %d failed %d\n", check_pass, check_fail), check_fail ? 1 : 0)

#endif
