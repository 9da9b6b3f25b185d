/*
 * response.c - building the answer: sure_write, sure_printf and
 * sure_set_status. The response area is shared memory the host reads after
 * resp_seq moves, so writing there directly is the zero-copy path.
 */
#include "sg.h"

/* Bytes still free in the response area; 0 if the function broke out_len. */
static size_t room(const sure_req *req)
{
	return req->out_len <= req->out_cap ? req->out_cap - req->out_len : 0;
}

int sure_write(sure_req *req, const void *data, size_t n)
{
	if (!req || (n && !data) || req->out_len > req->out_cap || n > room(req))
		return -1;
	memcpy(req->out + req->out_len, data, n);
	req->out_len += n;
	return 0;
}

int sure_printf(sure_req *req, const char *fmt, ...)
{
	if (!req || !fmt || req->out_len > req->out_cap)
		return -1;
	/* Format in place; out_len only moves if the whole text fitted. */
	struct sg_sink s = { (char *)req->out + req->out_len, room(req), 0 };
	va_list ap;

	va_start(ap, fmt);
	sg_vformat(&s, fmt, ap);
	va_end(ap);
	if (s.len > s.cap || s.len > INT32_MAX)
		return -1;
	req->out_len += s.len;
	return (int)s.len;
}

void sure_set_status(sure_req *req, int status)
{
	if (!req)
		return;
	if (status < 100 || status > 599) {
		sure_log("sure_set_status(%d): not an HTTP status, using 500", status);
		status = 500;
	}
	req->status = status;
}
