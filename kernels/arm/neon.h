/* neon.h: what kernels_neon.c and kernels_dotprod.c share (private to
 * kernels/arm/). */
#ifndef BN_NEON_H
#define BN_NEON_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#define AI static inline __attribute__((always_inline))
/* The r/t/k loops have constant trip counts once inlined; fully
 * unrolled, their accumulator arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 16")

/* Weight rows in chunks of about CHUNK_BYTES, kept in L2 while every
 * token passes over them. */
#define CHUNK_BYTES (128 * 1024)
/* Tokens per ternary tile (2 rows x T2_TB tokens). */
#define T2_TB 4

static inline size_t
chunk_rows(size_t row_bytes, size_t rb)
{
	size_t c = row_bytes ? CHUNK_BYTES / row_bytes / rb * rb : 0;

	return c > rb ? c : rb;
}

/* scores_i8 for both NEON tables: up to 4 heads a key row, the row
 * loaded once for them; dot(acc, a, b) adds the products of 16 int8
 * pairs into acc's lanes (a constant once inlined). */
AI void
scores_i8_rows(const int8_t *k, size_t rb, const int8_t *q, size_t ldq,
    const float *qs, size_t nh, float *y, size_t ldy, size_t n, size_t rows,
    int32x4_t (*dot)(int32x4_t, int8x16_t, int8x16_t))
{
	const int8_t *qh, *kr;
	int32x4_t acc[4];
	int8x16_t kv;
	size_t h, hb, r, i, e = n - n % 16;
	int32_t sum;
	int j;

	for (h = 0; h < nh; h += hb) {
		hb = nh - h < 4 ? nh - h : 4;
		qh = q + h * ldq;
		for (r = 0, kr = k; r < rows; r++, kr += rb) {
			for (j = 0; j < 4; j++)
				acc[j] = vdupq_n_s32(0);
			for (i = 0; i < e; i += 16) {
				kv = vld1q_s8(kr + i);
				for (j = 0; j < (int)hb; j++)
					acc[j] = dot(acc[j], kv, vld1q_s8(qh +
					    (size_t)j * ldq + i));
			}
			for (j = 0; j < (int)hb; j++) {
				sum = vaddvq_s32(acc[j]);
				for (i = e; i < n; i++)
					sum += (int32_t)qh[(size_t)j * ldq + i] *
					    kr[i];
				y[(h + (size_t)j) * ldy + r] = (float)sum *
				    qs[h + (size_t)j];
			}
		}
	}
}

/* The signed factors c - 1 of slice k (elements 32k .. 32k + 31) of a
 * 32-byte block: lo holds bytes 0-15, hi bytes 16-31. */
AI void
t2codes(const uint8_t *q, int k, int8x16_t *lo, int8x16_t *hi)
{
	const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);
	uint8x16_t a = vld1q_u8(q), b = vld1q_u8(q + 16);

	switch (k) {	/* vshrq_n_u8 needs a constant shift */
	case 1:
		a = vshrq_n_u8(a, 2), b = vshrq_n_u8(b, 2);
		break;
	case 2:
		a = vshrq_n_u8(a, 4), b = vshrq_n_u8(b, 4);
		break;
	case 3:
		a = vshrq_n_u8(a, 6), b = vshrq_n_u8(b, 6);
		break;
	default:
		break;
	}
	*lo = vreinterpretq_s8_u8(vsubq_u8(vandq_u8(a, m3), one));
	*hi = vreinterpretq_s8_u8(vsubq_u8(vandq_u8(b, m3), one));
}

/* The sdot int8 kernels (kernels_dotprod.c), for
 * bn_kernels_neon_dotprod only: call them only where the CPU has sdot. */
void bn_neon_dp_matvec_t2(const uint8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);
void bn_neon_dp_matmul_t2(const uint8_t *w, size_t row_bytes,
    const int8_t *x, size_t ldx, int32_t *y, size_t ldy, size_t n,
    size_t rows, size_t T);
void bn_neon_dp_scores_i8(const int8_t *k, size_t rb, const int8_t *q,
    size_t ldq, const float *qs, size_t nh, float *y, size_t ldy, size_t n,
    size_t rows);
void bn_neon_dp_matvec_i8(const int8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);

#endif
