/*
 * pgm-encode: last step of the thumbnail chain. Writes the gray image
 * ("GRY1") as a binary PGM (P5) into the fresh output buffer.
 */
#include "../raw_image.h"

int handle(sure_req *req)
{
	uint32_t w, h;

	if (raw_read_header(req, "GRY1", 1, &w, &h) < 0)
		return raw_reject(req, "pgm-encode", "expected a whole gray image (GRY1)");
	if (sure_printf(req, "P5\n%u %u\n255\n", w, h) < 0 ||
	    sure_write(req, req->body + RAW_HEADER, (size_t)w * h) < 0) {
		sure_set_status(req, 413); /* an answer: non-zero would be a 500 */
		return 0;
	}
	return 0;
}
