/*
 * test_gate.c - the gates (sure_gate_abi.h) and protection keys, on real KVM.
 *
 * The gate's bytes: WRPKRU at exactly its two sites, no XRSTOR/XRSTORS at any
 * byte address, code inside its pages. The vCPU: CR4.PKE and PKRU closed from
 * the first instruction where guests have PKU, and a clone keeps its
 * template's PKRU. Then a hostile function built against libsg, which asks
 * the sidecar through the gate (that works) and then, one request each, does
 * what the keys must stop: write the sidecar page, read the gate's private
 * data, write the gate state page, jump past the gate's first check, jump to
 * either WRPKRU with every key open in EAX, and hand the gate a pointer to a
 * protected page. Where the vCPU has PKU each is a fault (a #PF with the PK
 * bit, or the gate's UD2), and the confused-deputy call is refused. Where it
 * has none, the same run shows the model the node reports: the gate still
 * works, and nothing but the host's own checks stands in the function's way.
 * The nested-KVM guest CI uses (QEMU TCG, -cpu max) gives guests PKU.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "build_fn.h"
#include "check.h"
#include "cpu.h"
#include "gate_load.h"
#include "image.h"
#include "instance.h"
#include "kvm.h"
#include "libsure.h"
#include "run_fn.h"
#include "sure_abi.h"

#define PF_PK 0x20u /* #PF error code: protection-key violation */
#define WRPKRU_LEN 3

/* Offsets of every WRPKRU encoding in the gate's code, at any byte address. */
static int wrpkru_sites(uint64_t *at, int max)
{
	uint64_t len;
	const uint8_t *code = sure_gate_code(&len);
	int n = 0;

	for (uint64_t i = 0; i + 2 < len; i++)
		if (code[i] == 0x0f && code[i + 1] == 0x01 && code[i + 2] == 0xef && n < max)
			at[n++] = i;
	return n;
}

static void test_gate_bytes(void)
{
	uint64_t len, at[8];
	const uint8_t *code = sure_gate_code(&len);

	CHECK(len > 0 && len <= SURE_GATE_PAGES * SURE_PAGE_SIZE);
	/* Exactly two: the opening one and the closing one, each followed by its check. */
	CHECK_EQ(wrpkru_sites(at, 8), 2);
	for (int i = 0; i < 2; i++)
		CHECK(code[at[i] + WRPKRU_LEN] == 0x3d || code[at[i] + WRPKRU_LEN] == 0x3b);
	/* The image scanner's view: as one executable segment, only WRPKRU hits. */
	uint8_t *img = calloc(1, len + 16);
	if (!img) {
		CHECK(0);
		return;
	}
	memcpy(img, code, len);
	struct sure_image_info info = { .nseg = 1 };
	info.seg[0] = (struct sure_image_seg){ .vaddr = SURE_GATE_GPA, .memsz = len,
					       .filesz = len, .executable = 1 };
	int hits = 0;
	for (uint64_t from = 0; from < len; hits++) {
		struct sure_image_hit hit;
		info.seg[0].offset = from;
		info.seg[0].filesz = len - from;
		info.seg[0].vaddr = SURE_GATE_GPA + from;
		info.seg[0].memsz = len - from;
		if (!sure_image_scan_code(img, &info, &hit))
			break;
		CHECK(strcmp(hit.what, "WRPKRU") == 0);
		from = hit.vaddr - SURE_GATE_GPA + 1;
	}
	CHECK_EQ(hits, 2);
	free(img);
}

