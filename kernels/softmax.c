/* softmax.c: the exponential every kernel table's softmax computes,
 * ref's softmax (kernels.h says both), and axpy_rows_h by heads. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#define EXP_LO (-87.3f)
#define LOG2E 1.44269504088896341f
#define C1 0.693359375f
#define C2 (-2.12194440e-4f)

float
bn_expf(float x)
{
	float k, r, p, y;
	int32_t bits;

	if (!(x >= EXP_LO))		/* below, or NaN */
		return x != x ? x : 0.0f;
	k = nearbyintf(x * LOG2E);
	r = fmaf(-k, C1, x);
	r = fmaf(-k, C2, r);
	p = 1.9875691500e-4f;
	p = fmaf(p, r, 1.3981999507e-3f);
	p = fmaf(p, r, 8.3334519073e-3f);
	p = fmaf(p, r, 4.1665795894e-2f);
	p = fmaf(p, r, 1.6666665459e-1f);
	p = fmaf(p, r, 5.0000001201e-1f);
	y = fmaf(p, r * r, r) + 1.0f;
	memcpy(&bits, &y, 4);
	bits += (int32_t)k * (1 << 23);
	memcpy(&y, &bits, 4);
	return y;
}

void
bn_softmax_ref(float *x, size_t n, float scale)
{
	float m = -INFINITY, acc[8] = { 0 }, s;
	size_t i, e = n - n % 8;

	for (i = 0; i < n; i++) {
		x[i] *= scale;
		m = x[i] > m ? x[i] : m;
	}
	for (i = 0; i < n; i++)
		x[i] = bn_expf(x[i] - m);
	for (i = 0; i < e; i++)
		acc[i % 8] += x[i];
	s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
	    ((acc[1] + acc[5]) + (acc[3] + acc[7]));
	for (; i < n; i++)
		s += x[i];
	for (i = 0; i < n; i++)
		x[i] = x[i] / s;
}

void
bn_axpy_rows_h_each(const struct bn_kernels *k, int dtype, float *y,
    size_t ldy, const float *a, size_t lda, size_t nh, const void *x,
    size_t row_bytes, size_t n, size_t rows)
{
	size_t h;

	for (h = 0; h < nh; h++)
		k->axpy_rows(dtype, y + h * ldy, a + h * lda, x, row_bytes, n,
		    rows);
}
