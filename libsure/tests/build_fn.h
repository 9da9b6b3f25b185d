/*
 * build_fn.h - for C tests and benchmarks that run real functions: builds one
 * C file into a sure image with the guest flags of the Makefile, the way
 * `sure build` does, against the guest library of this binary's build dir.
 */
#ifndef SURE_TEST_BUILD_FN_H
#define SURE_TEST_BUILD_FN_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char libsure_dir[PATH_MAX - 64]; /* the libsure source tree */
static char build_dir[PATH_MAX - 64]; /* the Makefile's BUILD dir this binary came from */
static char tmp_dir[] = "/tmp/sure-test-fn-XXXXXX"; /* mkdtemp() it first */

/*
 * The Makefile passes both directories, so a binary built with BUILD=/elsewhere
 * builds its guest library there too and never touches libsure/build, which
 * other builds may be using at the same time.
 */
#if !defined(SURE_LIBSURE_DIR) || !defined(SURE_BUILD_DIR)
#error "build with the libsure Makefile: it defines SURE_LIBSURE_DIR and SURE_BUILD_DIR"
#endif
static int find_libsure(void)
{
	snprintf(libsure_dir, sizeof(libsure_dir), "%s", SURE_LIBSURE_DIR);
	snprintf(build_dir, sizeof(build_dir), "%s", SURE_BUILD_DIR);
	return 0;
}

/* Builds one C file into a sure image the way `sure build` does. */
static uint8_t *build_function(const char *src, size_t *len)
{
	char cmd[6 * PATH_MAX], out[PATH_MAX], cflags[1024] = ""; /* room for every part at its longest */
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "make -s -C %s BUILD=%s guest >&2 && make -s -C %s print-guest-cflags", libsure_dir,
		 build_dir, libsure_dir);
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
		 "%s/fn.o %s/guest/libsg.a -lgcc -o %s",
		 cflags, src, tmp_dir, libsure_dir, tmp_dir, build_dir, out);
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
