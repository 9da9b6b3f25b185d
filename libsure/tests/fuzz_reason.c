/*
 * fuzz_reason.c - libFuzzer target for the host's reading of the reason a
 * guest leaves in its control page before the EXIT doorbell (abort_reason,
 * src/fault.c). The guest owns those bytes: any of them, NUL or not. The
 * recorded reason must be NUL terminated, at most SURE_FAULT_REASON_MAX - 1
 * bytes, printable ASCII only, a cleaned prefix of the input, and the
 * first fault must win. The control page field is a heap block of exactly
 * its size, so ASan sees a read past it. An empty input is the seed.
 *
 *   make -C libsure fuzz && libsure/build/fuzz/fuzz_reason -max_total_time=60
 */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "libsure.h"
#include "sure_abi.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The reason must be what the cleaning rule makes of src. */
static void check_reason(const char *got, const uint8_t *src, size_t n)
{
	size_t len = strnlen(got, SURE_FAULT_REASON_MAX);

	check(len < SURE_FAULT_REASON_MAX);
	for (size_t i = 0; i < len; i++) {
		check(i < n && src[i] != 0);
		check(got[i] >= 0x20 && got[i] < 0x7f);
		check(src[i] >= 0x20 && src[i] < 0x7f ? got[i] == (char)src[i] : got[i] == '?');
	}
	/* It stops only at the end of the input, at its NUL, or when full. */
	check(len == n || src[len] == 0 || len == SURE_FAULT_REASON_MAX - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size < SURE_ABORT_REASON_MAX ? size : SURE_ABORT_REASON_MAX;
	char *page = malloc(SURE_ABORT_REASON_MAX);
	struct sure_fault f;
	struct sure_fault_info info;
	char small[7];

	if (!page)
		return 0;
	/* The field is always full size; the input's bytes fill its start. */
	memset(page, 'x', SURE_ABORT_REASON_MAX);
	memcpy(page, data, n);
	sure_fault_init(&f);
	check(sure_fault_record_exit(&f, 1, 0x401000, page, SURE_ABORT_REASON_MAX) == 1);
	/* A second fault is a consequence of the first: it changes nothing. */
	check(sure_fault_record_exit(&f, 2, 0, "later", 6) == 0);
	sure_fault_get(&f, &info);
	check(info.kind == SURE_FAULT_GUEST_EXIT && info.error_code == 1);
	check_reason(info.reason, (const uint8_t *)page, SURE_ABORT_REASON_MAX);
	sure_fault_fini(&f);

	/* A short destination truncates and still terminates. */
	size_t len = sure_fault_clean_reason(small, sizeof(small), (const char *)data, size);
	check(len < sizeof(small) && small[len] == '\0' && strlen(small) == len);
	check(sure_fault_clean_reason(small, 0, (const char *)data, size) == 0);
	free(page);
	return 0;
}
