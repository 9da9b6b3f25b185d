/*
 * rgb-gray: second step of the thumbnail chain. Turns the raw RGB image of
 * ppm-decode ("RGB1" header) into 8-bit luma ("GRY1" header), in place: each
 * gray byte is written no later than the RGB bytes it comes from.
 */
#include <sure.h>

int handle(sure_req *req)
{
	uint8_t *b = (uint8_t *)req->body;
	uint32_t dims[2];

	if (req->len < 12 || memcmp(b, "RGB1", 4) != 0) {
		sure_set_status(req, 400);
		sure_printf(req, "rgb-gray: expected a raw RGB image (RGB1)\n");
		return 0;
	}
	memcpy(dims, b + 4, 8);
	size_t pixels = (size_t)dims[0] * dims[1];
	if (pixels > (req->len - 12) / 3) {
		sure_set_status(req, 400);
		sure_printf(req, "rgb-gray: pixel data shorter than %ux%u\n", dims[0], dims[1]);
		return 0;
	}
	for (size_t i = 0; i < pixels; i++) {
		const uint8_t *p = b + 12 + 3 * i;
		/* ITU-R BT.601 weights in 8.8 fixed point (77 + 150 + 29 = 256) */
		b[12 + i] = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2]) >> 8);
	}
	memcpy(b, "GRY1", 4);
	return sure_inplace(req, 12 + pixels);
}
