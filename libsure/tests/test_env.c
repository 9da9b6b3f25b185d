/*
 * test_env.c - the function's environment block (sure_getenv): malformed
 * blocks are refused before any VM exists (no KVM needed) with an error that
 * names the entry, never its value; on real KVM a function sees the values in
 * sure_init and in every clone of its template, reads them through a
 * read-only mapping, and its heap starts past them.
 */
#include <errno.h>

#include "build_fn.h"
#include "check.h"
#include "libsure.h"
#include "sure_abi.h"

#define BLOCK(s) ((const uint8_t *)(s)), (uint32_t)sizeof(s) - 1

/* Any image pointer: the block is checked before the image is parsed. */
static const uint8_t not_an_image[16];

static int create_rc(const uint8_t *env, uint32_t len, char *err, size_t cap)
{
	struct sure_instance *inst = NULL;
	int rc = sure_instance_create(not_an_image, sizeof(not_an_image), 16, 65536, 100, env, len,
				      &inst, err, cap);
	if (inst)
		sure_instance_destroy(inst);
	return rc;
}

static void test_bad_blocks_refused(void)
{
	char err[256];
	static uint8_t big[SURE_ENV_MAX + 2];

	CHECK_EQ(create_rc(BLOCK("A=1"), err, sizeof(err)), -EINVAL); /* no final NUL */
	CHECK(strstr(err, "NUL") != NULL);
	CHECK_EQ(create_rc(BLOCK("1A=x\0"), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "entry 1") != NULL);
	CHECK_EQ(create_rc(BLOCK("A=1\0B-C=secretvalue\0"), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "entry 2") != NULL);
	CHECK(strstr(err, "secretvalue") == NULL);
	CHECK_EQ(create_rc(BLOCK("A=1\0\0"), err, sizeof(err)), -EINVAL); /* empty entry */
	CHECK_EQ(create_rc(BLOCK("NOVALUE\0"), err, sizeof(err)), -EINVAL);
	CHECK_EQ(create_rc(NULL, 4, err, sizeof(err)), -EINVAL);
	memset(big, 'x', sizeof(big));
	big[0] = 'A';
	big[1] = '=';
	big[sizeof(big) - 1] = 0;
	CHECK_EQ(create_rc(big, sizeof(big), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "more than") != NULL);

	struct sure_template *t = NULL;
	CHECK_EQ(sure_template_create(not_an_image, sizeof(not_an_image), 16, 65536, 100,
				      BLOCK("=x\0"), &t, err, sizeof(err)),
		 -EINVAL);
	CHECK(t == NULL);
}

/*
 * init copies GREETING (a clone must see the copy: init ran in the
 * template); a request answers "<copy>|<sure_getenv(body)>|<getenv ok>";
 * the body "heap" answers whether malloc'd memory lies past the block, and
 * "write" writes into the block (which must fault: it is read-only).
 */
static const char env_src[] =
	"#include <sure.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"static char copy[64];\n"
	"void sure_init(void) { const char *g = sure_getenv(\"GREETING\");\n"
	"	if (g) strncpy(copy, g, sizeof(copy) - 1); }\n"
	"int handle(sure_req *req) {\n"
	"	char name[64] = {0};\n"
	"	memcpy(name, req->body, req->len < 63 ? req->len : 63);\n"
	"	if (strcmp(name, \"heap\") == 0) {\n"
	"		const char *g = sure_getenv(\"GREETING\"); char *p = malloc(16);\n"
	"		return sure_printf(req, \"%d\", p > g + strlen(g)) < 0; }\n"
	"	if (strcmp(name, \"write\") == 0) { *(volatile char *)sure_getenv(\"GREETING\") = 'x'; }\n"
	"	const char *v = sure_getenv(name);\n"
	"	return sure_printf(req, \"%s|%s|%d\", copy, v ? v : \"(null)\",\n"
	"			   getenv(name) == v) < 0;\n"
	"}\n";

static int ask(struct sure_instance *inst, const char *q, char *out, size_t cap)
{
	size_t n = strlen(q);
	memcpy(sure_instance_req_buf(inst), q, n);
	int rc = sure_instance_invoke(inst, (uint32_t)n, 2000);
	if (rc < 0 || (size_t)rc >= cap)
		return -1;
	memcpy(out, sure_instance_resp_buf(inst), (size_t)rc);
	out[rc] = 0;
	return 0;
}

static uint8_t *build_env_fn(size_t *len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/env.c", tmp_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(env_src, f);
	fclose(f);
	return build_function(path, len);
}

static void test_clones_see_env(void)
{
	REQUIRE_KVM();
	char err[256], out[256];
	size_t len;
	uint8_t *img = build_env_fn(&len);
	CHECK(img != NULL);
	if (!img)
		return;
	struct sure_template *t = NULL;
	int rc = sure_template_create(img, len, 16, 65536, 2000,
				      BLOCK("GREETING=hello world\0EMPTY=\0GREETING2=x=y\0"), &t, err,
				      sizeof(err));
	CHECK_EQ(rc, 0);
	struct sure_instance *a = NULL;
	if (t)
		CHECK_EQ(sure_instance_clone(t, 2000, &a, err, sizeof(err)), 0);
	if (a) {
		CHECK(ask(a, "GREETING", out, sizeof(out)) == 0 &&
		      strcmp(out, "hello world|hello world|1") == 0);
		CHECK(ask(a, "GREETING2", out, sizeof(out)) == 0 &&
		      strcmp(out, "hello world|x=y|1") == 0);
		CHECK(ask(a, "EMPTY", out, sizeof(out)) == 0 && strcmp(out, "hello world||1") == 0);
		CHECK(ask(a, "GREET", out, sizeof(out)) == 0 &&
		      strcmp(out, "hello world|(null)|1") == 0);
		CHECK(ask(a, "heap", out, sizeof(out)) == 0 && strcmp(out, "1") == 0);
		/* Read-only: the write faults and the instance dies. */
		memcpy(sure_instance_req_buf(a), "write", 5);
		CHECK(sure_instance_invoke(a, 5, 2000) < 0);
		sure_instance_destroy(a);
	}
	if (t)
		sure_template_destroy(t);

	/* No environment: NULL everywhere. */
	struct sure_instance *b = NULL;
	CHECK_EQ(sure_instance_create(img, len, 16, 65536, 2000, NULL, 0, &b, err, sizeof(err)), 0);
	if (b) {
		CHECK(ask(b, "GREETING", out, sizeof(out)) == 0 && strcmp(out, "|(null)|1") == 0);
		sure_instance_destroy(b);
	}
	free(img);
}

int main(void)
{
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("test_env setup");
		return 1;
	}
	RUN(test_bad_blocks_refused);
	RUN(test_clones_see_env);
	cleanup_tmp();
	return CHECK_DONE();
}
