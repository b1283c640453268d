/* q4.c: the compact output head's 4-bit layout (kernels.h says what it
 * is): packing a row, reading one code back, the reference product. */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "kernels.h"

/* Where element i of a row of n goes: its byte, and 4 if in the high
 * nibble. */
static size_t
q4_pos(size_t n, size_t i, int *shift)
{
	size_t nb = n / BN_Q4_BLOCK, b = i / BN_Q4_BLOCK, g = b / 16;
	size_t G = nb - 16 * g < 16 ? nb - 16 * g : 16, L = b % 16;
	size_t t = i % BN_Q4_BLOCK / 4;

	*shift = (int)(t % 2) * 4;
	return 256 * g + 4 * G * (t / 2) + 4 * L + i % 4;
}

void
bn_q4_pack(uint8_t *row, const int8_t *q, size_t n)
{
	size_t i, p;
	int sh;

	memset(row, 0, n / 2);
	for (i = 0; i < n; i++) {
		p = q4_pos(n, i, &sh);
		row[p] |= (uint8_t)((q[i] + 8) << sh);
	}
}

int
bn_q4_get(const uint8_t *row, size_t n, size_t i)
{
	int sh;
	size_t p = q4_pos(n, i, &sh);

	return (row[p] >> sh & 15) - 8;
}

void
bn_q4_prep(const int8_t *x, size_t n, int8_t *xp, int32_t *xs8)
{
	size_t nb = n / BN_Q4_BLOCK, g, G, L, t, i;
	const int8_t *xb;
	int32_t sum;

	for (g = 0; 16 * g < nb; g++) {
		G = nb - 16 * g < 16 ? nb - 16 * g : 16;
		for (L = 0; L < G; L++) {
			xb = x + BN_Q4_BLOCK * (16 * g + L);
			for (sum = 0, i = 0; i < BN_Q4_BLOCK; i++)
				sum += xb[i];
			xs8[16 * g + L] = 8 * sum;
			for (t = 0; t < 8; t++)
				memcpy(xp + 512 * g + 4 * G * t + 4 * L,
				    xb + 4 * t, 4);
		}
	}
}

static float
dot_q4(const uint8_t *w, const uint16_t *s, const int8_t *x, size_t n)
{
	float acc[16] = { 0 }, a[8];
	size_t b, i;
	int32_t isum;
	int l;

	for (b = 0; b < n / BN_Q4_BLOCK; b++) {
		for (isum = 0, i = 0; i < BN_Q4_BLOCK; i++)
			isum += bn_q4_get(w, n, BN_Q4_BLOCK * b + i) *
			    x[BN_Q4_BLOCK * b + i];
		acc[b % 16] = fmaf((float)isum, bn_f16_to_f32(s[b]),
		    acc[b % 16]);
	}
	for (l = 0; l < 8; l++)
		a[l] = acc[l] + acc[l + 8];
	return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) +
	    (a[3] + a[7]));
}

void
bn_matvec_q4_ref(const uint8_t *w, size_t row_bytes, const uint16_t *s,
    size_t s_stride, const int8_t *x, float *y, size_t n, size_t rows)
{
	size_t r;

	for (r = 0; r < rows; r++)
		y[r] = dot_q4(w + r * row_bytes, s + r * s_stride, x, n);
}
