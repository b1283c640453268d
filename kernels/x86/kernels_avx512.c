/* kernels_avx512.c: the AVX-512 kernels of bn_kernels_avx512: VNNI
 * integer products, and float products over rows streamed from memory
 * (below; its other kernels are AVX2's).  The only file
 * built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; dispatch.c
 * selects the table only where CPUID has those and XCR0 says the OS
 * saves the opmask and zmm state.
 *
 * vpdpbusd multiplies unsigned bytes by signed bytes and adds each four
 * products into an int32 lane, without saturation, so every result is
 * exact (int32 wrap-around cancels where the true result fits):
 *   ternary: sum((c - 1) * x) = sum(c * x) - sum(x), c in 0..3 unsigned;
 *   int8:    sum(w * x) = sum((x ^ 0x80) * w) - sum(128 * w). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "kernels.h"
#include "x86.h"

/* The codes of one 32-byte t2 block (128 elements) as two vectors lined
 * up with x[0, 64) and x[64, 128).  Byte j holds elements j, j + 32,
 * j + 64, j + 96 in bits 0-1, 2-3, 4-5, 6-7: the block broadcast to both
 * halves and shifted right by 0 | 2 (or 4 | 6) bits per 64-bit lane has
 * in the low two bits of each byte the codes of the elements that x
 * holds there (the bits shifted in from the next byte are masked off). */
AI __m512i
t2codes(const uint8_t *q, __m512i sh, __m512i m3)
{
	__m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(
	    (const __m256i *)q));

	return _mm512_and_si512(_mm512_srlv_epi64(v, sh), m3);
}

#define SH_LO _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0)
#define SH_HI _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4)

/* sum(x[0..n)), n a multiple of 128, exactly. */
AI int32_t
sum_i8(const int8_t *x, size_t n)
{
	const __m512i one = _mm512_set1_epi8(1);
	__m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
	size_t i;

	for (i = 0; i < n; i += 128) {
		a = _mm512_dpbusd_epi32(a, one, _mm512_loadu_si512(x + i));
		b = _mm512_dpbusd_epi32(b, one, _mm512_loadu_si512(x + i +
		    64));
	}
	return _mm512_reduce_add_epi32(_mm512_add_epi32(a, b));
}

/* One row at a time, the weights read in order (as AVX2's, which says
 * why); two blocks per step into four accumulators, so that the
 * vpdpbusd latency overlaps. */
void
bn_avx512_matvec_t2(const uint8_t *w, size_t rb, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	const __m512i m3 = _mm512_set1_epi8(3), shl = SH_LO, shh = SH_HI;
	int32_t sx = sum_i8(x, n);
	size_t nb = n / BN_T2_BLOCK, r, b;
	__m512i a0, a1, a2, a3;
	const uint8_t *q;
	const int8_t *xb;

	for (r = 0; r < rows; r++) {
		q = w + r * rb;
		a0 = a1 = a2 = a3 = _mm512_setzero_si512();
		for (b = 0; b + 2 <= nb; b += 2) {
			_mm_prefetch((const char *)(q + 4 * rb + 32 * b),
			    _MM_HINT_T0);
			xb = x + b * BN_T2_BLOCK;
			a0 = _mm512_dpbusd_epi32(a0, t2codes(q + 32 * b, shl,
			    m3), _mm512_loadu_si512(xb));
			a1 = _mm512_dpbusd_epi32(a1, t2codes(q + 32 * b, shh,
			    m3), _mm512_loadu_si512(xb + 64));
			a2 = _mm512_dpbusd_epi32(a2, t2codes(q + 32 * b + 32,
			    shl, m3), _mm512_loadu_si512(xb + 128));
			a3 = _mm512_dpbusd_epi32(a3, t2codes(q + 32 * b + 32,
			    shh, m3), _mm512_loadu_si512(xb + 192));
		}
		if (b < nb) {
			xb = x + b * BN_T2_BLOCK;
			a0 = _mm512_dpbusd_epi32(a0, t2codes(q + 32 * b, shl,
			    m3), _mm512_loadu_si512(xb));
			a1 = _mm512_dpbusd_epi32(a1, t2codes(q + 32 * b, shh,
			    m3), _mm512_loadu_si512(xb + 64));
		}
		a0 = _mm512_add_epi32(_mm512_add_epi32(a0, a1),
		    _mm512_add_epi32(a2, a3));
		y[r] = _mm512_reduce_add_epi32(a0) - sx;
	}
}

