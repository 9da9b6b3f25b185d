/*
 * run_fn.h - for C tests that run a built function (build_fn.h) in one
 * instance: create it with the test defaults and send it a request body.
 */
#ifndef SURE_TEST_RUN_FN_H
#define SURE_TEST_RUN_FN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libsure.h"

/* An instance of img: 16 MiB, 64 KiB areas, 2 s to start; NULL (and why on stderr) on failure. */
static inline struct sure_instance *create_image(const uint8_t *img, size_t len)
{
	struct sure_instance *inst = NULL;
	char err[256] = "";
	int rc = sure_instance_create(img, len, 16, 65536, 2000, NULL, 0, &inst, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "  create: %d %s\n", rc, err);
	return inst;
}

/* Invokes with body as the request: the response length or -errno. */
static inline int send(struct sure_instance *inst, const char *body, uint32_t timeout_ms)
{
	size_t n = strlen(body);

	memcpy(sure_instance_req_buf(inst), body, n);
	return sure_instance_invoke(inst, (uint32_t)n, timeout_ms);
}

#endif
