/* kernels_avx2.c: AVX2 + FMA + F16C kernels, bit-identical to ref.
 *
 * Only kernels/x86/ is built with -mavx2 -mfma -mf16c.  Float dot
 * products keep kernels.h's order: one 8-lane accumulator per output
 * (lane l takes elements 8j + l, acc = fma(w, x, acc)), the fixed
 * reduction tree in hsum8(), then the tail with scalar fmaf.  Blocking
 * over rows and tokens only changes which outputs are computed side by
 * side, never the order within one output.  The ternary kernels are
 * integer: sum((c - 1) * x) = sum(c * x) - sum(x), with c in 0..2 as
 * the unsigned operand of _mm256_maddubs_epi16. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "gemm.h"
#include "kernels.h"
#include "x86.h"

AI int32_t
hsum8i(__m256i a)
{
	__m128i v = _mm_add_epi32(_mm256_castsi256_si128(a),
	    _mm256_extracti128_si256(a, 1));

	v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
	v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
	return _mm_cvtsi128_si32(v);
}

static void
matmul_f_avx2(int dtype, const void *w, size_t row_bytes, const float *x,
    size_t ldx, float *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	BN_ROW_TYPE(matmul_f_t, dtype, w, row_bytes, x, ldx, y, ldy, n, rows, T,
	    3);
}

static void
matvec_f_avx2(int dtype, const void *w, size_t row_bytes, const float *x,
    float *y, size_t n, size_t rows)
{
	matmul_f_avx2(dtype, w, row_bytes, x, 0, y, 0, n, rows, 1);
}

/* sum(x[0..n)), n a multiple of 128, exactly. */
AI int32_t
sum_i8(const int8_t *x, size_t n)
{
	const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
	__m256i acc = _mm256_setzero_si256();
	size_t i;

	for (i = 0; i < n; i += 32)
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(one16,
		    _mm256_maddubs_epi16(one8,
		    _mm256_loadu_si256((const __m256i *)(x + i)))));
	return hsum8i(acc);
}

/* Blocks per int16 accumulation: one maddubs lane is at most
 * 2 * 3 * 128 = 768 in magnitude (code 3 included), 4 per block, so
 * 8 blocks stay below 32767. */
#define T2_GROUP 8

/* R rows of one token: y[r] = sum(c * x) - sx. */
AI void
t2vec(const uint8_t *w, size_t rb, const int8_t *x, int32_t sx, int32_t *y,
    size_t n, int R)
{
	const __m256i m3 = _mm256_set1_epi8(3), one16 = _mm256_set1_epi16(1);
	__m256i acc[8], p[8], xv[4], q, c;
	size_t b, nb = n / BN_T2_BLOCK, g;
	int r, k;

	UNROLL
	for (r = 0; r < R; r++)
		acc[r] = _mm256_setzero_si256();
	for (b = 0; b < nb; b = g) {
		g = b + T2_GROUP < nb ? b + T2_GROUP : nb;
		UNROLL
		for (r = 0; r < R; r++)
			p[r] = _mm256_setzero_si256();
		for (; b < g; b++) {
			UNROLL
			for (k = 0; k < 4; k++)
				xv[k] = _mm256_loadu_si256((const __m256i *)
				    (x + b * BN_T2_BLOCK + 32 * k));
			UNROLL
			for (r = 0; r < R; r++) {
				/* rows are short streams the hardware
				 * prefetcher cannot learn: fetch the same
				 * place of the next group of R rows */
				_mm_prefetch((const char *)(w + (r + 4 * R) * rb +
				    32 * b), _MM_HINT_T0);
				q = _mm256_loadu_si256((const __m256i *)
				    (w + r * rb + 32 * b));
				c = _mm256_and_si256(q, m3);
				p[r] = _mm256_add_epi16(p[r],
				    _mm256_maddubs_epi16(c, xv[0]));
				c = _mm256_and_si256(
				    _mm256_srli_epi16(q, 2), m3);
				p[r] = _mm256_add_epi16(p[r],
				    _mm256_maddubs_epi16(c, xv[1]));
				c = _mm256_and_si256(
				    _mm256_srli_epi16(q, 4), m3);
				p[r] = _mm256_add_epi16(p[r],
				    _mm256_maddubs_epi16(c, xv[2]));
				c = _mm256_and_si256(
				    _mm256_srli_epi16(q, 6), m3);
				p[r] = _mm256_add_epi16(p[r],
				    _mm256_maddubs_epi16(c, xv[3]));
			}
		}
		UNROLL
		for (r = 0; r < R; r++)
			acc[r] = _mm256_add_epi32(acc[r],
			    _mm256_madd_epi16(p[r], one16));
	}
	UNROLL
	for (r = 0; r < R; r++)
		y[r] = hsum8i(acc[r]) - sx;
}

static void
matvec_t2_avx2(const uint8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	int32_t sx = sum_i8(x, n);
	size_t r;

	/* One row at a time: the weights stream through memory in order,
	 * which the hardware prefetcher follows (x stays in L1).  Taking
	 * 8 rows at once reads 8 short interleaved streams instead and
	 * reached 9 GB/s from DRAM against 23 GB/s this way. */
	for (r = 0; r < rows; r++)
		t2vec(w + r * row_bytes, row_bytes, x, sx, y + r, n, 1);
}