/* Tiles of MM_RB rows x MM_TB tokens: 20 accumulators, 5 code vectors,
 * x and 3 constants in 32 registers.  Timed against each other in one
 * process on Zen 4 (the 2B-4T projections, T = 128): 5 x 4 about 1.3x
 * as fast as 4 x 5, 4 x 4 about the same, 6 x 3 0.93x, 5 x 5 0.6x (it
 * spills); reducing four accumulators in one transposing tree instead
 * of each on its own made it 1.45x slower. */
#define MM_RB 5
#define MM_TB 4

/* RB rows x TB tokens over all n: y[t * ldy + r] = sum(c * x) - sx[t].
 * For each half of a block the codes of the RB rows are extracted once
 * and multiplied with each token's 64 bytes of x, read once per half:
 * RB * TB int32 accumulators, RB code vectors and one of x in the 32
 * zmm registers. */
AI void
t2tile(const uint8_t *w, size_t rb, const int8_t *x, size_t ldx,
    const int32_t *sx, int32_t *y, size_t ldy, size_t n, int RB, int TB)
{
	const __m512i m3 = _mm512_set1_epi8(3), shl = SH_LO, shh = SH_HI;
	__m512i acc[MM_RB][MM_TB], c[MM_RB], xv;
	size_t b, nb = n / BN_T2_BLOCK;
	int r, t;

	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			acc[r][t] = _mm512_setzero_si512();
	for (b = 0; b < nb; b++) {
		UNROLL
		for (r = 0; r < RB; r++)
			_mm_prefetch((const char *)(w + (r + RB) * rb + 32 * b),
			    _MM_HINT_T0);
		UNROLL
		for (r = 0; r < RB; r++)
			c[r] = t2codes(w + r * rb + 32 * b, shl, m3);
		UNROLL
		for (t = 0; t < TB; t++) {
			xv = _mm512_loadu_si512(x + t * ldx + b * BN_T2_BLOCK);
			UNROLL
			for (r = 0; r < RB; r++)
				acc[r][t] = _mm512_dpbusd_epi32(acc[r][t],
				    c[r], xv);
		}
		UNROLL
		for (r = 0; r < RB; r++)
			c[r] = t2codes(w + r * rb + 32 * b, shh, m3);
		UNROLL
		for (t = 0; t < TB; t++) {
			xv = _mm512_loadu_si512(x + t * ldx + b * BN_T2_BLOCK +
			    64);
			UNROLL
			for (r = 0; r < RB; r++)
				acc[r][t] = _mm512_dpbusd_epi32(acc[r][t],
				    c[r], xv);
		}
	}
	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			y[t * ldy + r] = _mm512_reduce_add_epi32(acc[r][t]) -
			    sx[t];
}


/* Rows [0, rows) of TB tokens, MM_RB at a time, then the rest. */
AI void
t2rows(const uint8_t *w, size_t rb, const int8_t *x, size_t ldx,
    const int32_t *sx, int32_t *y, size_t ldy, size_t n, size_t rows,
    int TB)
{
	size_t r;

	for (r = 0; r + MM_RB <= rows; r += MM_RB)
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, MM_RB, TB);
	switch (rows - r) {
	case 4:
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, 4, TB);
		break;
	case 3:
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, 3, TB);
		break;
	case 2:
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, 2, TB);
		break;
	case 1:
		t2tile(w + r * rb, rb, x, ldx, sx, y + r, ldy, n, 1, TB);
		break;
	default:
		break;
	}
}

/* Weight rows in chunks of about CHUNK_BYTES, kept in L2 while every
 * token passes over them. */
#define CHUNK_BYTES (128 * 1024)

