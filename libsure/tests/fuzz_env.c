/*
 * fuzz_env.c - libFuzzer target for the check of a function's environment
 * block (src/env.c), the bytes a deploy hands libsure for the guest's
 * sure_getenv. Whatever the bytes, the check reads only inside them, says
 * why in one NUL-terminated line, and accepts exactly the well-formed blocks
 * (decided again here by a plain scan of our own): at most SURE_ENV_MAX
 * bytes of "NAME=VALUE\0" entries, NAME [A-Za-z_][A-Za-z0-9_]*. A refusal
 * never quotes a value (the values may be secrets): the reason holds only
 * the characters of libsure's own words and numbers. The input is the block itself, copied into a heap
 * block of exactly its size so that ASan sees any read past it; the empty
 * input is the empty (valid) block.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_env -max_total_time=60
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "sure_abi.h"

static int is_name(uint8_t c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* 1 if b[0..n) is a well-formed block. */
static int well_formed(const uint8_t *b, size_t n)
{
	size_t i = 0;

	if (n > SURE_ENV_MAX || (n && b[n - 1]))
		return 0;
	while (i < n) {
		size_t start = i;
		while (i < n && is_name(b[i], i == start))
			i++;
		if (i == start || i >= n || b[i] != '=')
			return 0;
		while (b[i])
			i++;
		i++;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	char err[256];

	if (!b)
		return 0;
	if (size)
		memcpy(b, data, size);
	memset(err, 'x', sizeof(err));
	int rc = sure_env_check(size ? b : NULL, (uint32_t)size, err, sizeof(err));
	if (rc != 0 && rc != -EINVAL)
		abort();
	if ((rc == 0) != well_formed(b, size))
		abort();
	if (rc < 0) {
		if (!memchr(err, 0, sizeof(err)))
			abort();
		/* The reason is made of our own words and numbers: a byte
		 * outside them came from the input (a value, perhaps a secret). */
		static const char own[] = "environment entry the name must start with a letter "
					  "or _ (characters of [A-Za-z0-9_]) must be followed "
					  "by = does not end with a NUL after its last bytes, "
					  "more than allowed has no data:0123456789";
		for (const char *c = err; *c; c++)
			if (!strchr(own, *c))
				abort();
	}
	free(b);
	return 0;
}
