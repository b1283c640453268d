/* x86.h: what kernels_avx2.c and kernels_avx512.c share (private to
 * kernels/x86/). */
#ifndef BN_X86_H
#define BN_X86_H

#include <immintrin.h>
#include <math.h>
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

/* 8 weights from element i of row w (f32, f16, bf16 or i8), widened to
 * f32. */
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
	case BN_DTYPE_I8:
		return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(
		    (const __m128i *)(p + i))));
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
	case BN_DTYPE_I8:
		return (float)(int8_t)p[i];
	default:
		memcpy(&f, p + 4 * i, 4);
		return f;
	}
}

/*
 * expf as glibc computes it (2.28 on, its FMA build: what a CPU with
 * AVX2 runs), 8 floats at once, in double: z = 32 x / ln 2; k =
 * round(z), from z + 1.5 2^52 in one fma; r = z - k in another; s =
 * 2^(k / 32) as the table's 2^(i / 32), i = k mod 32, with k / 32 added
 * to its exponent; y = s ((C0 r + C1) r^2 + (C2 r + 1)); rounded to
 * float.  Bit for bit where |x| < 88 (t_kernels compares it with libm's
 * expf); where not (x >= 2^6 * 1.375 or NaN) it returns a mask of the
 * lanes to recompute with expf.
 */
static const uint64_t exp2_32[32] __attribute__((unused)) = {
	/* 2^(i / 32) less i 2^47 */
	0x3ff0000000000000u, 0x3fefd9b0d3158574u, 0x3fefb5586cf9890fu,
	0x3fef9301d0125b51u, 0x3fef72b83c7d517bu, 0x3fef54873168b9aau,
	0x3fef387a6e756238u, 0x3fef1e9df51fdee1u, 0x3fef06fe0a31b715u,
	0x3feef1a7373aa9cbu, 0x3feedea64c123422u, 0x3feece086061892du,
	0x3feebfdad5362a27u, 0x3feeb42b569d4f82u, 0x3feeab07dd485429u,
	0x3feea47eb03a5585u, 0x3feea09e667f3bcdu, 0x3fee9f75e8ec5f74u,
	0x3feea11473eb0187u, 0x3feea589994cce13u, 0x3feeace5422aa0dbu,
	0x3feeb737b0cdc5e5u, 0x3feec49182a3f090u, 0x3feed503b23e255du,
	0x3feee89f995ad3adu, 0x3feeff76f2fb5e47u, 0x3fef199bdd85529cu,
	0x3fef3720dcef9069u, 0x3fef5818dcfba487u, 0x3fef7c97337b9b5fu,
	0x3fefa4afa2a490dau, 0x3fefd0765b6e4540u
};

AI __m128
expf4(__m128 x)
{
	const __m256d inv = _mm256_set1_pd(0x1.71547652b82fep+5);
	const __m256d shift = _mm256_set1_pd(0x1.8p+52);
	__m256d xd = _mm256_cvtps_pd(x), kd, r, s, z, y;
	__m256i ki, t;

	kd = _mm256_fmadd_pd(inv, xd, shift);
	ki = _mm256_castpd_si256(kd);
	kd = _mm256_sub_pd(kd, shift);
	r = _mm256_fmsub_pd(inv, xd, kd);
	t = _mm256_i64gather_epi64((const long long *)exp2_32,
	    _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
	s = _mm256_castsi256_pd(_mm256_add_epi64(t,
	    _mm256_slli_epi64(ki, 47)));
	z = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.c6af84b912394p-20),
	    _mm256_set1_pd(0x1.ebfce50fac4f3p-13));
	y = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.62e42ff0c52d6p-6),
	    _mm256_set1_pd(1.0));
	y = _mm256_fmadd_pd(z, _mm256_mul_pd(r, r), y);
	return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

/* expf of 8 floats; *big: a bit per lane that glibc takes elsewhere
 * (|x| >= 88, infinities, NaN: bits 20-30 of x at 0x42b or more) */
AI __m256
expf8(__m256 x, int *big)
{
	__m256i top = _mm256_and_si256(_mm256_srli_epi32(
	    _mm256_castps_si256(x), 20), _mm256_set1_epi32(0x7ff));

	*big = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(top,
	    _mm256_set1_epi32(0x42a))));
	return _mm256_set_m128(expf4(_mm256_extractf128_ps(x, 1)),
	    expf4(_mm256_castps256_ps128(x)));
}