void
bn_avx512_matmul_t2(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t r0, r1, t, tt, nt, ch;
	int32_t sx[MM_TB];

	ch = row_bytes ? CHUNK_BYTES / row_bytes / MM_RB * MM_RB : 0;
	ch = ch > MM_RB ? ch : MM_RB;
	for (r0 = 0; r0 < rows; r0 = r1) {
		const uint8_t *wr = w + r0 * row_bytes;

		r1 = rows - r0 > ch ? r0 + ch : rows;
		for (t = 0; t < T; t += nt) {
			const int8_t *xt = x + t * ldx;
			int32_t *yt = y + t * ldy + r0;

			nt = T - t < MM_TB ? T - t : MM_TB;
			for (tt = 0; tt < nt; tt++)
				sx[tt] = sum_i8(xt + tt * ldx, n);
			switch (nt) {
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

/* The first k <= 64 bytes of w and x (masked loads: the zeros past k
 * add nothing to either sum). */
AI void
i8step(const int8_t *w, const int8_t *x, size_t k, __m512i *a, __m512i *b)
{
	const __m512i c80 = _mm512_set1_epi8((char)0x80);
	__mmask64 m = k >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << k) - 1;
	__m512i wv = _mm512_maskz_loadu_epi8(m, w);

	*a = _mm512_dpbusd_epi32(*a, _mm512_xor_si512(
	    _mm512_maskz_loadu_epi8(m, x), c80), wv);
	*b = _mm512_dpbusd_epi32(*b, c80, wv);
}

/* int8 x int8, one row at a time: the bytes up to w's next 64-byte
 * boundary first (a load across two cache lines costs about twice, and
 * the head's rows need not start at one), then 128 bytes a step into
 * two pairs of accumulators, then the rest. */
void
bn_avx512_matvec_i8(const int8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	const __m512i c80 = _mm512_set1_epi8((char)0x80);
	__m512i a0, a1, b0, b1, wv, xv;
	size_t r, i;

	for (r = 0; r < rows; r++, w += row_bytes) {
		a0 = a1 = b0 = b1 = _mm512_setzero_si512();
		i = (size_t)(-(uintptr_t)w & 63);
		i = i < n ? i : n;
		if (i > 0)
			i8step(w, x, i, &a0, &b0);
		for (; i + 128 <= n; i += 128) {
			_mm_prefetch((const char *)(w + 4 * row_bytes + i),
			    _MM_HINT_T0);
			_mm_prefetch((const char *)(w + 4 * row_bytes + i + 64),
			    _MM_HINT_T0);
			wv = _mm512_load_si512(w + i);
			xv = _mm512_xor_si512(_mm512_loadu_si512(x + i), c80);
			a0 = _mm512_dpbusd_epi32(a0, xv, wv);
			b0 = _mm512_dpbusd_epi32(b0, c80, wv);
			wv = _mm512_load_si512(w + i + 64);
			xv = _mm512_xor_si512(_mm512_loadu_si512(x + i + 64),
			    c80);
			a1 = _mm512_dpbusd_epi32(a1, xv, wv);
			b1 = _mm512_dpbusd_epi32(b1, c80, wv);
		}
		for (; i < n; i += 64)
			i8step(w + i, x + i, n - i, &a1, &b1);
		a0 = _mm512_sub_epi32(_mm512_add_epi32(a0, a1),
		    _mm512_add_epi32(b0, b1));
		y[r] = _mm512_reduce_add_epi32(a0);
	}
}

/*
 * scores_i8: the key rows are the unsigned operand, k ^ 0x80 = k + 128,
 * so that sum((k + 128) q) - 128 sum(q) is the product and the
 * correction is one number a head.  HB heads x RB rows a step (HB * RB
 * = 16), one accumulator a pair, reduced together into one vector (lane
 * hh * RB + rr); a head's codes stay in registers while RB rows pass.
 * Rows past the end are the last one again, not stored.
 */
/* lane j of the result: the sum of v[j]'s lanes */
AI __m512i
reduce16(const __m512i *v)
{
	__m512i t[8], u[4], a, b;
	int j;

	UNROLL
	for (j = 0; j < 8; j++)		/* quarters a02 b02 a13 b13 */
		t[j] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * j],
		    v[2 * j + 1]), _mm512_unpackhi_epi32(v[2 * j], v[2 * j + 1]));
	UNROLL
	for (j = 0; j < 4; j++)		/* quarters: v[4j .. 4j + 3] */
		u[j] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * j],
		    t[2 * j + 1]), _mm512_unpackhi_epi64(t[2 * j], t[2 * j + 1]));
	a = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x44),
	    _mm512_shuffle_i32x4(u[0], u[1], 0xee));
	b = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], 0x44),
	    _mm512_shuffle_i32x4(u[2], u[3], 0xee));
	return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88),
	    _mm512_shuffle_i32x4(a, b, 0xdd));
}

