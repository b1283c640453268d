/* quant.c: post-training quantizers. */
#include <math.h>
#include <string.h>

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

/* The statistic of the n elements w: s (ternary) or beta and alpha,
 * stored at scope si. */
static void
stat(const float *w, size_t n, const struct bn_quant *q, size_t si,
    float *s, float *a)
{
	*a = 0;
	if (q->kind == BN_QUANT_BINARY)
		bn_binary_stats(w, n, a, s);
	else
		*s = bn_ternary_scale(w, n);
	if (q->scales != NULL)
		q->scales[si] = *s;
	if (q->alphas != NULL)
		q->alphas[si] = *a;
}

/* The dequantized values of n elements w with statistic s, a. */
static void
values(const float *w, size_t n, int kind, float s, float a, float *val)
{
	size_t i;
	float v;

	for (i = 0; i < n; i++)
		if (kind == BN_QUANT_BINARY)
			val[i] = w[i] - a > 0 ? s : -s;
		else {
			v = nearbyintf(w[i] * s);
			v = v > 1 ? 1 : v < -1 ? -1 : v;
			val[i] = v / s;
		}
}

void
bn_quant_tensor(const float *w, size_t rows, size_t cols,
    const struct bn_quant *q)
{
	size_t block = q->block ? q->block : cols, r, c, si = 0;
	float s = 0, a = 0;

	if (q->codes != NULL)
		memset(q->codes, q->kind == BN_QUANT_BINARY ? 0 : 0x55,
		    rows * q->row_bytes);
	if (q->block == 0)
		stat(w, rows * cols, q, si, &s, &a);
	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c += block) {
			const float *p = w + r * cols + c;

			if (q->block != 0)
				stat(p, block, q, si++, &s, &a);
			if (q->codes != NULL && q->kind == BN_QUANT_BINARY)
				bn_binary_codes(p, block, a,
				    q->codes + r * q->row_bytes, c);
			else if (q->codes != NULL)
				bn_ternary_codes(p, block, s,
				    q->codes + r * q->row_bytes, c);
			if (q->values != NULL)
				values(p, block, q->kind, s, a,
				    q->values + r * cols + c);
		}
}
