/*
 * env.c - sure_getenv and getenv: the function's configuration values.
 *
 * The host copies the block ("KEY=VALUE\0KEY2=VALUE2\0...") into guest RAM
 * between the image and the heap before the vCPU first runs, and says where
 * in the control page (env_gva, env_len). A template's clones inherit both,
 * so the values are there in sure_init already. The control page is plain
 * guest memory, so its numbers are bounded before the block is read: at most
 * SURE_ENV_MAX bytes, above the image base and below the heap (where the
 * host puts it), and only entries ending inside it count.
 */
#include <stdlib.h>
#include <string.h>

#include "sg.h"

/* The block, or len 0 if the control page describes none that fits. */
static const char *env_block(uint32_t *len)
{
	const struct sure_ctrl *c = sg_ctrl();
	uint64_t gva = c->env_gva;
	uint64_t n = c->env_len;

	*len = 0;
	if (gva == 0 || n == 0 || n > SURE_ENV_MAX || gva < SURE_IMAGE_BASE ||
	    gva > c->heap_start || n > c->heap_start - gva)
		return NULL;
	*len = (uint32_t)n;
	return (const char *)(uintptr_t)gva;
}

const char *sure_getenv(const char *name)
{
	uint32_t len, i = 0;
	const char *env = env_block(&len);
	size_t nlen = 0;

	if (!env || !name || !name[0])
		return NULL;
	while (name[nlen]) {
		if (name[nlen] == '=') /* no entry can have it in its name */
			return NULL;
		nlen++;
	}
	while (i < len) {
		uint32_t start = i;

		while (i < len && env[i])
			i++;
		if (i == len) /* unterminated last entry: not ours to read on */
			return NULL;
		/* env[start..i) is one entry; the first one of a name wins. */
		if (i - start > nlen && env[start + nlen] == '=' &&
		    memcmp(env + start, name, nlen) == 0)
			return env + start + nlen + 1;
		i++;
	}
	return NULL;
}

char *getenv(const char *name)
{
	/* The block is mapped read-only: a caller writing through this faults. */
	return (char *)sure_getenv(name);
}
