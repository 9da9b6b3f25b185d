/*
 * hexdump: answers a hex dump of its body, 16 bytes a line, written into the
 * fresh output buffer.
 */
#include <sure.h>

int handle(sure_req *req)
{
	for (size_t off = 0; off < req->len; off += 16) {
		size_t n = req->len - off < 16 ? req->len - off : 16;

		if (sure_printf(req, "%08zx ", off) < 0)
			goto full;
		for (size_t i = 0; i < n; i++)
			if (sure_printf(req, " %02x", req->body[off + i]) < 0)
				goto full;
		if (sure_write(req, "\n", 1) < 0)
			goto full;
	}
	return 0;
full:
	/* The dump does not fit the response buffer: an answer, not a failure
	 * (returning non-zero would drop the status and answer 500). */
	sure_set_status(req, 413);
	return 0;
}
