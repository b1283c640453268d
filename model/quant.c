/* quant.c: post-training quantizers. */
#include <math.h>

#include "dtype.h"
#include "quant.h"

float
bn_ternary_scale(const float *w, size_t n)
{
	double sum = 0;
	float mean;
	size_t i;

	for (i = 0; i < n; i++)
		sum += fabsf(w[i]);
	mean = n ? (float)(sum / (double)n) : 0;
	return 1.0f / (mean > 1e-5f ? mean : 1e-5f);
}

void
bn_ternary_codes(const float *w, size_t n, float s, uint8_t *row,
    size_t off)
{
	size_t i;
	float q;

	for (i = 0; i < n; i++) {
		q = nearbyintf(w[i] * s);
		bn_t2_set(row, off + i, q > 1 ? 1 : q < -1 ? -1 : (int)q);
	}
}

void
bn_binary_stats(const float *w, size_t n, float *alpha, float *beta)
{
	double sum = 0, asum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		sum += w[i];
		asum += fabsf(w[i]);
	}
	*alpha = n ? (float)(sum / (double)n) : 0;
	*beta = n ? (float)(asum / (double)n) : 0;
}

void
bn_binary_codes(const float *w, size_t n, float alpha, uint8_t *row,
    size_t off)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		k = off + i;
		if (w[i] - alpha > 0)
			row[k / 8] |= (uint8_t)(1u << (k % 8));
		else
			row[k / 8] &= (uint8_t)~(1u << (k % 8));
	}
}
