/* gemm_avx2.c: the AVX2/FMA micro-kernel of gemm.h: a 6 x 16 tile in
 * twelve accumulators, two loads and six broadcasts per k. */
#include <immintrin.h>

#include "gemm.h"

void
bn_gemm_ukernel_avx2(size_t kc, const float *ap, const float *bp, float *c,
    size_t ldc, size_t mr, size_t nr, int acc)
{
	__m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
	__m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
	__m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
	__m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
	__m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
	__m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
	float t[BN_GEMM_MR][BN_GEMM_NR];
	size_t k, i, j;

	for (k = 0; k < kc; k++, ap += BN_GEMM_MR, bp += BN_GEMM_NR) {
		__m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
		__m256 a;

		a = _mm256_broadcast_ss(ap + 0);
		c00 = _mm256_fmadd_ps(a, b0, c00);
		c01 = _mm256_fmadd_ps(a, b1, c01);
		a = _mm256_broadcast_ss(ap + 1);
		c10 = _mm256_fmadd_ps(a, b0, c10);
		c11 = _mm256_fmadd_ps(a, b1, c11);
		a = _mm256_broadcast_ss(ap + 2);
		c20 = _mm256_fmadd_ps(a, b0, c20);
		c21 = _mm256_fmadd_ps(a, b1, c21);
		a = _mm256_broadcast_ss(ap + 3);
		c30 = _mm256_fmadd_ps(a, b0, c30);
		c31 = _mm256_fmadd_ps(a, b1, c31);
		a = _mm256_broadcast_ss(ap + 4);
		c40 = _mm256_fmadd_ps(a, b0, c40);
		c41 = _mm256_fmadd_ps(a, b1, c41);
		a = _mm256_broadcast_ss(ap + 5);
		c50 = _mm256_fmadd_ps(a, b0, c50);
		c51 = _mm256_fmadd_ps(a, b1, c51);
	}
	/* the full tile is stored row by row with no address taken of an
	 * accumulator: that would keep all twelve in memory in the loop
	 * above (a store after every FMA, half the speed) */
	if (mr == BN_GEMM_MR && nr == BN_GEMM_NR) {
#define ROW(i, lo, hi) do { \
		float *p_ = c + (i) * ldc; \
		if (acc) { \
			lo = _mm256_add_ps(_mm256_loadu_ps(p_), lo); \
			hi = _mm256_add_ps(_mm256_loadu_ps(p_ + 8), hi); \
		} \
		_mm256_storeu_ps(p_, lo); \
		_mm256_storeu_ps(p_ + 8, hi); \
	} while (0)
		ROW(0, c00, c01);
		ROW(1, c10, c11);
		ROW(2, c20, c21);
		ROW(3, c30, c31);
		ROW(4, c40, c41);
		ROW(5, c50, c51);
#undef ROW
		return;
	}
	_mm256_storeu_ps(t[0], c00); _mm256_storeu_ps(t[0] + 8, c01);
	_mm256_storeu_ps(t[1], c10); _mm256_storeu_ps(t[1] + 8, c11);
	_mm256_storeu_ps(t[2], c20); _mm256_storeu_ps(t[2] + 8, c21);
	_mm256_storeu_ps(t[3], c30); _mm256_storeu_ps(t[3] + 8, c31);
	_mm256_storeu_ps(t[4], c40); _mm256_storeu_ps(t[4] + 8, c41);
	_mm256_storeu_ps(t[5], c50); _mm256_storeu_ps(t[5] + 8, c51);
	for (i = 0; i < mr; i++)
		for (j = 0; j < nr; j++)
			c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] :
			    t[i][j];
}
