/*
 * image.c - see image.h. The checker is the only thing between an uploaded
 * file and guest memory, so it reads every field through memcpy (the file may
 * be unaligned), does all offset arithmetic with overflow checks, and names
 * the first problem it finds in one line. It depends on nothing else in
 * libsure so that the fuzz target can build it on its own.
 */
#include "cpu.h"
#include "image.h"
#include "kvm.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libsure.h"
#include "sure_abi.h"

#define PAGE SURE_PAGE_SIZE
#define MIB (1ull << 20)
/* The smallest heap a function gets between its image and the stack guard. */
#define MIN_HEAP (64ull << 10)
/* Real static images have about ten program headers; this bounds the scan. */
#define MAX_PHDRS 64u
#define MAX_SHDRS 4096u /* a debug build of a large function has ~40 */
/* The ABI note: name "sure" (5 bytes with NUL), type 1, 4-byte version. */
#define NOTE_NAME "sure"
#define NOTE_NAMESZ 5u
#define NOTE_TYPE_ABI 1u

struct ctx {
	const uint8_t *img;
	uint64_t len;
	char *err;
	size_t errcap;
	/* unrounded [start, end) of each PT_LOAD kept, with its phdr index */
	uint64_t raw_lo[SURE_IMAGE_MAX_SEGS];
	uint64_t raw_hi[SURE_IMAGE_MAX_SEGS];
	unsigned idx[SURE_IMAGE_MAX_SEGS];
	int notes; /* sure ABI notes seen */
	uint32_t abi_version; /* the note's */
};

/* Local twin of sure_errf: keeps this file free of other libsure objects. */
__attribute__((format(printf, 2, 3))) static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errcap) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errcap, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static uint64_t page_down(uint64_t v)
{
	return v & ~(PAGE - 1);
}

/* Only called on values below SURE_IMAGE_LIMIT, so it cannot overflow. */
static uint64_t page_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

/* 1 if [off, off + size) lies inside the file. */
static int in_file(const struct ctx *c, uint64_t off, uint64_t size)
{
	uint64_t end;

	return !__builtin_add_overflow(off, size, &end) && end <= c->len;
}

