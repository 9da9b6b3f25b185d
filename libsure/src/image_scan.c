/*
 * image_scan.c - binary inspection of a function's code at deploy time.
 *
 * Protection keys only isolate if the function cannot change PKRU itself.
 * Three instructions can: WRPKRU (0f 01 ef), XRSTOR (0f ae /5) and XRSTORS
 * (0f c7 /3), whose memory forms restore PKRU from an XSAVE area. A guest
 * cannot make code at run time (every page is W^X, built by the host), so
 * if none of their encodings appears at any byte address of any executable
 * page, none can ever run: jumping into the middle of another instruction
 * or into an immediate finds only bytes that are here. So every byte address
 * is looked at, aligned or not, and the pages are seen as the guest sees
 * them: file bytes, zeros around them, and two executable segments that
 * touch in memory read as one.
 *
 * The register forms (mod == 3) of 0f ae /5 and 0f c7 /3 are other
 * instructions (LFENCE; none) and are allowed.
 */
#include <stdio.h>
#include <string.h>

#include "image.h"

/* The byte the guest sees at vaddr v of executable segment s. */
static uint8_t seg_byte(const uint8_t *img, const struct sure_image_seg *s, uint64_t v)
{
	uint64_t first = s->vaddr + s->pad;

	if (v < first || v - first >= s->filesz)
		return 0;
	return img[s->offset + (v - first)];
}

/* The byte at v in any executable segment (0 where none is). */
static uint8_t code_byte(const uint8_t *img, const struct sure_image_info *info, uint64_t v)
{
	for (unsigned k = 0; k < info->nseg; k++) {
		const struct sure_image_seg *s = &info->seg[k];
		if (s->executable && v >= s->vaddr && v - s->vaddr < s->memsz)
			return seg_byte(img, s, v);
	}
	return 0;
}

static const char *match(uint8_t b1, uint8_t b2)
{
	if (b1 == 0x01 && b2 == 0xef)
		return "WRPKRU";
	if ((b2 >> 6) == 3) /* register forms: not an XSAVE-area restore */
		return NULL;
	if (b1 == 0xae && ((b2 >> 3) & 7) == 5)
		return "XRSTOR";
	if (b1 == 0xc7 && ((b2 >> 3) & 7) == 3)
		return "XRSTORS";
	return NULL;
}

int sure_image_scan_code(const uint8_t *img, const struct sure_image_info *info,
			 struct sure_image_hit *hit)
{
	for (unsigned k = 0; k < info->nseg; k++) {
		const struct sure_image_seg *s = &info->seg[k];
		const uint8_t *p = img + s->offset, *end = p + s->filesz;

		if (!s->executable || !s->filesz)
			continue;
		/* 0x0f inside the file bytes; its two successors may lie past them
		 * (zeros, or the next executable segment). */
		while ((p = memchr(p, 0x0f, (size_t)(end - p))) != NULL) {
			uint64_t v = s->vaddr + s->pad + (uint64_t)(p - (img + s->offset));
			const char *what = match(code_byte(img, info, v + 1), code_byte(img, info, v + 2));
			if (what) {
				hit->vaddr = v;
				hit->what = what;
				return 1;
			}
			p++;
		}
	}
	return 0;
}
