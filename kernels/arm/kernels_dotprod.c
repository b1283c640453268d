/* kernels_dotprod.c: the int8 kernels with the ARMv8.2 dot product
 * (sdot, vdotq_s32: four int8 products added into each int32 lane), for
 * bn_kernels_neon_dotprod.  The only file built with
 * -march=armv8.2-a+dotprod; dispatch.c selects the table only where
 * getauxval(AT_HWCAP) has HWCAP_ASIMDDP.  Exact, as the plain NEON
 * kernels: no int16 stage, so no groups. */
#include <arm_neon.h>

#include "dtype.h"
#include "kernels.h"
#include "neon.h"

/* RB rows x TB tokens over all n. */
AI void
t2tile_dp(const uint8_t *w, size_t rb, const int8_t *x, size_t ldx,
    int32_t *y, size_t ldy, size_t n, int RB, int TB)
{
	int32x4_t acc[2][4];
	int8x16_t lo, hi;
	size_t b, nb = n / BN_T2_BLOCK;
	int r, t, k;

	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			acc[r][t] = vdupq_n_s32(0);
	for (b = 0; b < nb; b++)
		UNROLL
		for (k = 0; k < 4; k++)
			UNROLL
			for (r = 0; r < RB; r++) {
				t2codes(w + r * rb + 32 * b, k, &lo, &hi);
				UNROLL
				for (t = 0; t < TB; t++) {
					const int8_t *xp = x + t * ldx +
					    b * BN_T2_BLOCK + 32 * k;

					acc[r][t] = vdotq_s32(acc[r][t], lo,
					    vld1q_s8(xp));
					acc[r][t] = vdotq_s32(acc[r][t], hi,
					    vld1q_s8(xp + 16));
				}
			}
	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			y[t * ldy + r] = vaddvq_s32(acc[r][t]);
}

void
bn_neon_dp_matvec_t2(const uint8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r;

	for (r = 0; r + 2 <= rows; r += 2)
		t2tile_dp(w + r * row_bytes, row_bytes, x, 0, y + r, 0, n,
		    2, 1);
	if (r < rows)
		t2tile_dp(w + r * row_bytes, row_bytes, x, 0, y + r, 0, n,
		    1, 1);
}

void
bn_neon_dp_matmul_t2(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t r0, r1, r, t, ch = chunk_rows(row_bytes, 2);

	for (r0 = 0; r0 < rows; r0 = r1) {
		r1 = rows - r0 > ch ? r0 + ch : rows;
		for (t = 0; t < T; t += T2_TB) {
			const int8_t *xt = x + t * ldx;
			int32_t *yt = y + t * ldy;

			for (r = r0; r < r1; r += 2) {
				const uint8_t *wr = w + r * row_bytes;
				int RB = r1 - r >= 2 ? 2 : 1;

#define T2CASE(rb_, tb_) t2tile_dp(wr, row_bytes, xt, ldx, yt + r, ldy, \
	n, rb_, tb_)
				switch ((T - t >= T2_TB ? T2_TB : T - t) * 2 +
				    (size_t)RB - 3) {
				case 0: T2CASE(1, 1); break;
				case 1: T2CASE(2, 1); break;
				case 2: T2CASE(1, 2); break;
				case 3: T2CASE(2, 2); break;
				case 4: T2CASE(1, 3); break;
				case 5: T2CASE(2, 3); break;
				case 6: T2CASE(1, 4); break;
				default: T2CASE(2, 4); break;
				}
#undef T2CASE
			}
		}
	}
}

void
bn_neon_dp_matvec_i8(const int8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r, i;

	for (r = 0; r < rows; r++, w += row_bytes) {
		int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);
		int32_t sum;

		for (i = 0; i + 32 <= n; i += 32) {
			a0 = vdotq_s32(a0, vld1q_s8(w + i), vld1q_s8(x + i));
			a1 = vdotq_s32(a1, vld1q_s8(w + i + 16),
			    vld1q_s8(x + i + 16));
		}
		for (; i + 16 <= n; i += 16)
			a0 = vdotq_s32(a0, vld1q_s8(w + i), vld1q_s8(x + i));
		sum = vaddvq_s32(vaddq_s32(a0, a1));
		for (; i < n; i++)
			sum += (int32_t)w[i] * x[i];
		y[r] = sum;
	}
}

AI int32x4_t
i8dot_sdot(int32x4_t acc, int8x16_t a, int8x16_t b)
{
	return vdotq_s32(acc, a, b);
}

/* scores_i8 (neon.h) with sdot */
void
bn_neon_dp_scores_i8(const int8_t *k, size_t rb, const int8_t *q,
    size_t ldq, const float *qs, size_t nh, float *y, size_t ldy, size_t n,
    size_t rows)
{
	scores_i8_rows(k, rb, q, ldq, qs, nh, y, ldy, n, rows, i8dot_sdot);
}
