/*
 * build_fn.h - for C tests that run real functions: finds the libsure tree
 * from the test binary's path and builds one C file into a sure image with
 * the guest flags of the Makefile, the way `sure build` does.
 */
#ifndef SURE_TEST_BUILD_FN_H
#define SURE_TEST_BUILD_FN_H

#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char libsure_dir[PATH_MAX - 64]; /* from /proc/self/exe: <libsure>/build/tests/<test> */
static char tmp_dir[] = "/tmp/sure-test-fn-XXXXXX"; /* mkdtemp() it first */

static int find_libsure(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return -1;
	exe[n] = 0;
	/* test binary -> tests -> build -> libsure */
	snprintf(libsure_dir, sizeof(libsure_dir), "%s", dirname(dirname(dirname(exe))));
	return 0;
}

/* Builds one C file into a sure image the way `sure build` does. */
static uint8_t *build_function(const char *src, size_t *len)
{
	char cmd[4 * PATH_MAX], out[PATH_MAX], cflags[1024] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "make -s -C %s guest >&2 && make -s -C %s print-guest-cflags",
		 libsure_dir, libsure_dir);
	p = popen(cmd, "r");
	if (!p || !fgets(cflags, sizeof(cflags), p)) {
		if (p)
			pclose(p);
		return NULL;
	}
	pclose(p);
	cflags[strcspn(cflags, "\n")] = 0;
	snprintf(out, sizeof(out), "%s/fn.sure", tmp_dir);
	snprintf(cmd, sizeof(cmd),
		 "gcc %s -c %s -o %s/fn.o && gcc -static -nostdlib -no-pie -Wl,-T,%s/guest/sure.ld "
		 "-Wl,-u,_start -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 "
		 "%s/fn.o %s/build/guest/libsg.a -lgcc -o %s",
		 cflags, src, tmp_dir, libsure_dir, tmp_dir, libsure_dir, out);
	if (system(cmd) != 0)
		return NULL;
	FILE *f = fopen(out, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) < 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	uint8_t *img = malloc((size_t)st.st_size);
	*len = fread(img, 1, (size_t)st.st_size, f);
	fclose(f);
	return img;
}

static void cleanup_tmp(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", tmp_dir);
}

#endif