AI void
scores_i8_hb(int HB, const int8_t *k, size_t rb, const int8_t *q,
    size_t ldq, const float *qs, float *y, size_t ldy, size_t n, size_t rows)
{
	const int RB = 16 / HB;
	const __m512i c80 = _mm512_set1_epi8((char)0x80);
	__m512i acc[16], qv[4], kv, corr;
	__m512 mul;
	const int8_t *qh[4], *kr[16];
	int32_t cl[16];
	float dl[16], out[16];
	size_t r, i, c;
	__mmask64 m;
	int hh, rr;

	for (hh = 0; hh < HB; hh++) {
		qh[hh] = q + (size_t)hh * ldq;
		for (c = 0, cl[hh * RB] = 0; c < n; c++)
			cl[hh * RB] += 128 * qh[hh][c];
		for (rr = 0; rr < RB; rr++) {
			cl[hh * RB + rr] = cl[hh * RB];
			dl[hh * RB + rr] = qs[hh];
		}
	}
	corr = _mm512_loadu_si512(cl);
	mul = _mm512_loadu_ps(dl);
	for (r = 0; r < rows; r += (size_t)RB) {
		for (rr = 0; rr < RB; rr++)
			kr[rr] = k + (r + (size_t)rr < rows ? r + (size_t)rr :
			    rows - 1) * rb;
		UNROLL
		for (rr = 0; rr < 16; rr++)
			acc[rr] = _mm512_setzero_si512();
		for (i = 0; i < n; i += 64) {
			m = n - i >= 64 ? ~(__mmask64)0 :
			    ((__mmask64)1 << (n - i)) - 1;
			UNROLL
			for (rr = 0; rr < RB; rr++)	/* 4 steps on */
				_mm_prefetch((const char *)(kr[rr] + 4 *
				    (size_t)RB * rb + i), _MM_HINT_T0);
			UNROLL
			for (hh = 0; hh < HB; hh++)
				qv[hh] = _mm512_maskz_loadu_epi8(m, qh[hh] + i);
			UNROLL
			for (rr = 0; rr < RB; rr++) {
				kv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m,
				    kr[rr] + i), c80);
				UNROLL
				for (hh = 0; hh < HB; hh++)
					acc[hh * RB + rr] = _mm512_dpbusd_epi32(
					    acc[hh * RB + rr], kv, qv[hh]);
			}
		}
		_mm512_storeu_ps(out, _mm512_mul_ps(_mm512_cvtepi32_ps(
		    _mm512_sub_epi32(reduce16(acc), corr)), mul));
		c = rows - r < (size_t)RB ? rows - r : (size_t)RB;
		for (hh = 0; hh < HB; hh++)
			put4(y + (size_t)hh * ldy + r, out + hh * RB, c,
			    (size_t)RB);
	}
}

void
bn_avx512_scores_i8(const int8_t *k, size_t rb, const int8_t *q, size_t ldq,
    const float *qs, size_t nh, float *y, size_t ldy, size_t n, size_t rows)
{
	SCORES_I8_HEADS(scores_i8_hb, k, rb, q, ldq, qs, nh, y, ldy, n, rows);
}

/*
 * matmul_i8: the weights the unsigned operand (w ^ 0x80 = w + 128), so
 * that sum((w + 128) x) - 128 sum(x) is the product and the correction
 * one number a token; 4 rows x 4 tokens a step, one accumulator a pair,
 * reduced together (lane tt * 4 + rr).  Rows and tokens past the end
 * are the last one again, not stored.
 */