/*
 * Float products over rows read once from memory (attention's scores
 * over a KV cache, float weights), in kernels.h's order: blocks of 4
 * rows x up to TBMAX tokens of 8-lane accumulators (AVX2's 16 registers
 * hold 4 x 3, AVX-512's 32 hold 4 x 4); red4() reduces four rows'
 * accumulators at once, each by hsum8()'s tree.  The rows are
 * prefetched PF_BYTES ahead: the hardware's prefetcher alone kept a KV
 * cache at half the memory's bandwidth.
 */
#define PF_BYTES 4096

AI size_t
esize(int dtype)
{
	return dtype == BN_DTYPE_I8 ? 1 : dtype == BN_DTYPE_F16 ||
	    dtype == BN_DTYPE_BF16 ? 2 : 4;
}

/* the four sums of rows 0-3's accumulators, hsum8()'s tree in each */
AI __m128
red4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
	/* rows 0|1: a0+a4 a1+a5 a2+a6 a3+a7 of each */
	__m256 p01 = _mm256_add_ps(_mm256_permute2f128_ps(a0, a1, 0x20),
	    _mm256_permute2f128_ps(a0, a1, 0x31));
	__m256 p23 = _mm256_add_ps(_mm256_permute2f128_ps(a2, a3, 0x20),
	    _mm256_permute2f128_ps(a2, a3, 0x31));
	/* rows 0, 2 | 1, 3: (04+26) (15+37) of each */
	__m256 d = _mm256_add_ps(_mm256_shuffle_ps(p01, p23, 0x44),
	    _mm256_shuffle_ps(p01, p23, 0xee));
	/* rows 0, 2 | 1, 3 in lanes 0, 1 | 4, 5: their sums */
	__m256 e = _mm256_add_ps(_mm256_shuffle_ps(d, d, 0x88),
	    _mm256_shuffle_ps(d, d, 0xdd));

	return _mm_unpacklo_ps(_mm256_castps256_ps128(e),
	    _mm256_extractf128_ps(e, 1));
}

/* 4 RQ rows (w + r * rb) x TB tokens (x + t * ldx): y[t * ldy + r];
 * RQ * TB <= 8.  pf: prefetch the rows PF_BYTES ahead. */
AI void
fquad(int dtype, const char *w, size_t rb, const float *x, size_t ldx,
    float *y, size_t ldy, size_t n, int RQ, int TB, int pf)
{
	__m256 acc[8][4], xv[4], wv;
	size_t i, m = n - n % 8, es = esize(dtype);
	float s[4];
	int r, t, q, k;

	UNROLL
	for (r = 0; r < 4 * RQ; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			acc[r][t] = _mm256_setzero_ps();
	for (i = 0; i < m; i += 8) {
		if (pf && (i * es) % 64 == 0)
			UNROLL
			for (r = 0; r < 4 * RQ; r++)
				_mm_prefetch(w + r * rb + i * es + PF_BYTES,
				    _MM_HINT_T0);
		UNROLL
		for (t = 0; t < TB; t++)
			xv[t] = _mm256_loadu_ps(x + t * ldx + i);
		UNROLL
		for (r = 0; r < 4 * RQ; r++) {
			wv = wload(dtype, w + r * rb, i);
			UNROLL
			for (t = 0; t < TB; t++)
				acc[r][t] = _mm256_fmadd_ps(wv, xv[t],
				    acc[r][t]);
		}
	}
	UNROLL
	for (q = 0; q < RQ; q++)
		UNROLL
		for (t = 0; t < TB; t++) {
			__m128 v = red4(acc[4 * q][t], acc[4 * q + 1][t],
			    acc[4 * q + 2][t], acc[4 * q + 3][t]);

			if (m == n) {
				_mm_storeu_ps(y + t * ldy + 4 * q, v);
				continue;
			}
			_mm_storeu_ps(s, v);
			for (k = 0; k < 4; k++) {
				for (i = m; i < n; i++)
					s[k] = fmaf(wget1(dtype, w + (4 * q +
					    k) * rb, i), x[t * ldx + i], s[k]);
				y[t * ldy + 4 * q + k] = s[k];
			}
		}
}

/* one row x TB tokens */
AI void
fone(int dtype, const char *w, const float *x, size_t ldx, float *y,
    size_t ldy, size_t n, int TB)
{
	__m256 acc[4];
	size_t i, m = n - n % 8;
	float s;
	int t;

	UNROLL
	for (t = 0; t < TB; t++)
		acc[t] = _mm256_setzero_ps();
	for (i = 0; i < m; i += 8) {
		__m256 wv = wload(dtype, w, i);

		UNROLL
		for (t = 0; t < TB; t++)
			acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x +
			    t * ldx + i), acc[t]);
	}
	UNROLL
	for (t = 0; t < TB; t++) {
		s = hsum8(acc[t]);
		for (i = m; i < n; i++)
			s = fmaf(wget1(dtype, w, i), x[t * ldx + i], s);
		y[t * ldy] = s;
	}
}

