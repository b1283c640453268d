/* kernels_ref.c: the scalar reference kernels, the specification in code.
 *
 * Plain C, no intrinsics.  Float dot products follow kernels.h's one
 * evaluation order exactly: 8 lane sums of fmaf, the fixed reduction
 * tree, then the tail in order.  t2 rows: bnt(5)'s layout, byte j of a
 * 32-byte block holds elements j, j+32, j+64, j+96 in bits 0-1, 2-3,
 * 4-5, 6-7 as value + 1.  (Code 3 is invalid and rejected by the
 * readers; here it counts as +2, as (code - 1), the same in every
 * implementation.) */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "gemm.h"
#include "kernels.h"

/* Element i of a float row of type dtype, widened to f32 exactly. */
static float
wget(int dtype, const void *w, size_t i)
{
	const unsigned char *p = w;
	uint16_t h;
	float f;

	switch (dtype) {
	case BN_DTYPE_F16:
		memcpy(&h, p + 2 * i, 2);
		return bn_f16_to_f32(h);
	case BN_DTYPE_BF16:
		memcpy(&h, p + 2 * i, 2);
		return bn_bf16_to_f32(h);
	case BN_DTYPE_I8:
		return (float)(signed char)p[i];
	default:
		memcpy(&f, p + 4 * i, 4);
		return f;
	}
}

/* The float dot product in the documented order. */
static float
dot_w(int dtype, const void *w, const float *x, size_t n)
{
	float acc[8] = { 0 }, s;
	size_t i, m = n - n % 8;

	for (i = 0; i < m; i++)
		acc[i % 8] = fmaf(wget(dtype, w, i), x[i], acc[i % 8]);
	s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
	    ((acc[1] + acc[5]) + (acc[3] + acc[7]));
	for (; i < n; i++)
		s = fmaf(wget(dtype, w, i), x[i], s);
	return s;
}

static void
matvec_f_ref(int dtype, const void *w, size_t row_bytes, const float *x,
    float *y, size_t n, size_t rows)
{
	size_t r;

	for (r = 0; r < rows; r++)
		y[r] = dot_w(dtype, (const char *)w + r * row_bytes, x, n);
}

static void
matmul_f_ref(int dtype, const void *w, size_t row_bytes, const float *x,
    size_t ldx, float *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t r, t;

	for (t = 0; t < T; t++)
		for (r = 0; r < rows; r++)
			y[t * ldy + r] = dot_w(dtype,
			    (const char *)w + r * row_bytes, x + t * ldx, n);
}

static int32_t
dot_t2(const uint8_t *w, const int8_t *x, size_t n)
{
	int32_t sum = 0;
	size_t b, j, k;

	for (b = 0; b < n / BN_T2_BLOCK; b++, w += 32, x += BN_T2_BLOCK)
		for (k = 0; k < 4; k++)
			for (j = 0; j < 32; j++)
				sum += ((w[j] >> 2 * k & 3) - 1) *
				    x[32 * k + j];
	return sum;
}

static void
matvec_t2_ref(const uint8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r;

	for (r = 0; r < rows; r++)
		y[r] = dot_t2(w + r * row_bytes, x, n);
}

static void
matmul_t2_ref(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t r, t;

	for (t = 0; t < T; t++)
		for (r = 0; r < rows; r++)
			y[t * ldy + r] = dot_t2(w + r * row_bytes,
			    x + t * ldx, n);
}

static float
quant_i8_ref(const float *x, int8_t *q, size_t n)
{
	float m = 0, s, v;
	size_t i;

	for (i = 0; i < n; i++) {	/* a NaN never wins a comparison */
		v = fabsf(x[i]);
		m = v > m ? v : m;
	}
	s = 127.0f / (m > 1e-5f ? m : 1e-5f);
	for (i = 0; i < n; i++) {
		v = nearbyintf(x[i] * s);
		v = v > -128.0f ? v : -128.0f;	/* NaN becomes -128 */
		v = v < 127.0f ? v : 127.0f;
		q[i] = (int8_t)v;
	}
	return s;
}