/* Keep v in a register here: an empty asm the compiler cannot look
 * into.  Without it gcc 12 reassociates the int16 sums below into
 * trees whose temporaries no longer fit the 16 ymm registers, spills
 * the accumulators to the stack on every block and runs at about 2/3
 * of the speed. */
#define KEEP(v) __asm__("" : "+x"(v))

/* RB rows x TB tokens over all n: y[t * ldy + r] = sum(c * x) - sx[t].
 * For each 32-byte slice k of a block, the codes of a row are extracted
 * once and multiplied with TB tokens, x read straight from memory (it
 * stays in L1 while the rows go by).  RB * TB <= 12 int16 partial sums
 * in registers; their int32 sums live in acc[] on the stack, updated
 * once per group of blocks. */
AI void
t2tile(const uint8_t *w, size_t rb, const int8_t *x, size_t ldx,
    const int32_t *sx, int32_t *y, size_t ldy, size_t n, int RB, int TB)
{
	const __m256i m3 = _mm256_set1_epi8(3), one16 = _mm256_set1_epi16(1);
	__m256i p[2][6], c, *a;
	__attribute__((aligned(32))) int32_t acc[2][6][8];
	size_t b, nb = n / BN_T2_BLOCK, g;
	int r, t, k;

	memset(acc, 0, sizeof acc);
	for (b = 0; b < nb; b = g) {
		g = b + T2_GROUP < nb ? b + T2_GROUP : nb;
		UNROLL
		for (r = 0; r < RB; r++)
			UNROLL
			for (t = 0; t < TB; t++)
				p[r][t] = _mm256_setzero_si256();
		for (; b < g; b++) {
			UNROLL
			for (r = 0; r < RB; r++)
				_mm_prefetch((const char *)(w + (r + RB) * rb +
				    32 * b), _MM_HINT_T0);
			UNROLL
			for (r = 0; r < RB; r++)
				UNROLL
				for (k = 0; k < 4; k++) {
					c = _mm256_loadu_si256((const __m256i *)
					    (w + r * rb + 32 * b));
					c = _mm256_and_si256(_mm256_srli_epi16(
					    c, 2 * k), m3);
					UNROLL
					for (t = 0; t < TB; t++) {
						p[r][t] = _mm256_add_epi16(
						    p[r][t],
						    _mm256_maddubs_epi16(c,
						    _mm256_loadu_si256(
						    (const __m256i *)(x +
						    t * ldx + b * BN_T2_BLOCK +
						    32 * k))));
						KEEP(p[r][t]);
					}
				}
		}
		UNROLL
		for (r = 0; r < RB; r++)
			UNROLL
			for (t = 0; t < TB; t++) {
				a = (__m256i *)acc[r][t];
				_mm256_store_si256(a, _mm256_add_epi32(
				    _mm256_load_si256(a),
				    _mm256_madd_epi16(p[r][t], one16)));
			}
	}
	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			y[t * ldy + r] = hsum8i(_mm256_load_si256(
			    (const __m256i *)acc[r][t])) - sx[t];
}

/* Rows [0, rows) of TB tokens, two at a time. */
AI void
t2rows(const uint8_t *w, size_t rb, const int8_t *x, size_t ldx,
    const int32_t *sx, int32_t *y, size_t ldy, size_t n, size_t rows,
    int TB)
{
	size_t r;

	for (r = 0; r + 2 <= rows; r += 2)
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, 2, TB);
	if (r < rows)
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, 1, TB);
}

/* Tokens per tile: 6 while 6 rows of x fit in L1 with room to spare
 * (n <= 4096: 24 KiB), else 4 (the FFN down projection, n = 6912). */
#define T2_TB 6
#define T2_TB_BIG 4
#define T2_TB_MAXN 4096

static void
matmul_t2_avx2(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t r0, r1, t, tt, nt, ch = chunk_rows(row_bytes, 2);
	size_t tb = n <= T2_TB_MAXN ? T2_TB : T2_TB_BIG;
	int32_t sx[T2_TB];

	/* a chunk of rows stays in L2 while every token passes over it;
	 * within it, tiles of 2 rows x tb tokens */
	for (r0 = 0; r0 < rows; r0 = r1) {
		const uint8_t *wr = w + r0 * row_bytes;

		r1 = rows - r0 > ch ? r0 + ch : rows;
		for (t = 0; t < T; t += nt) {
			const int8_t *xt = x + t * ldx;
			int32_t *yt = y + t * ldy + r0;

			nt = T - t < tb ? T - t : tb;
			for (tt = 0; tt < nt; tt++)
				sx[tt] = sum_i8(xt + tt * ldx, n);
			switch (nt) {
			case 6:
				t2rows(wr, row_bytes, xt, ldx, sx, yt, ldy, n,
				    r1 - r0, 6);
				break;
			case 5:
				t2rows(wr, row_bytes, xt, ldx, sx, yt, ldy, n,
				    r1 - r0, 5);
				break;
			case 4:
				t2rows(wr, row_bytes, xt, ldx, sx, yt, ldy, n,
				    r1 - r0, 4);
				break;
			case 3:
				t2rows(wr, row_bytes, xt, ldx, sx, yt, ldy, n,
				    r1 - r0, 3);
				break;
			case 2:
				t2rows(wr, row_bytes, xt, ldx, sx, yt, ldy, n,
				    r1 - r0, 2);
				break;
			default:
				t2rows(wr, row_bytes, xt, ldx, sx, yt, ldy, n,
				    r1 - r0, 1);
				break;
			}
		}
	}
}

