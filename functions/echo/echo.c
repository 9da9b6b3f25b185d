/*
 * echo: answers with its request body, byte for byte. In a chain the body is
 * handed on where it lies (sure_inplace): nothing is copied.
 */
#include <sure.h>

int handle(sure_req *req)
{
	return sure_inplace(req, req->len);
}
