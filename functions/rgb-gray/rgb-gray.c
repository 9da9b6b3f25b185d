/*
 * rgb-gray: second step of the thumbnail chain. Turns the raw RGB image of
 * ppm-decode ("RGB1" header) into 8-bit luma ("GRY1" header), in place: each
 * gray byte is written no later than the RGB bytes it comes from.
 */
#include "../raw_image.h"

int handle(sure_req *req)
{
	uint8_t *b = (uint8_t *)req->body;
	uint32_t w, h;

	if (raw_read_header(req, "RGB1", 3, &w, &h) < 0)
		return raw_reject(req, "rgb-gray", "expected a whole raw RGB image (RGB1)");
	size_t pixels = (size_t)w * h;
	for (size_t i = 0; i < pixels; i++) {
		const uint8_t *p = b + RAW_HEADER + 3 * i;
		/* ITU-R BT.601 weights in 8.8 fixed point (77 + 150 + 29 = 256) */
		b[RAW_HEADER + i] = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8);
	}
	raw_write_header(b, "GRY1", w, h);
	return sure_inplace(req, RAW_HEADER + pixels);
}
