/*
 * pgm-encode: last step of the thumbnail chain. Writes the gray image
 * ("GRY1") as a binary PGM (P5) into the fresh output buffer.
 */
#include <sure.h>

int handle(sure_req *req)
{
	uint32_t d[2];

	if (req->len < 12 || memcmp(req->body, "GRY1", 4) != 0) {
		sure_set_status(req, 400);
		sure_printf(req, "pgm-encode: expected a gray image (GRY1)\n");
		return 0;
	}
	memcpy(d, req->body + 4, 8);
	size_t pixels = (size_t)d[0] * d[1];
	if (pixels > req->len - 12) {
		sure_set_status(req, 400);
		sure_printf(req, "pgm-encode: pixel data shorter than %ux%u\n", d[0], d[1]);
		return 0;
	}
	if (sure_printf(req, "P5\n%u %u\n255\n", d[0], d[1]) < 0 ||
	    sure_write(req, req->body + 12, pixels) < 0) {
		sure_set_status(req, 413);
		return 1;
	}
	return 0;
}
