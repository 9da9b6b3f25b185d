/*
 * gray-resize: third step of the thumbnail chain. Halves a gray image
 * ("GRY1") in each dimension with a 2x2 box filter, in place: output pixel
 * (x, y) is written before input rows 2y and 2y + 1 are passed. An image one
 * pixel wide or high keeps that dimension.
 */
#include "../raw_image.h"

int handle(sure_req *req)
{
	uint8_t *b = (uint8_t *)req->body;
	uint32_t dw, dh;

	if (raw_read_header(req, "GRY1", 1, &dw, &dh) < 0)
		return raw_reject(req, "gray-resize", "expected a whole gray image (GRY1)");
	size_t w = dw, h = dh;
	size_t w2 = w > 1 ? w / 2 : 1, h2 = h > 1 ? h / 2 : 1;
	uint8_t *px = b + RAW_HEADER;
	for (size_t y = 0; y < h2; y++) {
		for (size_t x = 0; x < w2; x++) {
			size_t x0 = w > 1 ? 2 * x : x, y0 = h > 1 ? 2 * y : y;
			size_t x1 = w > 1 ? x0 + 1 : x0, y1 = h > 1 ? y0 + 1 : y0;
			unsigned sum = px[y0 * w + x0] + px[y0 * w + x1] + px[y1 * w + x0] + px[y1 * w + x1];
			px[y * w2 + x] = (uint8_t)((sum + 2) / 4);
		}
	}
	raw_write_header(b, "GRY1", (uint32_t)w2, (uint32_t)h2);
	return sure_inplace(req, RAW_HEADER + w2 * h2);
}