void
bn_avx512_matmul_i8(const int8_t *w, size_t rb, const int8_t *x, size_t ldx,
    int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	const __m512i c80 = _mm512_set1_epi8((char)0x80);
	const __m512i one = _mm512_set1_epi8(1);
	__m512i acc[16], xv[4], wv, corr, s;
	const int8_t *xs[4], *wr[4];
	int32_t cl[16], out[16];
	size_t t0, t, r, i, c, tb;
	__mmask64 m;
	int tt, rr;

	if (rows == 0)
		return;
	for (t0 = 0; t0 < T; t0 += 4) {
		tb = T - t0 < 4 ? T - t0 : 4;
		for (tt = 0; tt < 4; tt++) {
			t = t0 + (size_t)tt < T ? t0 + (size_t)tt : T - 1;
			xs[tt] = x + t * ldx;
			s = _mm512_setzero_si512();
			for (i = 0; i < n; i += 64) {
				m = n - i >= 64 ? ~(__mmask64)0 :
				    ((__mmask64)1 << (n - i)) - 1;
				s = _mm512_dpbusd_epi32(s, one,
				    _mm512_maskz_loadu_epi8(m, xs[tt] + i));
			}
			for (rr = 0; rr < 4; rr++)
				cl[tt * 4 + rr] = 128 * _mm512_reduce_add_epi32(s);
		}
		corr = _mm512_loadu_si512(cl);
		for (r = 0; r < rows; r += 4) {
			for (rr = 0; rr < 4; rr++)
				wr[rr] = w + (r + (size_t)rr < rows ? r +
				    (size_t)rr : rows - 1) * rb;
			UNROLL
			for (tt = 0; tt < 16; tt++)
				acc[tt] = _mm512_setzero_si512();
			for (i = 0; i < n; i += 64) {
				m = n - i >= 64 ? ~(__mmask64)0 :
				    ((__mmask64)1 << (n - i)) - 1;
				UNROLL
				for (tt = 0; tt < 4; tt++)
					xv[tt] = _mm512_maskz_loadu_epi8(m,
					    xs[tt] + i);
				UNROLL
				for (rr = 0; rr < 4; rr++)
					_mm_prefetch((const char *)(wr[rr] +
					    4 * rb + i), _MM_HINT_T0);
				UNROLL
				for (rr = 0; rr < 4; rr++) {
					wv = _mm512_xor_si512(
					    _mm512_maskz_loadu_epi8(m, wr[rr] +
					    i), c80);
					UNROLL
					for (tt = 0; tt < 4; tt++)
						acc[tt * 4 + rr] =
						    _mm512_dpbusd_epi32(
						    acc[tt * 4 + rr], wv, xv[tt]);
				}
			}
			_mm512_storeu_si512(out, _mm512_sub_epi32(
			    reduce16(acc), corr));
			c = rows - r < 4 ? rows - r : 4;
			for (tt = 0; tt < (int)tb; tt++)
				put4(y + (t0 + (size_t)tt) * ldy + r, out +
				    tt * 4, c, 4);
		}
	}
}

/* t3k (kernels.h): m_k+1 = 3 m_k mod 256 in byte adds. */
AI __m512i
times3(__m512i m)
{
	return _mm512_add_epi8(m, _mm512_add_epi8(m, m));
}

/* Blocks between reductions in matvec_t3: |3A - B| = 256 |sum c x| <=
 * 256 * 2 * 128 * 320 per block must stay below 2^31. */
#define T3_SEG 64

/* One row at a time, as matvec_t2; no decoding: with A = sum m_k x and
 * B = sum m_k+1 x over the codes' positions, sum c x = (3A - B) / 256
 * (kernels.h), two vpdpbusd a 64 weights and byte adds for m. */