static float
dot_f32_ref(const float *a, const float *b, size_t n)
{
	return dot_w(BN_DTYPE_F32, a, b, n);
}

static void
rmsnorm_ref(float *y, const float *x, int wdtype, const void *w, size_t n,
    float eps)
{
	float ss = dot_w(BN_DTYPE_F32, x, x, n), r;
	size_t i;

	r = 1.0f / sqrtf(ss / (float)n + eps);
	for (i = 0; i < n; i++)
		y[i] = wget(wdtype, w, i) * (x[i] * r);
}

static void
isum_f32_ref(const int32_t *isum, const float *scale, float as, int div,
    float *y, size_t n)
{
	size_t r;

	for (r = 0; r < n; r++) {
		float v = (float)isum[r];

		y[r] = div ? v / (as * scale[r]) : v * scale[r] / as;
	}
}

static void
axpy_f32_ref(float *y, float a, const float *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		y[i] = fmaf(a, x[i], y[i]);
}

static void
axpy_rows_ref(int dtype, float *y, const float *a, const void *x,
    size_t row_bytes, size_t n, size_t rows)
{
	size_t r, i;

	for (r = 0; r < rows; r++)
		for (i = 0; i < n; i++)
			y[i] = fmaf(a[r], wget(dtype, (const char *)x +
			    r * row_bytes, i), y[i]);
}

static void
matvec_i8_ref(const int8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r, i;
	int32_t sum;

	for (r = 0; r < rows; r++, w += row_bytes) {
		sum = 0;
		for (i = 0; i < n; i++)
			sum += (int32_t)w[i] * x[i];
		y[r] = sum;
	}
}

static void
scores_i8_ref(const int8_t *k, size_t row_bytes, const int8_t *q,
    size_t ldq, const float *qs, size_t nh, float *y, size_t ldy, size_t n,
    size_t rows)
{
	const int8_t *kr;
	size_t h, r, i;
	int32_t sum;

	for (h = 0; h < nh; h++, q += ldq, y += ldy)
		for (r = 0, kr = k; r < rows; r++, kr += row_bytes) {
			sum = 0;
			for (i = 0; i < n; i++)
				sum += (int32_t)q[i] * kr[i];
			y[r] = (float)sum * qs[h];
		}
}

static void
matmul_i8_ref(const int8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_i8_each(&bn_kernels_ref, w, row_bytes, x, ldx, y, ldy, n,
	    rows, T);
}

/* Delta swap: the bits of *a at mask << sh trade places with the bits
 * of *b at mask. */
static void
dswap(uint64_t *a, uint64_t *b, int sh, uint64_t mask)
{
	uint64_t t = (*a >> sh ^ *b) & mask;

	*b ^= t;
	*a ^= t << sh;
}

/* Transposes the 8x8 matrix of bytes x[i] byte k (little-endian words):
 * afterwards x[k] byte i is what x[i] byte k was. */
static void
transpose8x8(uint64_t x[8])
{
	int i;

	for (i = 0; i < 8; i += 2)
		dswap(&x[i], &x[i + 1], 8, 0x00ff00ff00ff00ffu);
	for (i = 0; i < 8; i += i % 4 == 1 ? 3 : 1)
		dswap(&x[i], &x[i + 2], 16, 0x0000ffff0000ffffu);
	for (i = 0; i < 4; i++)
		dswap(&x[i], &x[i + 4], 32, 0x00000000ffffffffu);
}

/* Byte j of a block holds columns j, j+32, j+64, j+96 in its 2-bit
 * fields.  Eight such bytes of each of rows 4g..4g+3 are read as words
 * and turned into INT2 codes (code - 1 mod 4 per field); field s of the
 * four rows' bytes j, put together low row first, is out[(j + 32s) ld
 * + g].  Eight groups are done at once: their words for one s,
 * transposed as 8x8 bytes, are 8 output bytes in a row for each of 8
 * columns. */
