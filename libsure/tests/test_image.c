/*
 * test_image.c - the image checker and loader on ELF images built in memory.
 * A small builder (struct tb) makes one valid sure image; each test breaks
 * one thing and checks that the checker names it.
 *
 * The valid image (file offset -> address):
 *   0x0000 ELF header, program headers at 0x40, ABI note at 0x200
 *          -> 0x400000 read-only segment (headers + note), 0x300 bytes
 *   0x1000 code -> 0x401000, read + execute, entry at its start
 *   0x2100 data -> 0x402100, read + write, 0x20 file bytes + bss to 0x404800
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image.h"
#include "libsure.h"
#include "sure_abi.h"

#define MIB (1ull << 20)
#define MEM (8 * MIB)
#define NOTE_OFF 0x200u
#define CODE_OFF 0x1000u
#define DATA_OFF 0x2100u
#define FILE_LEN 0x2200u
#define MAXPH 8

static const uint8_t code[] = {0x90, 0x90, 0xeb, 0xfe}; /* nop; nop; jmp . */
static const uint8_t data[32] = "sure data bytes, copied exactly";

struct tb {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAXPH];
	unsigned nph;
	uint32_t note_version;
	uint32_t note_type;
	uint32_t note_namesz;
	Elf64_Shdr sh[4]; /* written at eh.e_shoff when nsh > 0 */
	unsigned nsh;
	uint8_t file[FILE_LEN];
	size_t len;
};

static Elf64_Phdr *add_ph(struct tb *t, uint32_t type, uint32_t flags, uint64_t off,
			  uint64_t vaddr, uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr *p = &t->ph[t->nph++];

	memset(p, 0, sizeof(*p));
	p->p_type = type;
	p->p_flags = flags;
	p->p_offset = off;
	p->p_vaddr = p->p_paddr = vaddr;
	p->p_filesz = filesz;
	p->p_memsz = memsz;
	p->p_align = type == PT_LOAD ? 0x1000 : type == PT_NOTE ? 4 : 0x10;
	return p;
}

/* The valid image; tests change fields and then call emit(). */
static void tb_init(struct tb *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->eh.e_ident, ELFMAG, SELFMAG);
	t->eh.e_ident[EI_CLASS] = ELFCLASS64;
	t->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	t->eh.e_ident[EI_VERSION] = EV_CURRENT;
	t->eh.e_type = ET_EXEC;
	t->eh.e_machine = EM_X86_64;
	t->eh.e_version = EV_CURRENT;
	t->eh.e_entry = SURE_IMAGE_BASE + CODE_OFF;
	t->eh.e_phoff = sizeof(Elf64_Ehdr);
	t->eh.e_ehsize = sizeof(Elf64_Ehdr);
	t->eh.e_phentsize = sizeof(Elf64_Phdr);
	add_ph(t, PT_LOAD, PF_R, 0, SURE_IMAGE_BASE, 0x300, 0x300);
	add_ph(t, PT_LOAD, PF_R | PF_X, CODE_OFF, SURE_IMAGE_BASE + CODE_OFF, sizeof(code),
	       sizeof(code));
	add_ph(t, PT_LOAD, PF_R | PF_W, DATA_OFF, SURE_IMAGE_BASE + DATA_OFF, sizeof(data),
	       0x2700);
	add_ph(t, PT_NOTE, PF_R, NOTE_OFF, SURE_IMAGE_BASE + NOTE_OFF, 24, 24);
	add_ph(t, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0);
	t->note_version = SURE_ABI_VERSION;
	t->note_type = 1;
	t->note_namesz = 5;
	t->len = FILE_LEN;
}

/* Serialises the header (e_phnum = nph unless set), phdrs, note and bytes. */
static void emit(struct tb *t)
{
	Elf64_Nhdr nh = {.n_namesz = t->note_namesz, .n_descsz = 4, .n_type = t->note_type};

	memset(t->file, 0, sizeof(t->file));
	if (!t->eh.e_phnum)
		t->eh.e_phnum = (Elf64_Half)t->nph;
	memcpy(t->file, &t->eh, sizeof(t->eh));
	memcpy(t->file + sizeof(t->eh), t->ph, t->nph * sizeof(Elf64_Phdr));
	memcpy(t->file + NOTE_OFF, &nh, sizeof(nh));
	memcpy(t->file + NOTE_OFF + sizeof(nh), "sure\0\0\0", 8);
	memcpy(t->file + NOTE_OFF + sizeof(nh) + 8, &t->note_version, 4);
	memcpy(t->file + CODE_OFF, code, sizeof(code));
	memcpy(t->file + DATA_OFF, data, sizeof(data));
	if (t->nsh && t->eh.e_shoff + t->nsh * sizeof(Elf64_Shdr) <= sizeof(t->file))
		memcpy(t->file + t->eh.e_shoff, t->sh, t->nsh * sizeof(Elf64_Shdr));
}

