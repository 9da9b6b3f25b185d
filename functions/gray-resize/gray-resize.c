/*
 * gray-resize: third step of the thumbnail chain. Halves a gray image
 * ("GRY1") in each dimension with a 2x2 box filter, in place: output pixel
 * (x, y) is written before input rows 2y and 2y + 1 are passed. An image one
 * pixel wide or high keeps that dimension.
 */
#include <sure.h>

int handle(sure_req *req)
{
	uint8_t *b = (uint8_t *)req->body;
	uint32_t d[2];

	if (req->len < 12 || memcmp(b, "GRY1", 4) != 0) {
		sure_set_status(req, 400);
		sure_printf(req, "gray-resize: expected a gray image (GRY1)\n");
		return 0;
	}
	memcpy(d, b + 4, 8);
	size_t w = d[0], h = d[1];
	if (w == 0 || h == 0 || w * h > req->len - 12) {
		sure_set_status(req, 400);
		sure_printf(req, "gray-resize: pixel data shorter than %zux%zu\n", w, h);
		return 0;
	}
	size_t w2 = w > 1 ? w / 2 : 1, h2 = h > 1 ? h / 2 : 1;
	uint8_t *px = b + 12;
	for (size_t y = 0; y < h2; y++) {
		for (size_t x = 0; x < w2; x++) {
			size_t x0 = w > 1 ? 2 * x : x, y0 = h > 1 ? 2 * y : y;
			size_t x1 = w > 1 ? x0 + 1 : x0, y1 = h > 1 ? y0 + 1 : y0;
			unsigned sum = px[y0 * w + x0] + px[y0 * w + x1] + px[y1 * w + x0] + px[y1 * w + x1];
			px[y * w2 + x] = (uint8_t)((sum + 2) / 4);
		}
	}
	d[0] = (uint32_t)w2;
	d[1] = (uint32_t)h2;
	memcpy(b + 4, d, 8);
	return sure_inplace(req, 12 + w2 * h2);
}