static int check_header(struct ctx *c, Elf64_Ehdr *eh)
{
	uint64_t table, end;

	if (c->len < sizeof(*eh))
		return fail(c, "truncated ELF header: the file has %llu bytes, the header needs %zu",
			    (unsigned long long)c->len, sizeof(*eh));
	memcpy(eh, c->img, sizeof(*eh));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(c, "not an ELF file (bad magic)");
	if (eh->e_ident[EI_CLASS] == ELFCLASS32)
		return fail(c, "32-bit ELF images are not supported: build for x86-64 (ELFCLASS64)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(c, "unknown ELF class %u, expected ELFCLASS64",
			    (unsigned)eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(c, "ELF data encoding %u is not little-endian (ELFDATA2LSB)",
			    (unsigned)eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return fail(c, "unknown ELF version %u/%u, expected %u",
			    (unsigned)eh->e_ident[EI_VERSION], (unsigned)eh->e_version, EV_CURRENT);
	if (eh->e_machine != EM_X86_64)
		return fail(c, "ELF machine %u is not x86-64 (%u)", (unsigned)eh->e_machine,
			    EM_X86_64);
	if (eh->e_type == ET_DYN)
		return fail(c, "position-independent image (ET_DYN): link it static, no PIE "
			       "(build it with `sure build`)");
	if (eh->e_type != ET_EXEC)
		return fail(c, "ELF type %u is not an executable (ET_EXEC)", (unsigned)eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(c, "program header entry size %u, expected %zu",
			    (unsigned)eh->e_phentsize, sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0)
		return fail(c, "no program headers");
	/* PN_XNUM (extended numbering) lands here too: no sure image needs it. */
	if (eh->e_phnum > MAX_PHDRS)
		return fail(c, "%u program headers, at most %u are accepted", (unsigned)eh->e_phnum,
			    MAX_PHDRS);
	table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr); /* <= 64 * 56: no overflow */
	if (__builtin_add_overflow(eh->e_phoff, table, &end))
		return fail(c, "program header offset 0x%llx overflows",
			    (unsigned long long)eh->e_phoff);
	if (end > c->len)
		return fail(c, "truncated program headers: %u headers at offset 0x%llx end at "
			       "%llu, past the end of the file (%llu bytes)",
			    (unsigned)eh->e_phnum, (unsigned long long)eh->e_phoff,
			    (unsigned long long)end, (unsigned long long)c->len);
	return 0;
}

/*
 * Section headers are not loaded, but the host reads them (symbolising a
 * fault reads the image's debug sections and .symtab), so they must describe
 * the file they are in: a table inside it, entries of the right size, and
 * every section with file bytes inside the file.
 */
static int check_sections(struct ctx *c, const Elf64_Ehdr *eh)
{
	uint64_t table, end;

	if (eh->e_shnum == 0) {
		if (eh->e_shoff != 0)
			return fail(c, "section header offset 0x%llx but no section headers "
				       "(extended section numbering is not accepted)",
				    (unsigned long long)eh->e_shoff);
		return 0;
	}
	if (eh->e_shentsize != sizeof(Elf64_Shdr))
		return fail(c, "section header entry size %u, expected %zu",
			    (unsigned)eh->e_shentsize, sizeof(Elf64_Shdr));
	if (eh->e_shnum > MAX_SHDRS)
		return fail(c, "%u section headers, at most %u are accepted", (unsigned)eh->e_shnum,
			    MAX_SHDRS);
	table = (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr); /* <= 4096 * 64: no overflow */
	if (__builtin_add_overflow(eh->e_shoff, table, &end) || end > c->len)
		return fail(c, "truncated section headers: %u headers at offset 0x%llx run past "
			       "the end of the file (%llu bytes)",
			    (unsigned)eh->e_shnum, (unsigned long long)eh->e_shoff,
			    (unsigned long long)c->len);
	if (eh->e_shstrndx != SHN_UNDEF && eh->e_shstrndx >= eh->e_shnum)
		return fail(c, "section name table index %u is not a section (there are %u)",
			    (unsigned)eh->e_shstrndx, (unsigned)eh->e_shnum);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		Elf64_Shdr sh;

		memcpy(&sh, c->img + eh->e_shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
		if (sh.sh_type == SHT_NULL || sh.sh_type == SHT_NOBITS)
			continue; /* no file bytes */
		if (!in_file(c, sh.sh_offset, sh.sh_size))
			return fail(c, "section %u: 0x%llx bytes at file offset 0x%llx run past the "
				       "end of the file (%llu bytes)",
				    i, (unsigned long long)sh.sh_size,
				    (unsigned long long)sh.sh_offset, (unsigned long long)c->len);
	}
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/*
 * Looks for the sure ABI note among the notes of PT_NOTE header i (already
 * known to lie inside the file). Offsets are relative to the segment, whose
 * notes start aligned: names and descriptors start on 4-byte boundaries, or
 * 8-byte ones in 8-aligned note segments (GNU property notes). All offsets
 * stay below 2^33 (file < 64 MiB, 32-bit sizes): the sums cannot wrap.
 */
static int scan_notes(struct ctx *c, unsigned i, const Elf64_Phdr *ph)
{
	uint64_t align = ph->p_align == 8 ? 8 : 4;
	const uint8_t *seg = c->img + ph->p_offset;
	uint64_t size = ph->p_filesz, rel = 0;

	while (rel < size) {
		Elf64_Nhdr nh;
		uint64_t name, desc;
		uint32_t version;

		if (size - rel < sizeof(nh))
			return fail(c, "note segment %u is malformed: a note header runs past its end",
				    i);
		memcpy(&nh, seg + rel, sizeof(nh));
		name = rel + sizeof(nh);
		desc = align_up(name + nh.n_namesz, align);
		if (name + nh.n_namesz > size || desc + nh.n_descsz > size)
			return fail(c, "note segment %u is malformed: a note runs past its end", i);
		if (nh.n_namesz == NOTE_NAMESZ && nh.n_type == NOTE_TYPE_ABI &&
		    memcmp(seg + name, NOTE_NAME, NOTE_NAMESZ) == 0) {
			if (nh.n_descsz != sizeof(version))
				return fail(c, "sure ABI note has a %u-byte descriptor, expected %zu",
					    (unsigned)nh.n_descsz, sizeof(version));
			if (++c->notes > 1)
				return fail(c, "more than one sure ABI note");
			memcpy(&version, seg + desc, sizeof(version));
			if (version < SURE_ABI_OLDEST || version > SURE_ABI_VERSION)
				return fail(c, "image was built for sure ABI version %u, this node "
					       "runs ABI version %u: rebuild it with `sure build`",
					    (unsigned)version, SURE_ABI_VERSION);
			c->abi_version = version;
		}
		/* The last note may omit its trailing padding. */
		rel = align_up(desc + nh.n_descsz, align);
	}
	return 0;
}

/* Checks PT_LOAD header i and records it as segment info->nseg. */
static int add_load(struct ctx *c, unsigned i, const Elf64_Phdr *ph,
		    struct sure_image_info *info)
{
	struct sure_image_seg *s;
	uint64_t hi, lo_page, hi_page;

	if (info->nseg == SURE_IMAGE_MAX_SEGS)
		return fail(c, "too many loadable segments: at most %u are accepted",
			    SURE_IMAGE_MAX_SEGS);
	if (ph->p_memsz == 0)
		return fail(c, "segment %u is empty (p_memsz is 0)", i);
	if (ph->p_filesz > ph->p_memsz)
		return fail(c, "segment %u: file size 0x%llx is larger than its memory size 0x%llx",
			    i, (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (!in_file(c, ph->p_offset, ph->p_filesz))
		return fail(c, "segment %u: 0x%llx bytes at file offset 0x%llx run past the end of "
			       "the file (%llu bytes)",
			    i, (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_offset,
			    (unsigned long long)c->len);
	if (ph->p_vaddr % PAGE != ph->p_offset % PAGE)
		return fail(c, "segment %u: address 0x%llx and file offset 0x%llx differ modulo "
			       "the page size",
			    i, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_offset);
	if (ph->p_vaddr < SURE_IMAGE_BASE)
		return fail(c, "segment %u at 0x%llx overlaps the library OS's reserved area "
			       "(images start at 0x%llx)",
			    i, (unsigned long long)ph->p_vaddr, SURE_IMAGE_BASE);
	if (__builtin_add_overflow(ph->p_vaddr, ph->p_memsz, &hi) || hi > SURE_IMAGE_LIMIT)
		return fail(c, "segment %u at 0x%llx (0x%llx bytes) ends above the image limit "
			       "0x%llx",
			    i, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_memsz,
			    SURE_IMAGE_LIMIT);
	if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
		return fail(c, "segment %u is writable and executable (W^X)", i);

	/* Pages carry one set of permissions, so segments may not share one. */
	lo_page = page_down(ph->p_vaddr);
	hi_page = page_up(hi);
	for (unsigned k = 0; k < info->nseg; k++) {
		const struct sure_image_seg *o = &info->seg[k];

		if (ph->p_vaddr < c->raw_hi[k] && c->raw_lo[k] < hi)
			return fail(c, "segments %u and %u overlap", c->idx[k], i);
		if (lo_page < o->vaddr + o->memsz && o->vaddr < hi_page)
			return fail(c, "segments %u and %u share a page (at 0x%llx)", c->idx[k], i,
				    (unsigned long long)(lo_page > o->vaddr ? lo_page : o->vaddr));
	}

	c->raw_lo[info->nseg] = ph->p_vaddr;
	c->raw_hi[info->nseg] = hi;
	c->idx[info->nseg] = i;
	s = &info->seg[info->nseg++];
	s->vaddr = lo_page;
	s->memsz = hi_page - lo_page;
	s->offset = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->pad = ph->p_vaddr - lo_page;
	s->writable = !!(ph->p_flags & PF_W);
	s->executable = !!(ph->p_flags & PF_X);
	if (hi_page > info->end)
		info->end = hi_page;
	return 0;
}

static int check_phdr(struct ctx *c, unsigned i, const Elf64_Phdr *ph,
		      struct sure_image_info *info)
{
	switch (ph->p_type) {
	case PT_LOAD:
		return add_load(c, i, ph, info);
	case PT_INTERP:
	case PT_DYNAMIC:
		return fail(c, "dynamically linked (%s in program header %u): sure images are "
			       "static (build it with `sure build`)",
			    ph->p_type == PT_INTERP ? "PT_INTERP" : "PT_DYNAMIC", i);
	case PT_TLS:
		return fail(c, "thread-local storage is not supported (PT_TLS in program header %u)",
			    i);
	case PT_GNU_STACK:
		if (ph->p_flags & PF_X)
			return fail(c, "executable stack requested (PT_GNU_STACK in program header "
				       "%u has PF_X)",
				    i);
		return 0;
	case PT_NOTE:
		if (!in_file(c, ph->p_offset, ph->p_filesz))
			return fail(c, "note segment %u: 0x%llx bytes at file offset 0x%llx run past "
				       "the end of the file (%llu bytes)",
				    i, (unsigned long long)ph->p_filesz,
				    (unsigned long long)ph->p_offset, (unsigned long long)c->len);
		return scan_notes(c, i, ph);
	default:
		/* PT_PHDR, PT_GNU_PROPERTY, PT_GNU_EH_FRAME, ...: nothing is loaded from them. */
		return 0;
	}
}

static int check_entry(struct ctx *c, const struct sure_image_info *info)
{
	for (unsigned k = 0; k < info->nseg; k++) {
		if (info->entry < c->raw_lo[k] || info->entry >= c->raw_hi[k])
			continue;
		if (!info->seg[k].executable)
			return fail(c, "entry point 0x%llx is in segment %u, which is not executable",
				    (unsigned long long)info->entry, c->idx[k]);
		return 0;
	}
	return fail(c, "entry point 0x%llx is outside every loadable segment",
		    (unsigned long long)info->entry);
}

int sure_image_parse(const uint8_t *img, size_t len, uint64_t mem_bytes,
		     struct sure_image_info *info, char *err, size_t errcap)
{
	struct ctx c = {.img = img, .len = len, .err = err, .errcap = errcap};
	Elf64_Ehdr eh;
	uint64_t need;
	int rc;

	if (err && errcap)
		err[0] = 0;
	if (!info)
		return fail(&c, "no place for the image info");
	memset(info, 0, sizeof(*info));
	if (!img)
		return fail(&c, "no image");
	if (c.len > SURE_IMAGE_MAX_FILE)
		return fail(&c, "image is %llu bytes, larger than the %u MiB limit",
			    (unsigned long long)c.len, SURE_IMAGE_MAX_FILE >> 20);
	rc = check_header(&c, &eh);
	if (rc == 0)
		rc = check_sections(&c, &eh);
	if (rc < 0)
		return rc;
	info->entry = eh.e_entry;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		rc = check_phdr(&c, i, &ph, info);
		if (rc < 0)
			goto bad;
	}
	if (info->nseg == 0) {
		rc = fail(&c, "no loadable segments (PT_LOAD)");
		goto bad;
	}
	if (c.notes == 0) {
		rc = fail(&c, "not a sure image: no sure ABI note (build it with `sure build`)");
		goto bad;
	}
	info->abi_version = c.abi_version;
	rc = check_entry(&c, info);
	if (rc < 0)
		goto bad;
	struct sure_image_hit hit;
	if (sure_image_scan_code(img, info, &hit)) {
		rc = fail(&c, "function code holds %s at 0x%llx (any byte address of executable "
			      "pages counts): only the library OS may change protection keys; "
			      "change the code or constant that makes these bytes",
			  hit.what, (unsigned long long)hit.vaddr);
		goto bad;
	}
	/* The layout: image, heap, unmapped guard page, stack at the top of RAM. */
	need = info->end + MIN_HEAP + SURE_STACK_SIZE + PAGE; /* end < 256 MiB: no overflow */
	if (need > mem_bytes) {
		rc = fail(&c, "image needs %llu MiB, function memory is %llu MiB",
			  (unsigned long long)((need + MIB - 1) / MIB),
			  (unsigned long long)(mem_bytes / MIB));
		goto bad;
	}
	return 0;
bad:
	/* Never hand a half-filled info to a caller that ignores rc. */
	memset(info, 0, sizeof(*info));
	return rc;
}

void sure_image_load(const uint8_t *img, const struct sure_image_info *info, uint8_t *mem)
{
	for (unsigned k = 0; k < info->nseg; k++) {
		const struct sure_image_seg *s = &info->seg[k];
		uint8_t *base = mem + s->vaddr;

		/*
		 * Zero the page-rounded head and tail explicitly: templates reuse
		 * guest memory, so it is not known to be fresh from the memfd.
		 */
		memset(base, 0, s->pad);
		memcpy(base + s->pad, img + s->offset, s->filesz);
		memset(base + s->pad + s->filesz, 0, s->memsz - s->pad - s->filesz);
	}
}

SURE_API int sure_image_check(const uint8_t *img, size_t len, uint32_t mem_mib, char *err,
			      size_t errcap)
{
	struct sure_image_info info;
	struct ctx c = {.err = err, .errcap = errcap};

	if (mem_mib < SURE_MEM_MIN_MIB || mem_mib > SURE_MEM_MAX_MIB)
		return fail(&c, "function memory %u MiB is outside %u..%u MiB", mem_mib,
			    SURE_MEM_MIN_MIB, SURE_MEM_MAX_MIB);
	int rc = sure_image_parse(img, len, (uint64_t)mem_mib * MIB, &info, err, errcap);
	const struct sure_kvm *kvm;
	char kerr[128];

	/* Without KVM nothing runs it here; where it runs, the same check is made again. */
	if (rc == 0 && sure_kvm_get(&kvm, kerr, sizeof(kerr)) == 0)
		rc = sure_image_runnable(&info, sure_cpu_guest_keys(kvm), err, errcap);
	return rc;
}

int sure_image_runnable(const struct sure_image_info *info, int guest_pku, char *err,
			size_t errcap)
{
	struct ctx c = {.err = err, .errcap = errcap};

	if (info->abi_version == SURE_ABI_LEGACY && guest_pku)
		return fail(&c, "image was built for sure ABI version %u, before the gates: its "
				"library writes the sidecar page itself, which this host's "
				"protection keys close; rebuild it with `sure build`",
			    (unsigned)info->abi_version);
	return 0;
}