/* Section headers at 0x300 (inside the file): a null one and .text. */
static void add_sections(struct tb *t)
{
	t->eh.e_shoff = 0x300;
	t->eh.e_shentsize = sizeof(Elf64_Shdr);
	t->eh.e_shnum = 2;
	t->nsh = 2;
	memset(t->sh, 0, sizeof(t->sh));
	t->sh[1].sh_type = SHT_PROGBITS;
	t->sh[1].sh_offset = CODE_OFF;
	t->sh[1].sh_size = sizeof(code);
}

static int parse(struct tb *t, uint64_t mem, struct sure_image_info *info, char *err,
		 size_t errcap)
{
	emit(t);
	return sure_image_parse(t->file, t->len, mem, info, err, errcap);
}

/* Expects a rejection whose message contains want; prints it otherwise. */
static void expect_reject_mem(struct tb *t, uint64_t mem, const char *want)
{
	struct sure_image_info info;
	char err[256];
	int rc = parse(t, mem, &info, err, sizeof(err));

	CHECK_EQ(rc, -EINVAL);
	CHECK(strchr(err, '\n') == NULL);
	if (!strstr(err, want)) {
		fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, want);
		CHECK(strstr(err, want) != NULL);
	}
	CHECK_EQ(info.nseg, 0); /* nothing half-filled on failure */
}

static void expect_reject(struct tb *t, const char *want)
{
	expect_reject_mem(t, MEM, want);
}

/* ---- accepted ----------------------------------------------------------- */

