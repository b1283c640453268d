/* x86.h: what kernels_avx2.c and kernels_avx512.c share (private to
 * kernels/x86/). */
#ifndef BN_X86_H
#define BN_X86_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dtype.h"

#define AI static inline __attribute__((always_inline))
/* The r/t/k loops below have constant trip counts once inlined; fully
 * unrolled, their accumulator arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 16")

/* ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)) */
AI float
hsum8(__m256 a)
{
	__m128 v = _mm_add_ps(_mm256_castps256_ps128(a),
	    _mm256_extractf128_ps(a, 1));	/* a0+a4 a1+a5 a2+a6 a3+a7 */
	v = _mm_add_ps(v, _mm_movehl_ps(v, v));	/* (04+26) (15+37) */
	v = _mm_add_ss(v, _mm_movehdup_ps(v));
	return _mm_cvtss_f32(v);
}

/* 8 weights from element i of row w, widened to f32. */
AI __m256
wload(int dtype, const void *w, size_t i)
{
	const char *p = w;

	switch (dtype) {
	case BN_DTYPE_F16:
		return _mm256_cvtph_ps(_mm_loadu_si128(
		    (const __m128i *)(p + 2 * i)));
	case BN_DTYPE_BF16:
		return _mm256_castsi256_ps(_mm256_slli_epi32(
		    _mm256_cvtepu16_epi32(_mm_loadu_si128(
		    (const __m128i *)(p + 2 * i))), 16));
	default:
		return _mm256_loadu_ps((const float *)(p + 4 * i));
	}
}

AI float
wget1(int dtype, const void *w, size_t i)
{
	const char *p = w;
	uint16_t h;
	uint32_t u;
	float f;

	switch (dtype) {
	case BN_DTYPE_F16:
		memcpy(&h, p + 2 * i, 2);
		return _cvtsh_ss(h);
	case BN_DTYPE_BF16:
		memcpy(&h, p + 2 * i, 2);
		u = (uint32_t)h << 16;
		memcpy(&f, &u, 4);
		return f;
	default:
		memcpy(&f, p + 4 * i, 4);
		return f;
	}
}

/* The AVX-512 VNNI integer kernels (kernels_avx512.c), for
 * bn_kernels_avx512 only: call them only where the CPU has AVX-512 F,
 * BW, VL and VNNI and the OS saves the zmm state. */
void bn_avx512_matvec_t2(const uint8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);
void bn_avx512_matmul_t2(const uint8_t *w, size_t row_bytes,
    const int8_t *x, size_t ldx, int32_t *y, size_t ldy, size_t n,
    size_t rows, size_t T);
void bn_avx512_matvec_t3(const uint8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);
void bn_avx512_t3_t2(const uint8_t *w, size_t row_bytes, uint8_t *out,
    size_t out_row_bytes, size_t n, size_t rows);
void bn_avx512_matvec_q4(const uint8_t *w, size_t row_bytes,
    const uint16_t *s, size_t s_stride, const int8_t *x, float *y,
    size_t n, size_t rows);
void bn_avx512_matvec_i8(const int8_t *w, size_t row_bytes,
    const int8_t *x, int32_t *y, size_t n, size_t rows);
void bn_avx512_matvec_f(int dtype, const void *w, size_t row_bytes,
    const float *x, float *y, size_t n, size_t rows);
void bn_avx512_matmul_f(int dtype, const void *w, size_t row_bytes,
    const float *x, size_t ldx, float *y, size_t ldy, size_t n,
    size_t rows, size_t T);
void bn_avx512_axpy_rows(int dtype, float *y, const float *a,
    const void *x, size_t row_bytes, size_t n, size_t rows);
void bn_avx512_axpy_rows_h(int dtype, float *y, size_t ldy,
    const float *a, size_t lda, size_t nh, const void *x,
    size_t row_bytes, size_t n, size_t rows);

#endif
