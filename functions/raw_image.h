/*
 * raw_image.h - the image format the steps of the thumbnail chain hand to
 * each other in the chain's pool: a 12-byte header (4-byte magic, then width
 * and height as little-endian u32) and the pixels. "RGB1": 3 bytes a pixel;
 * "GRY1": 1 byte a pixel. Shared by ppm-decode, rgb-gray, gray-resize and
 * pgm-encode (included as "../raw_image.h"; `sure dev` builds folders only).
 */
#ifndef RAW_IMAGE_H
#define RAW_IMAGE_H

#include <sure.h>

#define RAW_HEADER 12

/* Answers 400 with "<step>: <why>" and ends the chain here. Returns 0 for handle(). */
static inline int raw_reject(sure_req *req, const char *step, const char *why)
{
	sure_set_status(req, 400);
	sure_printf(req, "%s: %s\n", step, why);
	sure_finish(req);
	return 0;
}

static inline void raw_write_header(uint8_t *p, const char magic[4], uint32_t w, uint32_t h)
{
	uint32_t dims[2] = { w, h };

	memcpy(p, magic, 4);
	memcpy(p + 4, dims, 8);
}

/*
 * Reads the header of an image of `magic` with bytes_per_pixel-byte pixels
 * and checks that the body holds all its pixels. 0, or -1 if not.
 */
static inline int raw_read_header(const sure_req *req, const char magic[4], size_t bytes_per_pixel,
				  uint32_t *w, uint32_t *h)
{
	uint32_t dims[2];

	if (req->len < RAW_HEADER || memcmp(req->body, magic, 4) != 0)
		return -1;
	memcpy(dims, req->body + 4, 8);
	if (dims[0] == 0 || dims[1] == 0 ||
	    (size_t)dims[0] * dims[1] > (req->len - RAW_HEADER) / bytes_per_pixel)
		return -1;
	*w = dims[0];
	*h = dims[1];
	return 0;
}

#endif