static const char hostile_src[] =
	"#include <sure.h>\n"
	"#include <stdint.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"/* Request: one letter, then an address in hex for the jumps. */\n"
	"static void jump(uint64_t to, uint32_t eax) {\n"
	"	__asm__ volatile(\"xor %%ecx, %%ecx\\n xor %%edx, %%edx\\n jmp *%0\" :: \"r\"(to), \"a\"(eax) : \"rcx\", \"rdx\", \"memory\");\n"
	"}\n"
	"int handle(sure_req *req) {\n"
	"	char b[64] = {0};\n"
	"	memcpy(b, req->body, req->len < 63 ? req->len : 63);\n"
	"	uint64_t at = b[1] ? strtoull(b + 1, 0, 16) : 0;\n"
	"	switch (b[0]) {\n"
	"	case 'S': *(volatile uint64_t *)(uintptr_t)0xd000 = 0; break;\n"
	"	case 'P': sure_printf(req, \"%d\", *(volatile int *)(uintptr_t)0x15000); break;\n"
	"	case 'W': *(volatile char *)(uintptr_t)0x14000 = 1; break;\n"
	"	case 'J': case 'O': jump(at, 0); break;\n"
	"	case 'D': {\n"
	"		uint64_t (*g)(uint64_t, uint64_t, uint64_t) = (void *)(uintptr_t)0x10000;\n"
	"		sure_printf(req, \"%llx\", (unsigned long long)g(5, at ? at : 0x14000, 0));\n"
	"		break;\n"
	"	}\n"
	"	case 'T': sure_printf(req, \"[%s]\", sure_traceparent()); break;\n"
	"	default: sure_write(req, req->body, req->len);\n"
	"	}\n"
	"	return 0;\n"
	"}\n";

static uint8_t *hostile_image(size_t *len)
{
	char src[PATH_MAX + 64];

	snprintf(src, sizeof(src), "%s/hostile.c", tmp_dir);
	FILE *fp = fopen(src, "w");
	if (!fp)
		return NULL;
	fputs(hostile_src, fp);
	fclose(fp);
	return build_function(src, len);
}

static const struct sure_kvm *kvm_or_null(void)
{
	const struct sure_kvm *kvm = NULL;
	char err[200];

	return sure_kvm_get(&kvm, err, sizeof(err)) == 0 ? kvm : NULL;
}

static int read_pkru(struct sure_instance *inst, uint32_t *pkru)
{
	struct sure_cpu_state st;

	return sure_cpu_save(inst->vcpu.fd, inst->kvm, &st) == 0 ? (*pkru = st.pkru, 0) : -1;
}

/* CR4.PKE and PKRU as the VMM sets them, for a booted instance and a clone. */
static void test_vcpu_keys(void)
{
	REQUIRE_KVM();
	const struct sure_kvm *kvm = kvm_or_null();
	size_t len = 0;
	uint8_t *img = hostile_image(&len);
	struct kvm_sregs sr;
	uint32_t pkru = 0;

	CHECK(kvm != NULL && img != NULL);
	if (!kvm || !img)
		return;
	fprintf(stderr, "# guests have protection keys: %s\n", sure_cpu_guest_keys(kvm) ? "yes" : "no");
	struct sure_instance *inst = create_image(img, len);
	CHECK(inst != NULL);
	if (inst) {
		CHECK_EQ(ioctl(inst->vcpu.fd, KVM_GET_SREGS, &sr), 0);
		CHECK_EQ(!!(sr.cr4 & (1ull << 22)), !!sure_cpu_guest_keys(kvm));
		const struct sure_gstate *g =
			(const struct sure_gstate *)(inst->ram.map + SURE_GSTATE_GPA);
		CHECK_EQ(g->magic, SURE_GSTATE_MAGIC);
		CHECK_EQ(g->pku, sure_cpu_guest_keys(kvm) ? 1u : 0u);
		CHECK_EQ(send(inst, "hello", 2000), 5);
		if (sure_cpu_guest_keys(kvm)) {
			CHECK_EQ(read_pkru(inst, &pkru), 0);
			CHECK_EQ(pkru, SURE_PKRU_FUNC);
		}
		sure_instance_destroy(inst);
	}
	/* A clone gets its template's PKRU, not a new vCPU's 0 (every key open). */
	struct sure_template *t = NULL;
	char err[256] = "";
	int rc = sure_template_create(img, len, 16, 65536, 2000, NULL, 0, &t, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		struct sure_instance *c = NULL;
		CHECK_EQ(sure_instance_clone(t, 2000, &c, err, sizeof(err)), 0);
		if (c) {
			CHECK_EQ(send(c, "again", 2000), 5);
			if (sure_cpu_guest_keys(kvm)) {
				CHECK_EQ(read_pkru(c, &pkru), 0);
				CHECK_EQ(pkru, SURE_PKRU_FUNC);
			}
			CHECK_EQ(send(c, "S", 2000), sure_cpu_guest_keys(kvm) ? -EFAULT : 0);
			sure_instance_destroy(c);
		}
		sure_template_destroy(t);
	}
	free(img);
}