/* t3k (kernels.h): m_k+1 = 3 m_k mod 256 in byte adds; the codes are
 * [m >= 86] + [m >= 171] (unsigned compares as max, then equality). */
AI __m256i
times3(__m256i m)
{
	return _mm256_add_epi8(m, _mm256_add_epi8(m, m));
}

AI __m256i
t3codes(__m256i m)
{
	__m256i a = _mm256_cmpeq_epi8(_mm256_max_epu8(m,
	    _mm256_set1_epi8(86)), m);
	__m256i b = _mm256_cmpeq_epi8(_mm256_max_epu8(m,
	    _mm256_set1_epi8((char)171)), m);

	return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(a, b));
}

/* Blocks per int16 accumulation: ten maddubs of codes <= 2 a block,
 * each lane at most 2 * 2 * 128 = 512 in magnitude: 6 blocks < 32767. */
#define T3_GROUP 6

/* One row at a time, as matvec_t2: each 64-byte block as two 32-byte
 * halves (elements 64k + j and 64k + 32 + j). */
static void
matvec_t3_avx2(const uint8_t *w, size_t rb, const int8_t *x, int32_t *y,
    size_t n, size_t rows)
{
	const __m256i one16 = _mm256_set1_epi16(1);
	size_t nb = (n + BN_T3K_BLOCK - 1) / BN_T3K_BLOCK, r, b, g, k, kn;
	int32_t sx = sum_i8(x, n);
	__m256i acc, p, lo, hi;
	const uint8_t *q;
	const int8_t *xb;

	for (r = 0; r < rows; r++) {
		q = w + r * rb;
		acc = _mm256_setzero_si256();
		for (b = 0; b < nb; b = g) {
			g = b + T3_GROUP < nb ? b + T3_GROUP : nb;
			p = _mm256_setzero_si256();
			for (; b < g; b++) {
				_mm_prefetch((const char *)(q + 4 * rb + 64 * b),
				    _MM_HINT_T0);
				xb = x + b * BN_T3K_BLOCK;
				kn = n - b * BN_T3K_BLOCK >= BN_T3K_BLOCK ? 5 :
				    (n - b * BN_T3K_BLOCK) / 64;
				lo = _mm256_loadu_si256((const __m256i *)
				    (q + 64 * b));
				hi = _mm256_loadu_si256((const __m256i *)
				    (q + 64 * b + 32));
				for (k = 0; k < kn; k++) {
					if (k > 0) {
						lo = times3(lo);
						hi = times3(hi);
					}
					p = _mm256_add_epi16(p,
					    _mm256_maddubs_epi16(t3codes(lo),
					    _mm256_loadu_si256((const __m256i *)
					    (xb + 64 * k))));
					p = _mm256_add_epi16(p,
					    _mm256_maddubs_epi16(t3codes(hi),
					    _mm256_loadu_si256((const __m256i *)
					    (xb + 64 * k + 32))));
				}
			}
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, one16));
		}
		y[r] = hsum8i(acc) - sx;
	}
}

/* Each group of 64 codes is half a t2 block: codes j and 32 + j go to
 * byte j at bits 4h and 4h + 2 (h: which half). */
static void
t3_t2_avx2(const uint8_t *w, size_t rb, uint8_t *out, size_t ob, size_t n,
    size_t rows)
{
	size_t r, g, ng = n / 64;
	__m256i lo = _mm256_setzero_si256(), hi = lo, t, prev = lo;
	const uint8_t *q;

	for (r = 0; r < rows; r++) {
		q = w + r * rb;
		for (g = 0; g < ng; g++) {
			if (g % 5 == 0) {
				lo = _mm256_loadu_si256((const __m256i *)
				    (q + 64 * (g / 5)));
				hi = _mm256_loadu_si256((const __m256i *)
				    (q + 64 * (g / 5) + 32));
			} else {
				lo = times3(lo);
				hi = times3(hi);
			}
			t = _mm256_or_si256(t3codes(lo),
			    _mm256_slli_epi16(t3codes(hi), 2));
			if (g % 2 == 0)
				prev = t;
			else
				_mm256_storeu_si256((__m256i *)(out + r * ob +
				    32 * (g / 2)), _mm256_or_si256(prev,
				    _mm256_slli_epi16(t, 4)));
		}
	}
}

/* q4 (kernels.h): each group as two halves of 8 blocks (bytes 0-31 and
 * 32-63 of each slice), maddubs and madd leaving a block's sum in each
 * int32 lane; a short last group in scalar code, the same fmaf a lane. */