void
bn_avx512_matvec_t3(const uint8_t *w, size_t rb, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	const __m512i one = _mm512_set1_epi8(1);
	size_t nb = n / BN_T3K_BLOCK, kt = n % BN_T3K_BLOCK / 64, r, b, s, e;
	__m512i a0, a1, b0, b1, m, xv, sv = _mm512_setzero_si512();
	const uint8_t *q;
	const int8_t *xb;
	int32_t sum, sx;
	int k;

	for (b = 0; b < n; b += 64)
		sv = _mm512_dpbusd_epi32(sv, one, _mm512_loadu_si512(x + b));
	sx = _mm512_reduce_add_epi32(sv);
	for (r = 0; r < rows; r++) {
		q = w + r * rb;
		sum = 0;
		for (s = 0; s < nb || (s == nb && kt); s = e) {
			e = s + T3_SEG < nb ? s + T3_SEG : nb;
			a0 = a1 = b0 = b1 = _mm512_setzero_si512();
			for (b = s; b < e; b++) {
				_mm_prefetch((const char *)(q + 4 * rb + 64 * b),
				    _MM_HINT_T0);
				xb = x + b * BN_T3K_BLOCK;
				m = _mm512_loadu_si512(q + 64 * b);
				xv = _mm512_loadu_si512(xb);
				a0 = _mm512_dpbusd_epi32(a0, m, xv);
				m = times3(m);
				b0 = _mm512_dpbusd_epi32(b0, m, xv);
				xv = _mm512_loadu_si512(xb + 64);
				a1 = _mm512_dpbusd_epi32(a1, m, xv);
				m = times3(m);
				b1 = _mm512_dpbusd_epi32(b1, m, xv);
				xv = _mm512_loadu_si512(xb + 128);
				a0 = _mm512_dpbusd_epi32(a0, m, xv);
				m = times3(m);
				b0 = _mm512_dpbusd_epi32(b0, m, xv);
				xv = _mm512_loadu_si512(xb + 192);
				a1 = _mm512_dpbusd_epi32(a1, m, xv);
				m = times3(m);
				b1 = _mm512_dpbusd_epi32(b1, m, xv);
				xv = _mm512_loadu_si512(xb + 256);
				a0 = _mm512_dpbusd_epi32(a0, m, xv);
				m = times3(m);
				b0 = _mm512_dpbusd_epi32(b0, m, xv);
			}
			if (e == nb && kt) {	/* the row's last, short block */
				xb = x + nb * BN_T3K_BLOCK;
				m = _mm512_loadu_si512(q + 64 * nb);
				for (k = 0; k < (int)kt; k++) {
					xv = _mm512_loadu_si512(xb + 64 * k);
					a0 = _mm512_dpbusd_epi32(a0, m, xv);
					m = times3(m);
					b0 = _mm512_dpbusd_epi32(b0, m, xv);
				}
				e = nb + 1;
			}
			/* exact in uint32: the true value fits in int32 */
			sum += (int32_t)(3u * (uint32_t)_mm512_reduce_add_epi32(
			    _mm512_add_epi32(a0, a1)) - (uint32_t)
			    _mm512_reduce_add_epi32(_mm512_add_epi32(b0, b1))) /
			    256;
		}
		y[r] = sum - sx;
	}
}

/* The codes of 64 t3k bytes at step m: [m >= 86] + [m >= 171]. */
AI __m512i
t3codes(__m512i m)
{
	__mmask64 a = _mm512_cmpge_epu8_mask(m, _mm512_set1_epi8(86));
	__mmask64 b = _mm512_cmpge_epu8_mask(m, _mm512_set1_epi8((char)171));

	return _mm512_mask_mov_epi8(_mm512_maskz_mov_epi8(a,
	    _mm512_set1_epi8(1)), b, _mm512_set1_epi8(2));
}

/* Each group of 64 codes is half a t2 block: codes j and 32 + j go to
 * byte j at bits 4h and 4h + 2 (h: which half). */
void
bn_avx512_t3_t2(const uint8_t *w, size_t rb, uint8_t *out, size_t ob,
    size_t n, size_t rows)
{
	size_t r, g, ng = n / 64;
	__m512i m = _mm512_setzero_si512(), c;
	__m256i t, prev = _mm256_setzero_si256();
	const uint8_t *q;

	for (r = 0; r < rows; r++) {
		q = w + r * rb;
		for (g = 0; g < ng; g++) {
			if (g % 5 == 0)
				m = _mm512_loadu_si512(q + 64 * (g / 5));
			else
				m = times3(m);
			c = t3codes(m);
			t = _mm256_or_si256(_mm512_castsi512_si256(c),
			    _mm256_slli_epi16(_mm512_extracti64x4_epi64(c, 1),
			    2));
			if (g % 2 == 0)
				prev = t;
			else
				_mm256_storeu_si256((__m256i *)(out + r * ob +
				    32 * (g / 2)), _mm256_or_si256(prev,
				    _mm256_slli_epi16(t, 4)));
		}
	}
}