/* One hostile request in a fresh instance: what it got, and the fault if any. */
static int hostile(const uint8_t *img, size_t len, const char *body, struct sure_fault_info *fi)
{
	struct sure_instance *inst = create_image(img, len);
	int rc;

	if (!inst)
		return -999;
	/* The sidecar, through the gate, before anything else. */
	sure_instance_set_sidecar(inst, 1, 0, 0, 0, 0);
	rc = send(inst, "warm", 2000);
	CHECK_EQ(rc, 4);
	rc = send(inst, body, 2000);
	memset(fi, 0, sizeof(*fi));
	sure_instance_fault(inst, fi, sizeof(*fi));
	if (rc >= 0) {
		struct sure_sidecar_counters sc;
		/* Alive: the gate still answers and counted every request, unless
		 * the function just zeroed its own page (no keys: "S" may). */
		CHECK_EQ(send(inst, "after", 2000), 5);
		CHECK_EQ(sure_instance_sidecar_stats(inst, &sc, sizeof(sc)), 0);
		if (body[0] != 'S')
			CHECK_EQ(sc.requests, 3);
	}
	sure_instance_destroy(inst);
	return rc;
}

static void expect_pk_fault(const uint8_t *img, size_t len, const char *body, uint64_t addr,
			    int write)
{
	struct sure_fault_info fi;
	int rc = hostile(img, len, body, &fi);

	CHECK_EQ(rc, -EFAULT);
	CHECK_EQ(fi.kind, SURE_FAULT_EXCEPTION);
	CHECK_EQ(fi.vector, 14);
	CHECK_EQ(fi.error_code, PF_PK | 0x5 | (write ? 0x2 : 0));
	CHECK_EQ(fi.address, addr);
	if (rc != -EFAULT || fi.error_code != (PF_PK | 0x5 | (write ? 0x2u : 0)))
		fprintf(stderr, "  %s: rc %d kind %u vector %u code %#llx addr %#llx\n", body, rc,
			(unsigned)fi.kind, (unsigned)fi.vector,
			(unsigned long long)fi.error_code, (unsigned long long)fi.address);
}

static void expect_ud(const uint8_t *img, size_t len, const char *body)
{
	struct sure_fault_info fi;

	CHECK_EQ(hostile(img, len, body, &fi), -EFAULT);
	CHECK_EQ(fi.vector, 6);
	CHECK(fi.rip >= SURE_GATE_GPA && fi.rip < SURE_GATE_GPA + SURE_GATE_PAGES * SURE_PAGE_SIZE);
}

