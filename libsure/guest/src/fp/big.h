/* big.h - unsigned big integers for exact decimal <-> binary conversion
 * (strtod, printf's %f/%e/%g): 32-bit limbs, little-endian, fixed room. */
#ifndef SG_BIG_H
#define SG_BIG_H

#include <stdint.h>

#define SG_BIG_LIMBS 256 /* 8192 bits: 10^1150 shifted by 64 fits */

struct sg_big {
	uint32_t w[SG_BIG_LIMBS];
	int n; /* limbs in use; w[n - 1] != 0 unless n == 0 (the value 0) */
};

void sg_big_set(struct sg_big *b, uint64_t v);
/* b = b * m + add */
void sg_big_mul_add(struct sg_big *b, uint32_t m, uint32_t add);
void sg_big_mul_pow10(struct sg_big *b, int e);
void sg_big_mul_pow5(struct sg_big *b, int e);
int sg_big_bits(const struct sg_big *b);
void sg_big_shl(struct sg_big *b, int bits);
void sg_big_shr1(struct sg_big *b);
int sg_big_cmp(const struct sg_big *a, const struct sg_big *b);
/* a -= b, for a >= b. */
void sg_big_sub(struct sg_big *a, const struct sg_big *b);
/* b /= d; returns the remainder. */
uint32_t sg_big_divmod(struct sg_big *b, uint32_t d);

#endif
