/*
 * route-text: the first step of the text-router chain. It does not change the
 * body; it picks the next function: text that is mostly letters goes to
 * `upper`, anything else to `hexdump`. Alone (outside a chain) it answers
 * the name of the function it would pick.
 */
#include <sure.h>

int handle(sure_req *req)
{
	size_t letters = 0;

	for (size_t i = 0; i < req->len; i++)
		if (isalpha(req->body[i]) || req->body[i] == ' ')
			letters++;
	const char *next = req->len > 0 && letters * 4 >= req->len * 3 ? "upper" : "hexdump";
	if (sure_next(req, next) == 0)
		return sure_inplace(req, req->len);
	/* Not in a chain (or not allowed to hand on): say where it would go. */
	sure_printf(req, "%s\n", next);
	return 0;
}