static void
matvec_q4_avx2(const uint8_t *w, size_t row_bytes, const uint16_t *s,
    size_t s_stride, const int8_t *x, float *y, size_t n, size_t rows)
{
	_Alignas(32) int8_t xp[BN_Q4_MAXN];
	_Alignas(32) int32_t xs8[BN_Q4_MAXN / BN_Q4_BLOCK];
	_Alignas(32) float fa[16];
	const __m256i m4 = _mm256_set1_epi8(0x0f), one16 = _mm256_set1_epi16(1);
	size_t nb = n / BN_Q4_BLOCK, r, g, G, c, L, i, b;
	__m256i acc, v;
	__m256 f[2];
	const uint8_t *q, *wg;
	const int8_t *xg;
	const uint16_t *sr;
	int32_t isum;
	int h;

	bn_q4_prep(x, n, xp, xs8);
	for (r = 0; r < rows; r++) {
		q = w + r * row_bytes;
		sr = s + r * s_stride;
		f[0] = f[1] = _mm256_setzero_ps();
		for (g = 0; 16 * g + 16 <= nb; g++) {
			wg = q + 256 * g;
			xg = xp + 512 * g;
			_mm_prefetch((const char *)(wg + 4 * row_bytes),
			    _MM_HINT_T0);
			_mm_prefetch((const char *)(wg + 4 * row_bytes + 64),
			    _MM_HINT_T0);
			_mm_prefetch((const char *)(wg + 4 * row_bytes + 128),
			    _MM_HINT_T0);
			_mm_prefetch((const char *)(wg + 4 * row_bytes + 192),
			    _MM_HINT_T0);
			for (h = 0; h < 2; h++) {
				acc = _mm256_setzero_si256();
				for (c = 0; c < 4; c++) {
					v = _mm256_loadu_si256((const __m256i *)
					    (wg + 64 * c + 32 * h));
					acc = _mm256_add_epi32(acc,
					    _mm256_madd_epi16(_mm256_maddubs_epi16(
					    _mm256_and_si256(v, m4),
					    _mm256_loadu_si256((const __m256i *)
					    (xg + 128 * c + 32 * h))), one16));
					acc = _mm256_add_epi32(acc,
					    _mm256_madd_epi16(_mm256_maddubs_epi16(
					    _mm256_and_si256(_mm256_srli_epi16(v,
					    4), m4), _mm256_loadu_si256(
					    (const __m256i *)(xg + 128 * c + 64 +
					    32 * h))), one16));
				}
				acc = _mm256_sub_epi32(acc, _mm256_loadu_si256(
				    (const __m256i *)(xs8 + 16 * g + 8 * h)));
				f[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc),
				    _mm256_cvtph_ps(_mm_loadu_si128(
				    (const __m128i *)(sr + 16 * g + 8 * h))),
				    f[h]);
			}
		}
		if (16 * g < nb) {	/* the short last group */
			_mm256_store_ps(fa, f[0]);
			_mm256_store_ps(fa + 8, f[1]);
			G = nb - 16 * g;
			for (L = 0; L < G; L++) {
				b = 16 * g + L;
				for (isum = 0, i = 0; i < BN_Q4_BLOCK; i++)
					isum += bn_q4_get(q, n, BN_Q4_BLOCK * b +
					    i) * x[BN_Q4_BLOCK * b + i];
				fa[L] = fmaf((float)isum, bn_f16_to_f32(sr[b]),
				    fa[L]);
			}
			f[0] = _mm256_load_ps(fa);
			f[1] = _mm256_load_ps(fa + 8);
		}
		y[r] = hsum8(_mm256_add_ps(f[0], f[1]));
	}
}

static void
matmul_t3_avx2(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_t3_chunked(&bn_kernels_avx2, w, row_bytes, x, ldx, y, ldy,
	    n, rows, T);
}

static void
matmul_t3_avx512(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_t3_chunked(&bn_kernels_avx512, w, row_bytes, x, ldx, y, ldy,
	    n, rows, T);
}

/* m = max |x| ignoring NaN, as ref's "v > m ? v : m" (max is exact, so
 * the lane structure does not matter); q = clamp(round(x * s)). */
static float
quant_i8_avx2(const float *x, int8_t *q, size_t n)
{
	const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
	const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256 mv = _mm256_setzero_ps(), sv, v[4];
	__m128 m4;
	__m256i a, b;
	float m, s, f;
	size_t i;
	int k;

	for (i = 0; i + 8 <= n; i += 8)	/* max_ps(a, m): NaN a keeps m */
		mv = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i),
		    absm), mv);
	m4 = _mm_max_ps(_mm256_castps256_ps128(mv),
	    _mm256_extractf128_ps(mv, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
	m = _mm_cvtss_f32(m4);
	for (; i < n; i++) {
		f = fabsf(x[i]);
		m = f > m ? f : m;
	}
	s = 127.0f / (m > 1e-5f ? m : 1e-5f);
	sv = _mm256_set1_ps(s);
	for (i = 0; i + 32 <= n; i += 32) {
		UNROLL
		for (k = 0; k < 4; k++) {
			v[k] = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(
			    x + i + 8 * k), sv),
			    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
			v[k] = _mm256_min_ps(_mm256_max_ps(v[k], lo), hi);
		}
		a = _mm256_packs_epi32(_mm256_cvtps_epi32(v[0]),
		    _mm256_cvtps_epi32(v[1]));
		b = _mm256_packs_epi32(_mm256_cvtps_epi32(v[2]),
		    _mm256_cvtps_epi32(v[3]));
		a = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b),
		    perm);
		_mm256_storeu_si256((__m256i *)(q + i), a);
	}
	for (; i < n; i++) {
		f = nearbyintf(x[i] * s);
		f = f > -128.0f ? f : -128.0f;
		f = f < 127.0f ? f : 127.0f;
		q[i] = (int8_t)f;
	}
	return s;
}

