/*
 * fuzz_input.h - reading a libFuzzer input as a script: small integers taken
 * from the front of the input. Each read names the value to use once the
 * input is used up, so a short (or empty) input still runs the target's
 * normal path to the end: the built-in seed every target starts from.
 */
#ifndef SURE_FUZZ_INPUT_H
#define SURE_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline int fin_more(const struct fuzz_in *in)
{
	return in->n > 0;
}

/* Copies up to len bytes; the rest of dst is left as it was. Returns bytes taken. */
static inline size_t fin_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	if (k == 0)
		return 0; /* in->p may be NULL: no memcpy from it, even of 0 bytes */
	memcpy(dst, in->p, k);
	in->p += k;
	in->n -= k;
	return k;
}

static inline uint8_t fin_u8(struct fuzz_in *in, uint8_t dflt)
{
	uint8_t v = dflt;

	if (in->n >= 1)
		fin_bytes(in, &v, 1);
	return v;
}

static inline uint16_t fin_u16(struct fuzz_in *in, uint16_t dflt)
{
	uint16_t v = dflt;

	if (in->n >= 2)
		fin_bytes(in, &v, 2);
	else
		in->n = 0;
	return v;
}

static inline uint32_t fin_u32(struct fuzz_in *in, uint32_t dflt)
{
	uint32_t v = dflt;

	if (in->n >= 4)
		fin_bytes(in, &v, 4);
	else
		in->n = 0;
	return v;
}

static inline uint64_t fin_u64(struct fuzz_in *in, uint64_t dflt)
{
	uint64_t v = dflt;

	if (in->n >= 8)
		fin_bytes(in, &v, 8);
	else
		in->n = 0;
	return v;
}

#endif