/* One row at a time: per group of 16 blocks, eight vpdpbusd leave each
 * block's sum in its own lane, then one fma with the 16 scales; a short
 * last group with masked loads (zeros add nothing). */
void
bn_avx512_matvec_q4(const uint8_t *w, size_t row_bytes, const uint16_t *s,
    size_t s_stride, const int8_t *x, float *y, size_t n, size_t rows)
{
	_Alignas(64) int8_t xp[BN_Q4_MAXN];
	_Alignas(64) int32_t xs8[BN_Q4_MAXN / BN_Q4_BLOCK];
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	size_t nb = n / BN_Q4_BLOCK, r, g, G, c;
	__m512i acc, v;
	__m512 f;
	__m256 a;
	__mmask64 mb;
	__mmask16 ml;
	float t[8];
	const uint8_t *q, *wg;
	const int8_t *xg;

	bn_q4_prep(x, n, xp, xs8);
	for (r = 0; r < rows; r++) {
		q = w + r * row_bytes;
		f = _mm512_setzero_ps();
		for (g = 0; 16 * g < nb; g++) {
			G = nb - 16 * g < 16 ? nb - 16 * g : 16;
			mb = G == 16 ? ~(__mmask64)0 :
			    ((__mmask64)1 << 4 * G) - 1;
			ml = (__mmask16)((1u << G) - 1);
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
			acc = _mm512_setzero_si512();
			for (c = 0; c < 4; c++) {
				v = _mm512_maskz_loadu_epi8(mb, wg + 4 * G * c);
				acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(v,
				    m4), _mm512_maskz_loadu_epi8(mb, xg + 8 * G *
				    c));
				acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(
				    _mm512_srli_epi16(v, 4), m4),
				    _mm512_maskz_loadu_epi8(mb, xg + 8 * G * c +
				    4 * G));
			}
			acc = _mm512_sub_epi32(acc, _mm512_maskz_loadu_epi32(ml,
			    xs8 + 16 * g));
			f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc),
			    _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(ml,
			    s + r * s_stride + 16 * g)), f);
		}
		a = _mm256_add_ps(_mm512_castps512_ps256(f),
		    _mm256_castpd_ps(_mm512_extractf64x4_pd(
		    _mm512_castps_pd(f), 1)));
		_mm256_storeu_ps(t, a);
		y[r] = ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) +
		    (t[3] + t[7]));
	}
}

/* Float products over rows read once from memory: x86.h's, with 4
 * tokens a pass in the 32 registers. */
void
bn_avx512_matmul_f(int dtype, const void *w, size_t row_bytes,
    const float *x, size_t ldx, float *y, size_t ldy, size_t n,
    size_t rows, size_t T)
{
	BN_ROW_TYPE(matmul_f_t, dtype, w, row_bytes, x, ldx, y, ldy, n, rows, T,
	    4);
}

void
bn_avx512_matvec_f(int dtype, const void *w, size_t row_bytes,
    const float *x, float *y, size_t n, size_t rows)
{
	bn_avx512_matmul_f(dtype, w, row_bytes, x, 0, y, 0, n, rows, 1);
}

/* 16 weights from element i of row w, widened to f32 */
AI __m512
wload16(int dtype, const void *w, size_t i)
{
	const char *p = w;

	switch (dtype) {
	case BN_DTYPE_F16:
		return _mm512_cvtph_ps(_mm256_loadu_si256(
		    (const __m256i *)(p + 2 * i)));
	case BN_DTYPE_BF16:
		return _mm512_castsi512_ps(_mm512_slli_epi32(
		    _mm512_cvtepu16_epi32(_mm256_loadu_si256(
		    (const __m256i *)(p + 2 * i))), 16));
	case BN_DTYPE_I8:
		return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
		    (const __m128i *)(p + i))));
	default:
		return _mm512_loadu_ps((const float *)(p + 4 * i));
	}
}

/* axpy_rows_h: NH heads x NV vectors of 16 columns (from i0) in
 * registers while the rows pass; pf: prefetch those columns of the row
 * AH_BLOCK rows on. */
#define AH_BLOCK 32

