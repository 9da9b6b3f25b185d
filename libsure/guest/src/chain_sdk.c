/*
 * chain_sdk.c - the chain calls of sure.h. They work in both modes: in a
 * chain, body and out are two buffers of the same request in the pool; for a
 * plain function they are the request and response areas.
 */
#include "sg.h"
#include "sg_chain.h"

int sure_inplace(sure_req *req, size_t len)
{
	if (!req || len > sure_body_cap(req))
		return -1;
	if (sg_chain_mode) {
		req->len = len;
		req->sg_inplace = 1;
		return 0;
	}
	/* Separate areas here: the one copy a chain would not need. */
	if (len > req->out_cap)
		return -1;
	memmove(req->out, req->body, len);
	req->out_len = len;
	return 0;
}

size_t sure_body_cap(const sure_req *req)
{
	if (!req)
		return 0;
	/* Both extents of a chain request have the same size, as do both areas. */
	return req->out_cap;
}

int sure_next(sure_req *req, const char *name)
{
	return sg_chain_next(req, name);
}

void sure_finish(sure_req *req)
{
	if (req && sg_chain_mode)
		req->sg_next = SURE_NODE_GW;
}

const char *sure_step_name(void)
{
	return sg_chain_step_name();
}