static float
dot_f32_avx2(const float *a, const float *b, size_t n)
{
	__m256 acc = _mm256_setzero_ps();
	size_t i, m = n - n % 8;
	float s;

	for (i = 0; i < m; i += 8)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
		    _mm256_loadu_ps(b + i), acc);
	s = hsum8(acc);
	for (; i < n; i++)
		s = fmaf(a[i], b[i], s);
	return s;
}

AI void
rmsnorm_t(float *y, const float *x, int dtype, const void *w, size_t n,
    float r)
{
	__m256 rv = _mm256_set1_ps(r);
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_mul_ps(wload(dtype, w, i),
		    _mm256_mul_ps(_mm256_loadu_ps(x + i), rv)));
	for (; i < n; i++)
		y[i] = wget1(dtype, w, i) * (x[i] * r);
}

static void
rmsnorm_avx2(float *y, const float *x, int wdtype, const void *w, size_t n,
    float eps)
{
	float ss = dot_f32_avx2(x, x, n), r;

	r = 1.0f / sqrtf(ss / (float)n + eps);
	switch (wdtype) {
	case BN_DTYPE_F16:
		rmsnorm_t(y, x, BN_DTYPE_F16, w, n, r);
		break;
	case BN_DTYPE_BF16:
		rmsnorm_t(y, x, BN_DTYPE_BF16, w, n, r);
		break;
	default:
		rmsnorm_t(y, x, BN_DTYPE_F32, w, n, r);
		break;
	}
}

/* 8 rows a step (the divisions are most of it); the rest as ref */
static void
isum_f32_avx2(const int32_t *isum, const float *scale, float as, int div,
    float *y, size_t n)
{
	const __m256 a = _mm256_set1_ps(as);
	__m256 v, s;
	size_t r;

	for (r = 0; r + 8 <= n; r += 8) {
		v = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)
		    (isum + r)));
		s = _mm256_loadu_ps(scale + r);
		_mm256_storeu_ps(y + r, div ? _mm256_div_ps(v,
		    _mm256_mul_ps(a, s)) : _mm256_div_ps(_mm256_mul_ps(v, s),
		    a));
	}
	bn_kernels_ref.isum_f32(isum + r, scale + r, as, div, y + r, n - r);
}

static void
axpy_f32_avx2(float *y, float a, const float *x, size_t n)
{
	__m256 av = _mm256_set1_ps(a);
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(av,
		    _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] = fmaf(a, x[i], y[i]);
}

/* NV vectors of y (8 floats each, from element i0) kept in registers
 * while the rows pass: each element's fmaf chain in row order. */
AI void
arows(int dtype, float *y, const float *a, const char *x, size_t rb,
    size_t i0, size_t rows, int NV)
{
	__m256 acc[12], av;
	size_t r;
	int v;

	UNROLL
	for (v = 0; v < NV; v++)
		acc[v] = _mm256_loadu_ps(y + i0 + 8 * v);
	for (r = 0; r < rows; r++, x += rb) {
		av = _mm256_set1_ps(a[r]);
		UNROLL
		for (v = 0; v < NV; v++)
			acc[v] = _mm256_fmadd_ps(av, wload(dtype, x,
			    i0 + 8 * v), acc[v]);
	}
	UNROLL
	for (v = 0; v < NV; v++)
		_mm256_storeu_ps(y + i0 + 8 * v, acc[v]);
}

AI void
axpy_rows_t(int dtype, float *y, const float *a, const char *x, size_t rb,
    size_t n, size_t rows)
{
	size_t i = 0, r;

	for (; i + 96 <= n; i += 96)
		arows(dtype, y, a, x, rb, i, rows, 12);
	for (; i + 64 <= n; i += 64)
		arows(dtype, y, a, x, rb, i, rows, 8);
	for (; i + 32 <= n; i += 32)
		arows(dtype, y, a, x, rb, i, rows, 4);
	for (; i + 8 <= n; i += 8)
		arows(dtype, y, a, x, rb, i, rows, 1);
	for (; i < n; i++)
		for (r = 0; r < rows; r++)
			y[i] = fmaf(a[r], wget1(dtype, x + r * rb, i), y[i]);
}

static void
axpy_rows_avx2(int dtype, float *y, const float *a, const void *x,
    size_t row_bytes, size_t n, size_t rows)
{
	BN_ROW_TYPE(axpy_rows_t, dtype, y, a, x, row_bytes, n, rows);
}

#define AH_BLOCK 32

/* axpy_rows_h: NH heads x NV vectors of 8 columns in registers while
 * every row passes, each row's columns loaded once for the heads (4 x 2
 * accumulators and 4 broadcasts: 4 x 4 spilled to the stack and ran at
 * a third of the speed). */