AI void
vrows(int dtype, float *y, size_t ldy, const float *a, size_t lda,
    const char *x, size_t rb, size_t i0, size_t rows, int NH, int NV,
    int pf)
{
	__m512 acc[4][4], av[4], xv;
	size_t r, es = esize(dtype);
	int h, v, k;

	UNROLL
	for (h = 0; h < NH; h++)
		UNROLL
		for (v = 0; v < NV; v++)
			acc[h][v] = _mm512_loadu_ps(y + h * ldy + i0 + 16 * v);
	for (r = 0; r < rows; r++, x += rb) {
		if (pf)
			UNROLL
			for (k = 0; k < (int)(16 * es) * NV; k += 64)
				_mm_prefetch(x + AH_BLOCK * rb + i0 * es + k,
				    _MM_HINT_T0);
		UNROLL
		for (h = 0; h < NH; h++)
			av[h] = _mm512_set1_ps(a[h * lda + r]);
		UNROLL
		for (v = 0; v < NV; v++) {
			xv = wload16(dtype, x, i0 + 16 * v);
			UNROLL
			for (h = 0; h < NH; h++)
				acc[h][v] = _mm512_fmadd_ps(av[h], xv,
				    acc[h][v]);
		}
	}
	UNROLL
	for (h = 0; h < NH; h++)
		UNROLL
		for (v = 0; v < NV; v++)
			_mm512_storeu_ps(y + h * ldy + i0 + 16 * v, acc[h][v]);
}

/* NH heads over one block of rows: every column, in row order */
AI void
vblock(int dtype, float *y, size_t ldy, const float *a, size_t lda,
    const char *x, size_t rb, size_t n, size_t rows, int NH, int pf)
{
	size_t i = 0, r;
	int h;

	for (; i + 64 <= n; i += 64)
		vrows(dtype, y, ldy, a, lda, x, rb, i, rows, NH, 4, pf);
	for (; i + 16 <= n; i += 16)
		vrows(dtype, y, ldy, a, lda, x, rb, i, rows, NH, 1, pf);
	for (; i < n; i++)
		for (h = 0; h < NH; h++)
			for (r = 0; r < rows; r++)
				y[h * ldy + i] = fmaf(a[h * lda + r],
				    wget1(dtype, x + r * rb, i), y[h * ldy + i]);
}

/* Blocks of AH_BLOCK rows (in L1 while every head passes), the heads 4
 * at a time; the first heads prefetch the next block. */
AI void
axpy_rows_h_t(int dtype, float *y, size_t ldy, const float *a, size_t lda,
    size_t nh, const char *x, size_t rb, size_t n, size_t rows)
{
	size_t r, h, nb;

	for (r = 0; r < rows; r += AH_BLOCK) {
		nb = rows - r < AH_BLOCK ? rows - r : AH_BLOCK;
		for (h = 0; h < nh; h += 4)
			switch (nh - h < 4 ? nh - h : 4) {
			case 1:
				vblock(dtype, y + h * ldy, ldy, a + h * lda + r,
				    lda, x + r * rb, rb, n, nb, 1, h == 0);
				break;
			case 2:
				vblock(dtype, y + h * ldy, ldy, a + h * lda + r,
				    lda, x + r * rb, rb, n, nb, 2, h == 0);
				break;
			case 3:
				vblock(dtype, y + h * ldy, ldy, a + h * lda + r,
				    lda, x + r * rb, rb, n, nb, 3, h == 0);
				break;
			default:
				vblock(dtype, y + h * ldy, ldy, a + h * lda + r,
				    lda, x + r * rb, rb, n, nb, 4, h == 0);
				break;
			}
	}
}

void
bn_avx512_axpy_rows_h(int dtype, float *y, size_t ldy, const float *a,
    size_t lda, size_t nh, const void *x, size_t row_bytes, size_t n,
    size_t rows)
{
	BN_ROW_TYPE(axpy_rows_h_t, dtype, y, ldy, a, lda, nh, x, row_bytes, n,
	    rows);
}

void
bn_avx512_axpy_rows(int dtype, float *y, const float *a, const void *x,
    size_t row_bytes, size_t n, size_t rows)
{
	bn_avx512_axpy_rows_h(dtype, y, 0, a, 0, 1, x, row_bytes, n, rows);
}
