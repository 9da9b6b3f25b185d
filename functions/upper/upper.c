/* upper: answers with its request body, ASCII letters upper-cased. */
#include <sure.h>

int handle(sure_req *req)
{
	/* The body is at most io_cap bytes, and so is the response area. */
	size_t n = req->len < req->out_cap ? req->len : req->out_cap;

	for (size_t i = 0; i < n; i++)
		req->out[i] = (uint8_t)toupper(req->body[i]);
	req->out_len = n;
	return 0;
}