AI void
arows_h(int dtype, float *y, size_t ldy, const float *a, size_t lda,
    const char *x, size_t rb, size_t i0, size_t rows, int NH, int NV)
{
	__m256 acc[4][2], av[4], xv;
	size_t r;
	int h, v;

	UNROLL
	for (h = 0; h < NH; h++)
		UNROLL
		for (v = 0; v < NV; v++)
			acc[h][v] = _mm256_loadu_ps(y + h * ldy + i0 + 8 * v);
	for (r = 0; r < rows; r++, x += rb) {
		/* the rows are a strided stream the prefetcher follows
		 * poorly (a KV cache from memory at 9 of 20 GB/s): these
		 * columns of the row a block on */
		_mm_prefetch(x + AH_BLOCK * rb + i0 * esize(dtype),
		    _MM_HINT_T0);
		UNROLL
		for (h = 0; h < NH; h++)
			av[h] = _mm256_broadcast_ss(a + h * lda + r);
		UNROLL
		for (v = 0; v < NV; v++) {
			xv = wload(dtype, x, i0 + 8 * v);
			UNROLL
			for (h = 0; h < NH; h++)
				acc[h][v] = _mm256_fmadd_ps(av[h], xv,
				    acc[h][v]);
		}
	}
	UNROLL
	for (h = 0; h < NH; h++)
		UNROLL
		for (v = 0; v < NV; v++)
			_mm256_storeu_ps(y + h * ldy + i0 + 8 * v, acc[h][v]);
}

AI void
axpy_rows_h_t(int dtype, float *y, size_t ldy, const float *a, size_t lda,
    size_t nh, const char *x, size_t rb, size_t n, size_t rows)
{
	size_t h = 0, i, r, hh;

	for (; h + 4 <= nh; h += 4) {
		/* blocks of rows, each in cache while its columns pass */
		for (r = 0; r < rows; r += AH_BLOCK)
			for (i = 0; i + 16 <= n; i += 16)
				arows_h(dtype, y + h * ldy, ldy, a + h * lda +
				    r, lda, x + r * rb, rb, i, rows - r <
				    AH_BLOCK ? rows - r : AH_BLOCK, 4, 2);
		for (i = n - n % 16; i + 8 <= n; i += 8)
			arows_h(dtype, y + h * ldy, ldy, a + h * lda, lda, x,
			    rb, i, rows, 4, 1);
		for (; i < n; i++)
			for (hh = h; hh < h + 4; hh++)
				for (r = 0; r < rows; r++)
					y[hh * ldy + i] = fmaf(a[hh * lda + r],
					    wget1(dtype, x + r * rb, i),
					    y[hh * ldy + i]);
	}
	for (; h < nh; h++)
		axpy_rows_t(dtype, y + h * ldy, a + h * lda, x, rb, n, rows);
}

static void
axpy_rows_h_avx2(int dtype, float *y, size_t ldy, const float *a,
    size_t lda, size_t nh, const void *x, size_t row_bytes, size_t n,
    size_t rows)
{
	BN_ROW_TYPE(axpy_rows_h_t, dtype, y, ldy, a, lda, nh, x, row_bytes, n,
	    rows);
}

/* softmax: the scaling with the running maxima, the exponentials
 * (glibc's expf, x86.h's expf8) and the division in vectors (max_ps(v,
 * m) is v > m ? v : m, as ref's comparison; which of two equal zeros
 * wins changes no x - m); the sum in order */
static void
softmax_avx2(float *x, size_t n, float scale, const float *pre,
    const float *post)
{
	__m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(-INFINITY);
	__m256 v, d;
	float mx, sum = 0, m[8];
	size_t i, e = n - n % 8;
	int l, big;

	for (i = 0; i < e; i += 8) {
		v = _mm256_loadu_ps(x + i);
		if (pre != NULL)
			v = _mm256_mul_ps(v, _mm256_loadu_ps(pre + i));
		v = _mm256_mul_ps(v, vs);
		_mm256_storeu_ps(x + i, v);
		vm = _mm256_max_ps(v, vm);
	}
	_mm256_storeu_ps(m, vm);
	mx = m[0];
	for (l = 1; l < 8; l++)
		if (m[l] > mx)
			mx = m[l];
	for (; i < n; i++) {
		x[i] = (pre != NULL ? x[i] * pre[i] : x[i]) * scale;
		if (x[i] > mx)
			mx = x[i];
	}
	for (i = 0; i < e; i += 8) {
		v = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(mx));
		_mm256_storeu_ps(m, v);
		_mm256_storeu_ps(x + i, expf8(v, &big));
		for (l = 0; big; l++, big >>= 1)
			if (big & 1)
				x[i + l] = expf(m[l]);
	}
	for (; i < n; i++)
		x[i] = expf(x[i] - mx);
	for (i = 0; i < n; i++)
		sum += x[i];
	d = _mm256_set1_ps(sum);
	for (i = 0; i < e; i += 8) {
		v = _mm256_div_ps(_mm256_loadu_ps(x + i), d);
		if (post != NULL)
			v = _mm256_mul_ps(v, _mm256_loadu_ps(post + i));
		_mm256_storeu_ps(x + i, v);
	}
	for (; i < n; i++) {
		x[i] = x[i] / sum;
		if (post != NULL)
			x[i] *= post[i];
	}
}

/*
 * scores_i8: both sides widened to int16 and multiplied in pairs into
 * int32 (exact).  HB heads x RB rows a step (HB * RB = 8), one
 * accumulator a pair, reduced together (lane hh * RB + rr); the tail of
 * n % 16 elements in scalars.  Rows past the end are the last one
 * again, not stored.  The key rows SC_PF rows on are prefetched (a q8
 * cache's keys come from memory at depth: 2B-4T shape at depth 2048, one
 * thread, 5.2-6.9 -> 3.9-4.4 ms a token; widening the query once a call
 * instead of a step gained nothing).
 */
#define SC_PF 16