int
bn_int2_t2_ref(const uint8_t *w0, size_t rb, size_t groups, uint8_t *out,
    size_t ld)
{
	const uint64_t lo = 0x5555555555555555u, m = 0x0303030303030303u;
	uint64_t w[4], x[4][8], bad = 0, nl;
	size_t g0, g, j, s, k;
	const uint8_t *p;
	unsigned i, ng;

	for (g0 = 0; g0 < groups; g0 += ng) {
		ng = groups - g0 < 8 ? (unsigned)(groups - g0) : 8;
		for (j = 0; j < 32; j += 8) {
			for (g = 0; g < ng; g++) {
				p = w0 + (g0 + g) * 4 * rb + j;
				for (i = 0; i < 4; i++) {
					memcpy(&w[i], p + i * rb, 8);
					bad |= w[i] & w[i] >> 1;
					/* the low bit flips, the high bit
					 * flips where the low bit was 0 */
					nl = ~w[i] & lo;
					w[i] = ((w[i] & ~lo) ^ nl << 1) | nl;
				}
				for (s = 0; s < 4; s++)
					x[s][g] = (w[0] >> 2 * s & m) |
					    (w[1] >> 2 * s & m) << 2 |
					    (w[2] >> 2 * s & m) << 4 |
					    (w[3] >> 2 * s & m) << 6;
			}
			for (s = 0; s < 4; s++) {
				uint8_t *o = out + (j + 32 * s) * ld + g0;
				unsigned char b[8];

				if (ng == 8) {
					transpose8x8(x[s]);
					for (k = 0; k < 8; k++)
						memcpy(o + k * ld, &x[s][k], 8);
					continue;
				}
				for (g = 0; g < ng; g++) {	/* the last few */
					memcpy(b, &x[s][g], 8);
					for (k = 0; k < 8; k++)
						o[k * ld + g] = b[k];
				}
			}
		}
	}
	return (bad & lo) != 0;
}

static void
axpy_rows_h_ref(int dtype, float *y, size_t ldy, const float *a,
    size_t lda, size_t nh, const void *x, size_t row_bytes, size_t n,
    size_t rows)
{
	bn_axpy_rows_h_each(&bn_kernels_ref, dtype, y, ldy, a, lda, nh, x,
	    row_bytes, n, rows);
}

void
bn_softmax_ref(float *x, size_t n, float scale, const float *pre,
    const float *post)
{
	float mx = -INFINITY, sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		x[i] = (pre != NULL ? x[i] * pre[i] : x[i]) * scale;
		if (x[i] > mx)
			mx = x[i];
	}
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	for (i = 0; i < n; i++) {
		x[i] = x[i] / sum;
		if (post != NULL)
			x[i] *= post[i];
	}
}

const struct bn_kernels bn_kernels_ref = {
	.matvec_i8 = matvec_i8_ref,
	.matmul_i8 = matmul_i8_ref,
	.scores_i8 = scores_i8_ref,
	.matvec_q4 = bn_matvec_q4_ref,
	.name = "ref",
	.matvec_f = matvec_f_ref,
	.matmul_f = matmul_f_ref,
	.matvec_t2 = matvec_t2_ref,
	.matmul_t2 = matmul_t2_ref,
	.matvec_t3 = bn_matvec_t3_ref,
	.matmul_t3 = bn_matmul_t3_ref,
	.t3_t2 = bn_t3_t2_ref,
	.quant_i8 = quant_i8_ref,
	.rmsnorm = rmsnorm_ref,
	.dot_f32 = dot_f32_ref,
	.axpy_f32 = axpy_f32_ref,
	.isum_f32 = isum_f32_ref,
	.axpy_rows = axpy_rows_ref,
	.axpy_rows_h = axpy_rows_h_ref,
	.softmax = bn_softmax_ref,
	.gemm_uk = bn_gemm_ukernel_ref,
	.int2_t2 = bn_int2_t2_ref,
};