/* rows [r0, r1) x TB tokens; 8 rows a step where TB == 1 (8 chains) */
AI void
frows(int dtype, const char *w, size_t rb, const float *x, size_t ldx,
    float *y, size_t ldy, size_t n, size_t r0, size_t r1, int TB, int pf)
{
	size_t r = r0;

	if (TB == 1)
		for (; r + 8 <= r1; r += 8)
			fquad(dtype, w + r * rb, rb, x, ldx, y + r, ldy, n, 2,
			    1, pf);
	for (; r + 4 <= r1; r += 4)
		fquad(dtype, w + r * rb, rb, x, ldx, y + r, ldy, n, 1, TB,
		    pf);
	for (; r < r1; r++)
		fone(dtype, w + r * rb, x, ldx, y + r, ldy, n, TB);
}

/* Weight rows are taken in chunks of about CHUNK_BYTES: they stay in L2
 * while every token passes over them.  Rows a chunk, a multiple of rb. */
#define CHUNK_BYTES (128 * 1024)

static inline size_t
chunk_rows(size_t row_bytes, size_t rb)
{
	size_t c = row_bytes ? CHUNK_BYTES / row_bytes / rb * rb : 0;

	return c > rb ? c : rb;
}

/* The tokens TBMAX (3 or 4) at a time over each chunk of rows; the
 * first pass over a chunk prefetches. */
AI void
matmul_f_t(int dtype, const void *w, size_t rb, const float *x,
    size_t ldx, float *y, size_t ldy, size_t n, size_t rows, size_t T,
    int TBMAX)
{
	size_t r0, r1, t, ch = chunk_rows(rb, 4);

	if (T <= (size_t)TBMAX)
		ch = rows;
	for (r0 = 0; r0 < rows; r0 = r1) {
		r1 = rows - r0 > ch ? r0 + ch : rows;
		for (t = 0; t < T; t += (size_t)TBMAX) {
			const float *xt = x + t * ldx;
			float *yt = y + t * ldy;

			switch (T - t < (size_t)TBMAX ? T - t : (size_t)TBMAX) {
			case 1:
				frows(dtype, w, rb, xt, ldx, yt, ldy, n, r0, r1,
				    1, t == 0);
				break;
			case 2:
				frows(dtype, w, rb, xt, ldx, yt, ldy, n, r0, r1,
				    2, t == 0);
				break;
			case 3:
				frows(dtype, w, rb, xt, ldx, yt, ldy, n, r0, r1,
				    3, t == 0);
				break;
			default:	/* 4: TBMAX 4 only */
				frows(dtype, w, rb, xt, ldx, yt, ldy, n, r0, r1,
				    TBMAX, t == 0);
				break;
			}
		}
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
/* c 4-byte values from src to dst: c == full, the usual case, a
 * constant size once inlined rather than a call of libc's memcpy */
AI void
put4(void *dst, const void *src, size_t c, size_t full)
{
	if (c == full)
		memcpy(dst, src, full * 4);
	else
		memcpy(dst, src, c * 4);
}

/* scores_i8 over nh heads in tiles of 4, then 2, then 1 heads:
 * tile(HB, k, rb, q, ldq, qs, y, ldy, n, rows) with HB a constant */
#define SCORES_I8_HEADS(tile, k, rb, q, ldq, qs, nh, y, ldy, n, rows)	\
do {									\
	size_t h_, hb_;							\
									\
	for (h_ = 0; h_ < (nh) && (rows) > 0; h_ += hb_) {		\
		hb_ = (nh) - h_ >= 4 ? 4 : (nh) - h_ >= 2 ? 2 : 1;	\
		if (hb_ == 4)						\
			tile(4, k, rb, (q) + h_ * (ldq), ldq, (qs) + h_,	\
			    (y) + h_ * (ldy), ldy, n, rows);		\
		else if (hb_ == 2)					\
			tile(2, k, rb, (q) + h_ * (ldq), ldq, (qs) + h_,	\
			    (y) + h_ * (ldy), ldy, n, rows);		\
		else							\
			tile(1, k, rb, (q) + h_ * (ldq), ldq, (qs) + h_,	\
			    (y) + h_ * (ldy), ldy, n, rows);		\
	}								\
} while (0)

void bn_avx512_scores_i8(const int8_t *k, size_t rb, const int8_t *q,
    size_t ldq, const float *qs, size_t nh, float *y, size_t ldy, size_t n,
    size_t rows);
void bn_avx512_matmul_i8(const int8_t *w, size_t rb, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T);
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