AI __m256i
reduce8(const __m256i *v)
{
	__m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]),
	    _mm256_hadd_epi32(v[2], v[3]));
	__m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]),
	    _mm256_hadd_epi32(v[6], v[7]));

	return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
	    _mm256_permute2x128_si256(a, b, 0x31));
}

AI void
scores_i8_hb(int HB, const int8_t *k, size_t rb, const int8_t *q,
    size_t ldq, const float *qs, float *y, size_t ldy, size_t n,
    size_t rows)
{
	const int RB = 8 / HB;
	__m256i acc[8], qv[4], kv;
	__m256 mul;
	const int8_t *kr[8];
	int32_t is[8];
	float dl[8], out[8];
	size_t r, i, e = n - n % 16, c;
	int hh, rr, j;

	for (j = 0; j < 8; j++)
		dl[j] = qs[j / RB];
	mul = _mm256_loadu_ps(dl);
	for (r = 0; r < rows; r += (size_t)RB) {
		for (rr = 0; rr < RB; rr++)
			kr[rr] = k + (r + (size_t)rr < rows ? r + (size_t)rr :
			    rows - 1) * rb;
		UNROLL
		for (j = 0; j < 8; j++)
			acc[j] = _mm256_setzero_si256();
		for (i = 0; i < e; i += 16) {
			if (i % 64 == 0)	/* SC_PF rows on */
				UNROLL
				for (rr = 0; rr < RB; rr++)
					_mm_prefetch((const char *)(kr[rr] +
					    SC_PF * rb + i), _MM_HINT_T0);
			UNROLL
			for (hh = 0; hh < HB; hh++)
				qv[hh] = _mm256_cvtepi8_epi16(_mm_loadu_si128(
				    (const __m128i *)(q + (size_t)hh * ldq + i)));
			UNROLL
			for (rr = 0; rr < RB; rr++) {
				kv = _mm256_cvtepi8_epi16(_mm_loadu_si128(
				    (const __m128i *)(kr[rr] + i)));
				UNROLL
				for (hh = 0; hh < HB; hh++)
					acc[hh * RB + rr] = _mm256_add_epi32(
					    acc[hh * RB + rr],
					    _mm256_madd_epi16(kv, qv[hh]));
			}
		}
		_mm256_storeu_si256((__m256i *)is, reduce8(acc));
		for (j = 0; j < 8 && e < n; j++)
			for (i = e; i < n; i++)
				is[j] += (int32_t)q[(size_t)(j / RB) * ldq + i] *
				    kr[j % RB][i];
		_mm256_storeu_ps(out, _mm256_mul_ps(_mm256_cvtepi32_ps(
		    _mm256_loadu_si256((const __m256i *)is)), mul));
		c = rows - r < (size_t)RB ? rows - r : (size_t)RB;
		for (hh = 0; hh < HB; hh++)
			put4(y + (size_t)hh * ldy + r, out + hh * RB, c,
			    (size_t)RB);
	}
}

static void
scores_i8_avx2(const int8_t *k, size_t rb, const int8_t *q, size_t ldq,
    const float *qs, size_t nh, float *y, size_t ldy, size_t n,
    size_t rows)
{
	SCORES_I8_HEADS(scores_i8_hb, k, rb, q, ldq, qs, nh, y, ldy, n, rows);
}

static void
matmul_i8_avx2(const int8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_i8_each(&bn_kernels_avx2, w, row_bytes, x, ldx, y, ldy, n,
	    rows, T);
}

/* int8 x int8: widen to int16, madd to int32 (exact for any inputs) */
static void
matvec_i8_avx2(const int8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r, i;

	for (r = 0; r < rows; r++, w += row_bytes) {
		__m256i acc = _mm256_setzero_si256();
		__m128i v;
		int32_t sum;

		for (i = 0; i + 16 <= n; i += 16) {
			__m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128(
			    (const __m128i *)(w + i)));
			__m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(
			    (const __m128i *)(x + i)));

			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
		}
		v = _mm_add_epi32(_mm256_castsi256_si128(acc),
		    _mm256_extracti128_si256(acc, 1));
		v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
		v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
		sum = _mm_cvtsi128_si32(v);
		for (; i < n; i++)
			sum += (int32_t)w[i] * x[i];
		y[r] = sum;
	}
}

/* Delta swap: the bits of *a at mask << sh trade places with the bits
 * of *b at mask, in each 64-bit lane. */
AI void
dswap(__m256i *a, __m256i *b, int sh, __m256i mask)
{
	__m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi64(*a,
	    sh), *b), mask);

	*b = _mm256_xor_si256(*b, t);
	*a = _mm256_xor_si256(*a, _mm256_slli_epi64(t, sh));
}

/* ref's int2_t2 on whole 32-byte blocks: the same code conversion, then
 * a 4x4 transpose of 2-bit fields (row i field s -> row s field i) by
 * two delta swaps, then eight groups' vectors for a field transposed as
 * four 8x8 byte matrices at once, one per 64-bit lane: lane q of vector
 * k holds the 8 output bytes of column 8q + k + 32s.  The last groups
 * (fewer than 8) go to ref. */