static void valid_image_accepted(void)
{
	struct tb t;
	struct sure_image_info info;
	char err[256] = "untouched";

	tb_init(&t);
	CHECK_EQ(parse(&t, MEM, &info, err, sizeof(err)), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(info.entry, SURE_IMAGE_BASE + CODE_OFF);
	CHECK_EQ(info.nseg, 3);
	CHECK_EQ(info.seg[0].vaddr, SURE_IMAGE_BASE);
	CHECK_EQ(info.seg[0].memsz, 0x1000);
	CHECK_EQ(info.seg[0].pad, 0);
	CHECK(!info.seg[0].writable && !info.seg[0].executable);
	CHECK_EQ(info.seg[1].vaddr, SURE_IMAGE_BASE + 0x1000);
	CHECK_EQ(info.seg[1].memsz, 0x1000);
	CHECK_EQ(info.seg[1].offset, CODE_OFF);
	CHECK_EQ(info.seg[1].filesz, sizeof(code));
	CHECK(!info.seg[1].writable && info.seg[1].executable);
	CHECK_EQ(info.seg[2].vaddr, SURE_IMAGE_BASE + 0x2000);
	CHECK_EQ(info.seg[2].pad, 0x100);
	CHECK_EQ(info.seg[2].offset, DATA_OFF);
	CHECK_EQ(info.seg[2].filesz, sizeof(data));
	CHECK_EQ(info.seg[2].memsz, 0x3000); /* 0x402000 .. page_up(0x404800) */
	CHECK(info.seg[2].writable && !info.seg[2].executable);
	CHECK_EQ(info.end, SURE_IMAGE_BASE + 0x5000);
}

static void exported_check(void)
{
	struct tb t;
	char err[256];

	tb_init(&t);
	emit(&t);
	CHECK_EQ(sure_image_check(t.file, t.len, 8, err, sizeof(err)), 0);
	CHECK_EQ(sure_image_check(t.file, t.len, 8, NULL, 0), 0);
	CHECK_EQ(sure_image_check(t.file, t.len, SURE_MEM_MAX_MIB, err, sizeof(err)), 0);
	CHECK_EQ(sure_image_check(t.file, t.len, SURE_MEM_MIN_MIB - 1, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "function memory 7 MiB is outside 8..1024 MiB") != NULL);
	CHECK_EQ(sure_image_check(t.file, t.len, SURE_MEM_MAX_MIB + 1, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "outside") != NULL);
	CHECK_EQ(sure_image_check(NULL, 0, 8, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "no image") != NULL);
}

/* err == NULL, errcap == 0 and tiny buffers: never a byte past errcap. */
static void err_buffer_respected(void)
{
	struct tb t;
	char buf[32];

	tb_init(&t);
	t.eh.e_machine = EM_386;
	emit(&t);
	CHECK_EQ(sure_image_check(t.file, t.len, 8, NULL, 0), -EINVAL);
	CHECK_EQ(sure_image_check(t.file, t.len, 8, NULL, 100), -EINVAL);
	memset(buf, 'Z', sizeof(buf));
	CHECK_EQ(sure_image_check(t.file, t.len, 8, buf, 0), -EINVAL);
	CHECK_EQ(buf[0], 'Z');
	memset(buf, 'Z', sizeof(buf));
	CHECK_EQ(sure_image_check(t.file, t.len, 8, buf, 1), -EINVAL);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(buf[1], 'Z');
	memset(buf, 'Z', sizeof(buf));
	CHECK_EQ(sure_image_check(t.file, t.len, 8, buf, 10), -EINVAL);
	CHECK_EQ(strlen(buf), 9);
	for (size_t i = 10; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 'Z');
}

/* The image end plus heap, guard and stack is exactly what memory needs. */
static void fits_exactly(void)
{
	struct tb t;
	struct sure_image_info info;
	uint64_t need = SURE_IMAGE_BASE + 0x5000 + (64 << 10) + SURE_STACK_SIZE + 0x1000;

	tb_init(&t);
	CHECK_EQ(parse(&t, need, &info, NULL, 0), 0);
	tb_init(&t);
	CHECK_EQ(parse(&t, need - 1, &info, NULL, 0), -EINVAL);
}

/* A PT_NOTE with other notes first (GNU build id) and 8-byte alignment. */
static void note_among_others(void)
{
	struct tb t;
	struct sure_image_info info;
	char err[256];
	Elf64_Nhdr gnu = {.n_namesz = 4, .n_descsz = 8, .n_type = NT_GNU_BUILD_ID};
	Elf64_Nhdr sn = {.n_namesz = 5, .n_descsz = 4, .n_type = 1};
	uint32_t v = SURE_ABI_VERSION;
	uint8_t *n;

	tb_init(&t);
	t.ph[3].p_offset = NOTE_OFF + 0x40;
	t.ph[3].p_filesz = 56; /* GNU note 0..24, sure note 24..52, padded */
	t.ph[3].p_align = 8;
	emit(&t);
	n = t.file + NOTE_OFF + 0x40;
	memcpy(n, &gnu, 12);
	memcpy(n + 12, "GNU", 4);
	memcpy(n + 16, "12345678", 8);
	memcpy(n + 24, &sn, 12);
	memcpy(n + 36, "sure", 5);
	memcpy(n + 48, &v, 4); /* 36 + 5 rounded up to 8 */
	CHECK_EQ(sure_image_parse(t.file, t.len, MEM, &info, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
}

/* ---- header rejections --------------------------------------------------- */

static void bad_magic(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_ident[EI_MAG1] = 'X';
	expect_reject(&t, "not an ELF file");
}

static void elf32(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&t, "32-bit");
}

static void big_endian(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(&t, "little-endian");
}

static void bad_version(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_version = 2;
	expect_reject(&t, "unknown ELF version");
}

static void wrong_machine(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_machine = EM_AARCH64;
	expect_reject(&t, "ELF machine 183 is not x86-64");
}

static void et_dyn(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_type = ET_DYN;
	expect_reject(&t, "position-independent image (ET_DYN)");
}

static void et_rel(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_type = ET_REL;
	expect_reject(&t, "not an executable");
}

static void truncated_header(void)
{
	struct tb t;

	tb_init(&t);
	t.len = sizeof(Elf64_Ehdr) - 1;
	expect_reject(&t, "truncated ELF header");
	t.len = 0;
	expect_reject(&t, "truncated ELF header");
}

static void truncated_phdrs(void)
{
	struct tb t;

	tb_init(&t);
	t.len = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	expect_reject(&t, "truncated program headers");
}

static void phoff_overflow(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_phoff = UINT64_MAX - 8;
	expect_reject(&t, "program header offset 0xfffffffffffffff7 overflows");
	tb_init(&t);
	t.eh.e_phoff = FILE_LEN; /* no overflow, just outside */
	expect_reject(&t, "truncated program headers");
}

static void bad_phentsize(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_phentsize = 32;
	expect_reject(&t, "program header entry size 32");
}

static void too_many_phdrs(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_phnum = 0xffff; /* PN_XNUM */
	expect_reject(&t, "65535 program headers");
}

static void too_big_file(void)
{
	struct sure_image_info info;
	char err[128];
	static const uint8_t one[1];

	CHECK_EQ(sure_image_parse(one, (size_t)SURE_IMAGE_MAX_FILE + 1, MEM, &info, err,
				  sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "larger than the 64 MiB limit") != NULL);
}

/* ---- segment rejections ------------------------------------------------- */

static void segment_past_eof(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_filesz = 0x200;
	expect_reject(&t, "segment 2: 0x200 bytes at file offset 0x2100 run past the end");
	tb_init(&t);
	t.ph[2].p_offset = UINT64_MAX - 0xeff; /* keeps offset % page == vaddr % page */
	t.ph[2].p_filesz = 0x1000; /* offset + filesz wraps */
	expect_reject(&t, "segment 2:");
}

static void filesz_gt_memsz(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_memsz = 0x10;
	expect_reject(&t, "segment 2: file size 0x20 is larger than its memory size 0x10");
}

static void misaligned(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_vaddr += 8;
	expect_reject(&t, "segment 2: address 0x402108 and file offset 0x2100 differ modulo");
}

static void below_base(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[0].p_vaddr = SURE_IMAGE_BASE - 0x1000;
	expect_reject(&t, "segment 0 at 0x3ff000 overlaps the library OS's reserved area");
}

static void above_limit(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_memsz = SURE_IMAGE_LIMIT; /* starts at 0x402100: ends past the limit */
	expect_reject(&t, "segment 2 at 0x402100 (0x10000000 bytes) ends above the image limit");
	tb_init(&t);
	t.ph[2].p_memsz = UINT64_MAX; /* wraps */
	expect_reject(&t, "ends above the image limit");
}

static void overlapping(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_vaddr = SURE_IMAGE_BASE + 0x1100; /* inside the code segment's page */
	t.ph[2].p_offset = 0x1100;
	t.ph[1].p_memsz = 0x200;
	expect_reject(&t, "segments 1 and 2 overlap");
}

static void shared_page(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_vaddr = SURE_IMAGE_BASE + 0x1100; /* after the code, same page */
	t.ph[2].p_offset = 0x1100;
	expect_reject(&t, "segments 1 and 2 share a page (at 0x401000)");
}

static void write_and_exec(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[1].p_flags = PF_R | PF_W | PF_X;
	expect_reject(&t, "segment 1 is writable and executable (W^X)");
}

static void empty_segment(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_filesz = t.ph[2].p_memsz = 0;
	expect_reject(&t, "segment 2 is empty");
}

static void no_load(void)
{
	struct tb t;

	tb_init(&t);
	for (unsigned i = 0; i < 3; i++)
		t.ph[i].p_type = PT_NULL;
	expect_reject(&t, "no loadable segments");
}

static void too_many_loads(void)
{
	struct tb t;
	struct sure_image_info info;
	char err[200];
	uint8_t *img = calloc(1, 0x1000 * 20);
	Elf64_Phdr ph[18];

	tb_init(&t);
	t.nph = 0;
	t.eh.e_phnum = 18;
	emit(&t);
	memcpy(img, t.file, 0x1000);
	for (unsigned i = 0; i < 18; i++) {
		memset(&ph[i], 0, sizeof(ph[i]));
		ph[i].p_type = PT_LOAD;
		ph[i].p_flags = PF_R | PF_X;
		ph[i].p_offset = 0x1000ull * (i + 1);
		ph[i].p_vaddr = SURE_IMAGE_BASE + ph[i].p_offset;
		ph[i].p_filesz = ph[i].p_memsz = 0x10;
	}
	memcpy(img + sizeof(Elf64_Ehdr), ph, sizeof(ph));
	CHECK_EQ(sure_image_parse(img, 0x1000 * 20, MEM, &info, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too many loadable segments: at most 16") != NULL);
	free(img);
}

/* ---- entry, note, memory, forbidden headers ----------------------------- */

static void entry_not_exec(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_entry = SURE_IMAGE_BASE + DATA_OFF + 4;
	expect_reject(&t, "entry point 0x402104 is in segment 2, which is not executable");
}

static void entry_outside(void)
{
	struct tb t;

	tb_init(&t);
	t.eh.e_entry = SURE_IMAGE_BASE + CODE_OFF + sizeof(code); /* just past the code */
	expect_reject(&t, "entry point 0x401004 is outside every loadable segment");
	tb_init(&t);
	t.eh.e_entry = 0;
	expect_reject(&t, "entry point 0x0 is outside");
}

static void sections(void)
{
	struct tb t;
	struct sure_image_info info;
	char err[256];

	tb_init(&t);
	add_sections(&t);
	CHECK_EQ(parse(&t, MEM, &info, err, sizeof(err)), 0);
	tb_init(&t);
	add_sections(&t);
	t.sh[1].sh_type = SHT_NOBITS; /* no file bytes: any size */
	t.sh[1].sh_size = 1ull << 40;
	CHECK_EQ(parse(&t, MEM, &info, err, sizeof(err)), 0);
	tb_init(&t);
	add_sections(&t);
	t.sh[1].sh_size = FILE_LEN; /* from 0x1000: past the end */
	expect_reject(&t, "section 1: 0x2200 bytes at file offset 0x1000 run past the end");
	tb_init(&t);
	add_sections(&t);
	t.sh[1].sh_offset = UINT64_MAX - 1; /* must not wrap */
	expect_reject(&t, "section 1:");
	tb_init(&t);
	add_sections(&t);
	t.eh.e_shoff = FILE_LEN - 64; /* the table's second entry is past the end */
	t.nsh = 0;
	expect_reject(&t, "truncated section headers: 2 headers at offset 0x21c0");
	tb_init(&t);
	add_sections(&t);
	t.eh.e_shoff = UINT64_MAX - 8;
	t.nsh = 0;
	expect_reject(&t, "truncated section headers");
	tb_init(&t);
	add_sections(&t);
	t.eh.e_shentsize = 40;
	expect_reject(&t, "section header entry size 40, expected 64");
	tb_init(&t);
	add_sections(&t);
	t.eh.e_shstrndx = 2;
	expect_reject(&t, "section name table index 2 is not a section (there are 2)");
	tb_init(&t);
	t.eh.e_shoff = 0x300; /* e_shnum 0 with an offset: extended numbering */
	expect_reject(&t, "extended section numbering is not accepted");
	tb_init(&t);
	add_sections(&t);
	t.eh.e_shnum = 5000;
	t.nsh = 0;
	expect_reject(&t, "5000 section headers, at most 4096");
}

/* Parses t with bytes b (n of them) written at file offset off after emit(). */
static int parse_patched(struct tb *t, uint64_t off, const uint8_t *b, size_t n, char *err)
{
	struct sure_image_info info;

	emit(t);
	memcpy(t->file + off, b, n);
	return sure_image_parse(t->file, t->len, MEM, &info, err, 256);
}

static void pkru_writers(void)
{
	static const struct {
		uint8_t b[6];
		size_t n;
		const char *want; /* NULL: accepted */
	} cases[] = {
		{ { 0x90, 0x0f, 0x01, 0xef }, 4, "WRPKRU at 0x401001" }, /* unaligned */
		{ { 0xb8, 0x90, 0x0f, 0x01, 0xef }, 5, "WRPKRU at 0x401002" }, /* in an immediate */
		{ { 0x0f, 0xae, 0x2f }, 3, "XRSTOR at 0x401000" }, /* xrstor [rdi] */
		{ { 0x48, 0x0f, 0xae, 0x6f, 0x08 }, 5, "XRSTOR at 0x401001" }, /* xrstor64 [rdi+8] */
		{ { 0x0f, 0xc7, 0x1f }, 3, "XRSTORS at 0x401000" }, /* xrstors [rdi] */
		{ { 0x0f, 0xc7, 0x9f, 0, 1, 0 }, 6, "XRSTORS at 0x401000" }, /* [rdi+disp32] */
		{ { 0x0f, 0xae, 0xe8 }, 3, NULL }, /* lfence: the register form */
		{ { 0x0f, 0xae, 0x27 }, 3, NULL }, /* xsave [rdi]: /4 saves, restores nothing */
		{ { 0x0f, 0xc7, 0xf0 }, 3, NULL }, /* rdrand eax */
		{ { 0x0f, 0x01, 0xee }, 3, NULL }, /* rdpkru */
	};
	struct tb t;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_init(&t);
		t.ph[1].p_filesz = t.ph[1].p_memsz = 8;
		int rc = parse_patched(&t, CODE_OFF, cases[i].b, cases[i].n, err);
		if (!cases[i].want) {
			CHECK_EQ(rc, 0);
			continue;
		}
		CHECK_EQ(rc, -EINVAL);
		if (!strstr(err, cases[i].want)) {
			fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err, cases[i].want);
			CHECK(0);
		}
	}
	/* The same bytes in data are not code. */
	tb_init(&t);
	CHECK_EQ(parse_patched(&t, DATA_OFF, (const uint8_t *)"\x0f\x01\xef", 3, err), 0);
	/* The last file byte of a code segment and what follows in memory: zeros
	 * (no match) ... */
	tb_init(&t);
	t.ph[1].p_filesz = t.ph[1].p_memsz = 8;
	CHECK_EQ(parse_patched(&t, CODE_OFF + 7, (const uint8_t *)"\x0f", 1, err), 0);
	/* ... or the next code segment when the two touch: read as one. */
	tb_init(&t);
	t.ph[1].p_filesz = t.ph[1].p_memsz = 0x1000; /* file 0x1000-0x1fff, to its page's end */
	t.ph[2].p_type = PT_NULL; /* the data segment would share the next page */
	add_ph(&t, PT_LOAD, PF_R | PF_X, 0x2000, SURE_IMAGE_BASE + 0x2000, 0x10, 0x10);
	emit(&t);
	t.file[0x1fff] = 0x0f;
	t.file[0x2000] = 0x01;
	t.file[0x2001] = 0xef;
	{
		struct sure_image_info info;
		CHECK_EQ(sure_image_parse(t.file, t.len, MEM, &info, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "WRPKRU at 0x401fff") != NULL);
	}
}

static void missing_note(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[3].p_type = PT_NULL;
	expect_reject(&t, "not a sure image: no sure ABI note (build it with `sure build`)");
	tb_init(&t);
	t.note_type = 2; /* right name, other type: not the ABI note */
	expect_reject(&t, "no sure ABI note");
	tb_init(&t);
	t.note_namesz = 4; /* "sure" without its NUL: the note is 4 bytes shorter */
	t.ph[3].p_filesz = 20;
	expect_reject(&t, "no sure ABI note");
}

static void wrong_abi_version(void)
{
	struct tb t;
	char want[128];

	tb_init(&t);
	t.note_version = SURE_ABI_VERSION + 41;
	snprintf(want, sizeof(want),
		 "image was built for sure ABI version %u, this node runs ABI version %u",
		 SURE_ABI_VERSION + 41, SURE_ABI_VERSION);
	expect_reject(&t, want);
	tb_init(&t);
	t.note_version = SURE_ABI_OLDEST - 1;
	snprintf(want, sizeof(want), "image was built for sure ABI version %u",
		 SURE_ABI_OLDEST - 1);
	expect_reject(&t, want);
}

static void bad_notes(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[3].p_filesz = 22; /* cuts the version */
	expect_reject(&t, "note segment 3 is malformed");
	tb_init(&t);
	t.ph[3].p_filesz = 8; /* cuts the note header */
	expect_reject(&t, "note segment 3 is malformed: a note header");
	tb_init(&t);
	t.ph[3].p_offset = FILE_LEN - 4;
	expect_reject(&t, "note segment 3: 0x18 bytes at file offset 0x21fc run past");
	tb_init(&t);
	t.ph[3].p_offset = UINT64_MAX - 2;
	expect_reject(&t, "note segment 3:");
	tb_init(&t);
	t.note_namesz = 0xfffffff0u; /* huge name: must not wrap */
	expect_reject(&t, "note segment 3 is malformed");
}

static void duplicate_note(void)
{
	struct tb t;

	tb_init(&t);
	add_ph(&t, PT_NOTE, PF_R, NOTE_OFF, 0, 24, 24);
	expect_reject(&t, "more than one sure ABI note");
}

static void too_big_for_memory(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[2].p_memsz = 6 * MIB; /* ends at 0xa02100 */
	expect_reject(&t, "image needs 11 MiB, function memory is 8 MiB");
	tb_init(&t);
	expect_reject_mem(&t, 4 * MIB, "image needs 5 MiB, function memory is 4 MiB");
}

static void interp(void)
{
	struct tb t;

	tb_init(&t);
	add_ph(&t, PT_INTERP, PF_R, 0x300, SURE_IMAGE_BASE + 0x300, 16, 16);
	expect_reject(&t, "dynamically linked (PT_INTERP in program header 5)");
	tb_init(&t);
	add_ph(&t, PT_DYNAMIC, PF_R | PF_W, DATA_OFF, SURE_IMAGE_BASE + DATA_OFF, 16, 16);
	expect_reject(&t, "dynamically linked (PT_DYNAMIC");
}

static void tls(void)
{
	struct tb t;

	tb_init(&t);
	add_ph(&t, PT_TLS, PF_R, DATA_OFF, SURE_IMAGE_BASE + DATA_OFF, 8, 16);
	expect_reject(&t, "thread-local storage is not supported (PT_TLS in program header 5)");
}

static void exec_stack(void)
{
	struct tb t;

	tb_init(&t);
	t.ph[4].p_flags = PF_R | PF_W | PF_X;
	expect_reject(&t, "executable stack requested (PT_GNU_STACK in program header 4");
}

/* ---- loader --------------------------------------------------------------- */

static void loader_copies_and_zeroes(void)
{
	struct tb t;
	struct sure_image_info info;
	uint8_t *mem = malloc(MEM);
	int bss_zero = 1, pad_zero = 1;

	tb_init(&t);
	CHECK_EQ(parse(&t, MEM, &info, NULL, 0), 0);
	memset(mem, 0xaa, MEM); /* as if a previous user left bytes behind */
	sure_image_load(t.file, &info, mem);

	/* The headers segment and the code, byte for byte. */
	CHECK(memcmp(mem + SURE_IMAGE_BASE, t.file, 0x300) == 0);
	CHECK(memcmp(mem + SURE_IMAGE_BASE + CODE_OFF, code, sizeof(code)) == 0);
	/* Page-rounded tails are zero. */
	CHECK_EQ(mem[SURE_IMAGE_BASE + 0x300], 0);
	CHECK_EQ(mem[SURE_IMAGE_BASE + 0xfff], 0);
	CHECK_EQ(mem[SURE_IMAGE_BASE + CODE_OFF + sizeof(code)], 0);
	CHECK_EQ(mem[SURE_IMAGE_BASE + 0x1fff], 0);
	/* Data after its zeroed pad, then bss zeroed up to the page end. */
	for (uint64_t a = SURE_IMAGE_BASE + 0x2000; a < SURE_IMAGE_BASE + DATA_OFF; a++)
		pad_zero &= mem[a] == 0;
	CHECK(pad_zero);
	CHECK(memcmp(mem + SURE_IMAGE_BASE + DATA_OFF, data, sizeof(data)) == 0);
	for (uint64_t a = SURE_IMAGE_BASE + DATA_OFF + sizeof(data); a < info.end; a++)
		bss_zero &= mem[a] == 0;
	CHECK(bss_zero);
	/* Nothing written outside the segments. */
	CHECK_EQ(mem[SURE_IMAGE_BASE - 1], 0xaa);
	CHECK_EQ(mem[info.end], 0xaa);
	free(mem);
}

int main(void)
{
	RUN(valid_image_accepted);
	RUN(exported_check);
	RUN(err_buffer_respected);
	RUN(fits_exactly);
	RUN(note_among_others);
	RUN(bad_magic);
	RUN(elf32);
	RUN(big_endian);
	RUN(bad_version);
	RUN(wrong_machine);
	RUN(et_dyn);
	RUN(et_rel);
	RUN(truncated_header);
	RUN(truncated_phdrs);
	RUN(phoff_overflow);
	RUN(bad_phentsize);
	RUN(too_many_phdrs);
	RUN(too_big_file);
	RUN(segment_past_eof);
	RUN(filesz_gt_memsz);
	RUN(misaligned);
	RUN(below_base);
	RUN(above_limit);
	RUN(overlapping);
	RUN(shared_page);
	RUN(write_and_exec);
	RUN(empty_segment);
	RUN(no_load);
	RUN(too_many_loads);
	RUN(entry_not_exec);
	RUN(entry_outside);
	RUN(missing_note);
	RUN(sections);
	RUN(pkru_writers);
	RUN(wrong_abi_version);
	RUN(bad_notes);
	RUN(duplicate_note);
	RUN(too_big_for_memory);
	RUN(interp);
	RUN(tls);
	RUN(exec_stack);
	RUN(loader_copies_and_zeroes);
	return CHECK_DONE();
}
