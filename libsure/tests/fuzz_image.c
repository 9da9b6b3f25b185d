/*
 * fuzz_image.c - libFuzzer target for the image checker (src/image.c).
 *
 * Build and run (needs clang and its fuzzer runtime: scripts/setup.sh):
 *   make -C libsure fuzz-smoke        # every fuzz target briefly (npm test does this too)
 *   libsure/tests/fuzz_run.sh libsure/build/fuzz/fuzz_image 60    # this one, 60 s
 *   libsure/build/fuzz/fuzz_image -max_len=4096 CORPUS_DIR         # longer runs
 * Run it by hand from a scratch directory: libFuzzer writes crash-* files to
 * the cwd (fuzz_run.sh keeps them in libsure/build/fuzz/fuzz_image.out/).
 *
 * Random bytes rarely get past the ELF magic, so besides parsing the input
 * as it is, each input also patches a built-in valid image: it is read as
 * (offset, value) pairs that overwrite bytes of the template. That reaches
 * the segment, note and entry checks without a seed corpus.
 *
 * Whatever the checker accepts must really be safe, so accepted images are
 * checked against the rules independently and then loaded into a guest RAM
 * buffer of exactly mem_bytes (ASan catches a write outside it). The error
 * buffer is a heap block of exactly errcap bytes so that a write past errcap
 * is caught as well.
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "sure_abi.h"

#define MIB (1ull << 20)
#define TEMPLATE_LEN 0x2100u

static uint8_t tmpl[TEMPLATE_LEN];
static uint8_t *ram; /* the largest guest RAM the fuzzer asks for */
#define RAM_MAX (16 * MIB)

static void put_phdr(unsigned i, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr,
		     uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr ph = {.p_type = type, .p_flags = flags, .p_offset = off, .p_vaddr = vaddr,
			 .p_paddr = vaddr, .p_filesz = filesz, .p_memsz = memsz, .p_align = 4};

	if (type == PT_LOAD)
		ph.p_align = 0x1000;
	memcpy(tmpl + sizeof(Elf64_Ehdr) + i * sizeof(ph), &ph, sizeof(ph));
}

/* A valid image: headers+note (R), code (RX), data+bss (RW), note, stack. */
static void build_template(void)
{
	Elf64_Ehdr eh = {0};
	Elf64_Nhdr nh = {.n_namesz = 5, .n_descsz = 4, .n_type = 1};
	uint32_t v = SURE_ABI_VERSION;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = SURE_IMAGE_BASE + 0x1000;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 5;
	memcpy(tmpl, &eh, sizeof(eh));
	put_phdr(0, PT_LOAD, PF_R, 0, SURE_IMAGE_BASE, 0x200, 0x200);
	put_phdr(1, PT_LOAD, PF_R | PF_X, 0x1000, SURE_IMAGE_BASE + 0x1000, 0x10, 0x10);
	put_phdr(2, PT_LOAD, PF_R | PF_W, 0x2000, SURE_IMAGE_BASE + 0x2000, 0x100, 0x3000);
	put_phdr(3, PT_NOTE, PF_R, 0x1c0, 0, 24, 24);
	put_phdr(4, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0);
	memcpy(tmpl + 0x1c0, &nh, sizeof(nh));
	memcpy(tmpl + 0x1c0 + sizeof(nh), "sure", 5);
	memcpy(tmpl + 0x1c0 + sizeof(nh) + 8, &v, 4);
	memset(tmpl + 0x1000, 0x90, 0x10);
	memset(tmpl + 0x2000, 0x5a, 0x100);
}

/* The rules, restated independently of image.c, for accepted images. */
static void verify(const struct sure_image_info *info, size_t len, uint64_t mem)
{
	int entry_ok = 0;

	if (info->nseg == 0 || info->nseg > SURE_IMAGE_MAX_SEGS)
		abort();
	if (info->end + (64 << 10) + SURE_STACK_SIZE + SURE_PAGE_SIZE > mem)
		abort();
	for (unsigned k = 0; k < info->nseg; k++) {
		const struct sure_image_seg *s = &info->seg[k];

		if (s->vaddr < SURE_IMAGE_BASE || s->vaddr % SURE_PAGE_SIZE ||
		    s->memsz % SURE_PAGE_SIZE || s->memsz == 0 || s->vaddr + s->memsz > info->end ||
		    info->end > SURE_IMAGE_LIMIT)
			abort();
		if (s->pad >= SURE_PAGE_SIZE || s->pad + s->filesz > s->memsz)
			abort();
		if (s->offset > len || s->filesz > len - s->offset)
			abort();
		if (s->writable && s->executable)
			abort();
		for (unsigned j = 0; j < k; j++) {
			const struct sure_image_seg *o = &info->seg[j];
			if (s->vaddr < o->vaddr + o->memsz && o->vaddr < s->vaddr + s->memsz)
				abort();
		}
		if (s->executable && info->entry >= s->vaddr + s->pad &&
		    info->entry < s->vaddr + s->memsz)
			entry_ok = 1;
	}
	if (!entry_ok)
		abort();
}

static void run(const uint8_t *img, size_t len, uint64_t mem, size_t errcap)
{
	struct sure_image_info info;
	char *err = errcap ? malloc(errcap) : NULL;

	if (sure_image_parse(img, len, mem, &info, err, errcap) == 0) {
		verify(&info, len, mem);
		sure_image_load(img, &info, ram);
	} else if (err && !memchr(err, 0, errcap)) {
		abort(); /* an error line must be NUL-terminated inside errcap */
	}
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img;
	uint64_t mem;
	size_t errcap;

	if (!ram) {
		build_template();
		ram = calloc(1, RAM_MAX);
		if (!ram)
			abort();
		/* A template the checker rejects would make the patch half useless. */
		struct sure_image_info info;
		if (sure_image_parse(tmpl, TEMPLATE_LEN, 8 * MIB, &info, NULL, 0) != 0)
			abort();
	}
	/* The first two bytes pick guest memory (4..16 MiB) and the err size. */
	mem = size > 0 ? (4 + data[0] % 13) * MIB : 8 * MIB;
	errcap = size > 1 ? data[1] % 96 : 64;

	/* The input as an image: an exact-size copy so ASan sees over-reads. */
	img = malloc(size ? size : 1);
	memcpy(img, data, size);
	run(img, size, mem, errcap);
	free(img);

	/* The input as patches to the template; a final odd byte truncates it. */
	static uint8_t patched[TEMPLATE_LEN];
	size_t i = 2, len = TEMPLATE_LEN;

	memcpy(patched, tmpl, TEMPLATE_LEN);
	for (; i + 3 <= size; i += 3) {
		unsigned off = (unsigned)data[i] | (unsigned)data[i + 1] << 8;
		patched[off % TEMPLATE_LEN] = data[i + 2];
	}
	if (i < size)
		len = TEMPLATE_LEN - (data[i] * 37u) % TEMPLATE_LEN;
	img = malloc(len);
	memcpy(img, patched, len);
	run(img, len, mem, errcap);
	free(img);
	return 0;
}
