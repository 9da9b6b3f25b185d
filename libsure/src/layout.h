/*
 * layout.h - lays out a fresh guest in its RAM (see the map in sure_abi.h):
 * the control page, the image, the CPU tables and the page tables.
 */
#ifndef SURE_LAYOUT_H
#define SURE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "instance.h"

struct sure_layout_in {
	uint8_t *ram; /* host view of guest RAM, zero-filled */
	uint64_t mem_bytes;
	uint32_t io_cap; /* bytes per I/O area, page aligned */
	uint32_t io_slots; /* request slots of two areas and two heads each (>= 1) */
	const struct sure_region *regions; /* the attachment's memory, if any */
	uint32_t nregions;
	const uint8_t *img;
	const struct sure_image_info *info; /* parsed (checked) image */
	const uint8_t *env; /* checked environment block (env.h), copied below the heap */
	uint32_t env_len; /* 0: none */
	int pku; /* the vCPU will have CR4.PKE (the gates switch keys) */
};

struct sure_layout_out {
	uint64_t cr3;
	uint64_t rip;
	uint64_t rsp;
};

/* 0, or -EINVAL / -ENOMEM with a reason in err. */
int sure_layout_build(const struct sure_layout_in *in, struct sure_layout_out *out, char *err,
		      size_t errcap);

#endif