static void test_hostile(void)
{
	REQUIRE_KVM();
	const struct sure_kvm *kvm = kvm_or_null();
	size_t len = 0;
	uint8_t *img = hostile_image(&len);
	uint64_t at[2];
	char body[64];
	struct sure_fault_info fi;

	CHECK(kvm != NULL && img != NULL && wrpkru_sites(at, 2) == 2);
	if (!kvm || !img)
		return;
	/* The gate refuses a pointer into a protected page ("ffff...ffea" is
	 * SURE_GATE_EINVAL), with or without keys: it checks, not the CPU. */
	struct sure_instance *inst = create_image(img, len);
	CHECK(inst != NULL);
	if (inst) {
		CHECK_EQ(send(inst, "D", 2000), 16);
		CHECK(memcmp(sure_instance_resp_buf(inst), "ffffffffffffffea", 16) == 0);
		/* Every protected page, and pointers that wrap or run off the end. */
		const uint64_t bad[] = { SURE_SIDECAR_GPA, SURE_GPRIV_GPA, SURE_GSTACK_TOP - 64,
					 SURE_GATE_GPA, SURE_META_GPA, SURE_POOL_GPA, 16 * 1048576 - 8,
					 0xfffffffffffffff0ull };
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			char q[40];
			snprintf(q, sizeof(q), "D%llx", (unsigned long long)bad[k]);
			CHECK_EQ(send(inst, q, 2000), 16);
			CHECK(memcmp(sure_instance_resp_buf(inst), "ffffffffffffffea", 16) == 0);
		}
		CHECK_EQ(send(inst, "T", 2000), 2); /* no trace: the gate left it empty */
		sure_instance_destroy(inst);
	}
	if (!sure_cpu_guest_keys(kvm)) {
		/* No keys: the model /healthz reports. The function can write its own
		 * sidecar page, and the host's checks are all that stand. */
		CHECK_EQ(hostile(img, len, "S", &fi), 0);
		free(img);
		return;
	}
	expect_pk_fault(img, len, "S", SURE_SIDECAR_GPA, 1);
	expect_pk_fault(img, len, "P", SURE_GPRIV_GPA, 0);
	expect_pk_fault(img, len, "W", SURE_GSTATE_GPA, 1);
	/* Past the opening check with the keys still closed: the first push to
	 * the protected stack faults. */
	snprintf(body, sizeof(body), "J%llx",
		 (unsigned long long)(SURE_GATE_GPA + at[0] + WRPKRU_LEN + 7));
	expect_pk_fault(img, len, body, SURE_GSTACK_TOP - 8, 1);
	/* Either WRPKRU with EAX = 0 (every key open): its check stops it. */
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "O%llx", (unsigned long long)(SURE_GATE_GPA + at[i]));
		expect_ud(img, len, body);
	}
	free(img);
}

/* SURE_GUEST_PKU=off: the same guest without keys (what a host without PKU
 * gives), so both models run wherever the keys exist. */
static void test_keys_off(void)
{
	REQUIRE_KVM();
	const char *was = getenv("SURE_GUEST_PKU");
	char saved[16] = "";

	if (was)
		snprintf(saved, sizeof(saved), "%s", was);
	setenv("SURE_GUEST_PKU", "off", 1);
	test_vcpu_keys();
	test_hostile();
	if (was)
		setenv("SURE_GUEST_PKU", saved, 1);
	else
		unsetenv("SURE_GUEST_PKU");
}

/* An image from before the gates runs only where guests have no keys. */
static void test_legacy_image(void)
{
	struct sure_image_info info = { .abi_version = SURE_ABI_LEGACY };
	char err[256] = "";

	CHECK_EQ(sure_image_runnable(&info, 0, err, sizeof(err)), 0);
	CHECK_EQ(sure_image_runnable(&info, 1, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "before the gates") && strstr(err, "sure build"));
	info.abi_version = SURE_ABI_VERSION;
	CHECK_EQ(sure_image_runnable(&info, 1, err, sizeof(err)), 0);
}

int main(void)
{
	if (find_libsure() < 0 || !mkdtemp(tmp_dir)) {
		perror("test_gate setup");
		return 1;
	}
	RUN(test_gate_bytes);
	RUN(test_legacy_image);
	RUN(test_vcpu_keys);
	RUN(test_hostile);
	RUN(test_keys_off);
	cleanup_tmp();
	return CHECK_DONE();
}
