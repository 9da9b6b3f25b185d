/* reverse: answers with its request body reversed, transformed in place. */
#include <sure.h>

int handle(sure_req *req)
{
	uint8_t *b = (uint8_t *)req->body; /* in a chain: this request's own buffer */

	if (req->len > 1) {
		for (size_t i = 0, j = req->len - 1; i < j; i++, j--) {
			uint8_t t = b[i];
			b[i] = b[j];
			b[j] = t;
		}
	}
	return sure_inplace(req, req->len);
}
