/*
 * ppm-decode: first step of the thumbnail chain. Parses a PPM image (P6
 * binary or P3 text, maxval up to 255) and writes raw RGB pixels, after a
 * 12-byte header ("RGB1", width, height: little-endian u32), into the fresh
 * output buffer. Bad input answers 400 with one line saying why (and a
 * status of 400 ends the chain there).
 */
#include "../raw_image.h"

struct cursor {
	const uint8_t *p, *end;
};

static void skip_space(struct cursor *c)
{
	while (c->p < c->end) {
		if (*c->p == '#') { /* a comment runs to the end of its line */
			while (c->p < c->end && *c->p != '\n')
				c->p++;
		} else if (isspace(*c->p)) {
			c->p++;
		} else {
			return;
		}
	}
}

/* A decimal number up to max; -1 if there is none or it is too big. */
static long number(struct cursor *c, long max)
{
	long v = 0;
	int digits = 0;

	skip_space(c);
	while (c->p < c->end && isdigit(*c->p)) {
		v = v * 10 + (*c->p++ - '0');
		if (v > max)
			return -1;
		digits++;
	}
	return digits ? v : -1;
}

static int fail(sure_req *req, const char *why)
{
	return raw_reject(req, "ppm-decode", why);
}

int handle(sure_req *req)
{
	struct cursor c = { req->body, req->body + req->len };

	if (req->len < 2 || req->body[0] != 'P' || (req->body[1] != '6' && req->body[1] != '3'))
		return fail(req, "not a PPM image (expected P6 or P3)");
	int binary = req->body[1] == '6';
	c.p += 2;
	long w = number(&c, 1 << 16), h = number(&c, 1 << 16), maxval = number(&c, 255);
	if (w <= 0 || h <= 0)
		return fail(req, "missing or invalid width/height");
	if (maxval <= 0)
		return fail(req, "missing maxval or maxval above 255");
	size_t pixels = (size_t)w * (size_t)h;
	if (RAW_HEADER + pixels * 3 > req->out_cap)
		return fail(req, "image too large for the chain's buffers");

	uint8_t *out = req->out;
	raw_write_header(out, "RGB1", (uint32_t)w, (uint32_t)h);
	if (binary) {
		c.p++; /* exactly one whitespace byte before the samples */
		if ((size_t)(c.end - c.p) < pixels * 3)
			return fail(req, "truncated pixel data");
		for (size_t i = 0; i < pixels * 3; i++)
			out[RAW_HEADER + i] = (uint8_t)(c.p[i] * 255 / maxval);
	} else {
		for (size_t i = 0; i < pixels * 3; i++) {
			long v = number(&c, maxval);
			if (v < 0)
				return fail(req, "truncated or invalid pixel data");
			out[RAW_HEADER + i] = (uint8_t)(v * 255 / maxval);
		}
	}
	req->out_len = RAW_HEADER + pixels * 3;
	return 0;
}
