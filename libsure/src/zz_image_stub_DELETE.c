/*
 * zz_image_stub_DELETE.c - THROWAWAY stand-ins so that libsure.so exports
 * every symbol of libsure.h before image.c and probe.c exist. All weak: the
 * real definitions win at link time without a clash. Delete this file once
 * src/image.c and src/probe.c are in the tree.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "image.h"
#include "libsure.h"
#include "sure_abi.h"
#include "util.h"

#define W __attribute__((weak))

W int sure_image_parse(const uint8_t *img, size_t len, uint64_t mem_bytes,
		       struct sure_image_info *info, char *err, size_t errcap)
{
	const Elf64_Ehdr *eh = (const void *)img;

	memset(info, 0, sizeof(*info));
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		return sure_errf(err, errcap, -EINVAL, "not an ELF64 x86-64 image (stub checker)");
	const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (info->nseg == SURE_IMAGE_MAX_SEGS)
			return sure_errf(err, errcap, -EINVAL, "too many segments");
		uint64_t va = ph[i].p_vaddr & ~(SURE_PAGE_SIZE - 1), pad = ph[i].p_vaddr - va;
		uint64_t end = (ph[i].p_vaddr + ph[i].p_memsz + SURE_PAGE_SIZE - 1) &
			       ~(SURE_PAGE_SIZE - 1);
		if (va < SURE_IMAGE_BASE || end > SURE_IMAGE_LIMIT || end <= va ||
		    ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > len ||
		    ph[i].p_filesz > len - ph[i].p_offset)
			return sure_errf(err, errcap, -EINVAL, "bad segment %u", i);
		struct sure_image_seg *s = &info->seg[info->nseg++];
		s->vaddr = va;
		s->memsz = end - va;
		s->offset = ph[i].p_offset;
		s->filesz = ph[i].p_filesz;
		s->pad = pad;
		s->writable = !!(ph[i].p_flags & PF_W);
		s->executable = !!(ph[i].p_flags & PF_X);
		if (end > info->end)
			info->end = end;
	}
	if (!info->nseg || info->end + SURE_PAGE_SIZE + SURE_STACK_SIZE > mem_bytes)
		return sure_errf(err, errcap, -EINVAL, "image does not fit");
	info->entry = eh->e_entry;
	return 0;
}

W void sure_image_load(const uint8_t *img, const struct sure_image_info *info, uint8_t *mem)
{
	for (unsigned i = 0; i < info->nseg; i++) {
		const struct sure_image_seg *s = &info->seg[i];
		memcpy(mem + s->vaddr + s->pad, img + s->offset, s->filesz);
	}
}

W SURE_API int sure_image_check(const uint8_t *img, size_t len, uint32_t mem_mib, char *err,
				size_t errcap)
{
	struct sure_image_info info;

	return sure_image_parse(img, len, (uint64_t)mem_mib << 20, &info, err, errcap);
}

W SURE_API int sure_pku_probe(void)
{
	return 0;
}

W SURE_API int sure_afxdp_probe(void)
{
	return 0;
}
