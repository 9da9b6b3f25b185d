/*
 * image.h - checking and loading function images (static ELF64 x86-64).
 * The checker trusts nothing in the file; the loader only runs on images
 * the checker accepted.
 */
#ifndef SURE_IMAGE_H
#define SURE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define SURE_IMAGE_MAX_SEGS 16

struct sure_image_seg {
	uint64_t vaddr; /* page aligned start */
	uint64_t memsz; /* bytes, rounded up to whole pages */
	uint64_t offset; /* file offset of the first byte at vaddr + pad */
	uint64_t filesz; /* bytes copied from the file */
	uint64_t pad; /* vaddr of the first file byte minus vaddr */
	int writable;
	int executable;
};

struct sure_image_info {
	uint64_t entry;
	uint64_t end; /* page aligned end of the highest segment */
	unsigned nseg;
	struct sure_image_seg seg[SURE_IMAGE_MAX_SEGS];
	uint32_t abi_version; /* SURE_ABI_OLDEST..SURE_ABI_VERSION */
};

/*
 * Parses and checks img (see sure_image_check in libsure.h). mem_bytes is the
 * guest RAM size the image must fit in together with a minimal heap and the
 * stack. Fills *info on success. 0 or -EINVAL with a message in err.
 */
int sure_image_parse(const uint8_t *img, size_t len, uint64_t mem_bytes,
		     struct sure_image_info *info, char *err, size_t errcap);

/* An instruction that can change protection keys, found in a function's code. */
struct sure_image_hit {
	uint64_t vaddr; /* its first byte (0x0f) */
	const char *what; /* "WRPKRU", "XRSTOR" or "XRSTORS" */
};

/* image_scan.c: 1 (and *hit) if any byte address of the executable pages of a
 * parsed image starts WRPKRU, XRSTOR or XRSTORS, else 0. */
int sure_image_scan_code(const uint8_t *img, const struct sure_image_info *info,
			 struct sure_image_hit *hit);

/* 0 if an image of info's ABI can run where guests have protection keys
 * (guest_pku) or not; else -EINVAL and why. */
int sure_image_runnable(const struct sure_image_info *info, int guest_pku, char *err,
			size_t errcap);

/* Copies the segments of a parsed image into guest RAM (mem, mem_bytes). */
void sure_image_load(const uint8_t *img, const struct sure_image_info *info, uint8_t *mem);

#endif