static int
int2_t2_avx2(const uint8_t *w0, size_t rb, size_t groups, uint8_t *out,
    size_t ld)
{
	const __m256i lo = _mm256_set1_epi8(0x55), m33 = _mm256_set1_epi8(0x33);
	const __m256i m0f = _mm256_set1_epi8(0x0f);
	const __m256i b8 = _mm256_set1_epi64x(0x00ff00ff00ff00ff);
	const __m256i b16 = _mm256_set1_epi64x(0x0000ffff0000ffff);
	const __m256i b32 = _mm256_set1_epi64x(0x00000000ffffffff);
	__m256i bad = _mm256_setzero_si256(), x[4][8], v[4], a, nl;
	size_t g0, g;
	unsigned i, s, k;

	for (g0 = 0; g0 + 8 <= groups; g0 += 8) {
		for (g = 0; g < 8; g++) {
			const uint8_t *p = w0 + (g0 + g) * 4 * rb;

			for (i = 0; i < 4; i++) {
				a = _mm256_loadu_si256((const __m256i *)(p +
				    i * rb));
				bad = _mm256_or_si256(bad, _mm256_and_si256(a,
				    _mm256_srli_epi64(a, 1)));
				nl = _mm256_andnot_si256(a, lo);
				v[i] = _mm256_or_si256(_mm256_xor_si256(
				    _mm256_andnot_si256(lo, a),
				    _mm256_slli_epi64(nl, 1)), nl);
			}
			dswap(&v[0], &v[1], 2, m33);	/* 2-bit fields */
			dswap(&v[2], &v[3], 2, m33);
			dswap(&v[0], &v[2], 4, m0f);	/* nibbles */
			dswap(&v[1], &v[3], 4, m0f);
			for (s = 0; s < 4; s++)
				x[s][g] = v[s];
		}
		for (s = 0; s < 4; s++) {
			__m256i *y = x[s];
			uint8_t *o = out + 32 * s * ld + g0;

			for (k = 0; k < 8; k += 2)
				dswap(&y[k], &y[k + 1], 8, b8);
			for (k = 0; k < 8; k += k % 4 == 1 ? 3 : 1)
				dswap(&y[k], &y[k + 2], 16, b16);
			for (k = 0; k < 4; k++)
				dswap(&y[k], &y[k + 4], 32, b32);
			for (k = 0; k < 8; k++) {
				uint64_t q[4];	/* unaligned stores via memcpy */

				_mm256_storeu_si256((__m256i *)q, y[k]);
				memcpy(o + k * ld, &q[0], 8);
				memcpy(o + (8 + k) * ld, &q[1], 8);
				memcpy(o + (16 + k) * ld, &q[2], 8);
				memcpy(o + (24 + k) * ld, &q[3], 8);
			}
		}
	}
	return !_mm256_testz_si256(bad, lo) | (g0 < groups &&
	    bn_int2_t2_ref(w0 + g0 * 4 * rb, rb, groups - g0, out + g0, ld));
}

const struct bn_kernels bn_kernels_avx2 = {
	.matvec_i8 = matvec_i8_avx2,
	.matmul_i8 = matmul_i8_avx2,
	.scores_i8 = scores_i8_avx2,
	.matvec_q4 = matvec_q4_avx2,
	.name = "avx2",
	.matvec_f = matvec_f_avx2,
	.matmul_f = matmul_f_avx2,
	.matvec_t2 = matvec_t2_avx2,
	.matmul_t2 = matmul_t2_avx2,
	.matvec_t3 = matvec_t3_avx2,
	.matmul_t3 = matmul_t3_avx2,
	.t3_t2 = t3_t2_avx2,
	.quant_i8 = quant_i8_avx2,
	.rmsnorm = rmsnorm_avx2,
	.dot_f32 = dot_f32_avx2,
	.axpy_f32 = axpy_f32_avx2,
	.isum_f32 = isum_f32_avx2,
	.axpy_rows = axpy_rows_avx2,
	.axpy_rows_h = axpy_rows_h_avx2,
	.softmax = softmax_avx2,
	.gemm_uk = bn_gemm_ukernel_avx2,
	.int2_t2 = int2_t2_avx2,
};

/* The AVX-512 kernels (kernels_avx512.c: VNNI integer products, the
 * float products over rows streamed from memory) with AVX2's others:
 * dispatch.c picks this table only where the CPU runs both. */
const struct bn_kernels bn_kernels_avx512 = {
	.matvec_i8 = bn_avx512_matvec_i8,
	.matmul_i8 = bn_avx512_matmul_i8,
	.scores_i8 = bn_avx512_scores_i8,
	.matvec_q4 = bn_avx512_matvec_q4,
	.name = "avx512",
	.matvec_f = bn_avx512_matvec_f,
	.matmul_f = bn_avx512_matmul_f,
	.matvec_t2 = bn_avx512_matvec_t2,
	.matmul_t2 = bn_avx512_matmul_t2,
	.matvec_t3 = bn_avx512_matvec_t3,
	.matmul_t3 = matmul_t3_avx512,
	.t3_t2 = bn_avx512_t3_t2,
	.quant_i8 = quant_i8_avx2,
	.rmsnorm = rmsnorm_avx2,
	.dot_f32 = dot_f32_avx2,
	.axpy_f32 = axpy_f32_avx2,
	.isum_f32 = isum_f32_avx2,
	.axpy_rows = bn_avx512_axpy_rows,
	.axpy_rows_h = bn_avx512_axpy_rows_h,
	.softmax = softmax_avx2,
	.gemm_uk = bn_gemm_ukernel_avx2,
	.int2_t2 = int2_t2_avx2,
};
