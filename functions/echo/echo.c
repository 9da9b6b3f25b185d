/* echo: answers with its request body, byte for byte. */
#include <sure.h>

int handle(sure_req *req)
{
	return sure_write(req, req->body, req->len);
}
