/* kernels_neon.c: AArch64 NEON kernels, bit-identical to ref.
 *
 * Only kernels/arm/ is built on aarch64 targets (NEON is part of the
 * base ISA there: no extra flags).  Float dot products keep kernels.h's
 * order: the 8 lanes are two float32x4 accumulators, lanes 0-3 and 4-7,
 * each step acc = vfmaq_f32(acc, w, x) (one rounding, as fmaf); the
 * reduction in hsum8(), then the tail with scalar fmaf.  Blocking over
 * rows and tokens only changes which outputs are computed side by side.
 *
 * The int8 kernels are exact.  Plain NEON widens: vmlal_s8 into int16
 * partial sums (bounded, see T2_GROUP), vpadalq_s16 into int32.  The
 * ARMv8.2 dot-product variants (sdot) are in kernels_dotprod.c, the only
 * file built with -march=armv8.2-a+dotprod; bn_kernels_neon_dotprod is
 * this table with them, and dispatch.c picks it only where getauxval
 * says the CPU has the instruction.  Ternary codes c in 0..3 are used as
 * the signed factor c - 1 (code 3 counts as +2, as in ref). */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "gemm.h"
#include "kernels.h"
#include "neon.h"

/* ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)), lo = a0..a3 */
AI float
hsum8(float32x4_t lo, float32x4_t hi)
{
	float32x4_t v = vaddq_f32(lo, hi);	/* 04 15 26 37 */
	float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));

	return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
}

/* 4 weights from element i of row w, widened to f32 exactly. */
AI float32x4_t
wload4(int dtype, const void *w, size_t i)
{
	const char *p = w;

	switch (dtype) {
	case BN_DTYPE_F16:
		return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(
		    (const uint16_t *)(p + 2 * i))));
	case BN_DTYPE_BF16:
		return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(
		    (const uint16_t *)(p + 2 * i)), 16));
	case BN_DTYPE_I8: {
		int8_t b[8] = { 0 };

		memcpy(b, p + i, 4);
		return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(
		    vld1_s8(b)))));
	}
	default:
		return vld1q_f32((const float *)(p + 4 * i));
	}
}

AI float
wget1(int dtype, const void *w, size_t i)
{
	const char *p = w;
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
		return (float)(int8_t)p[i];
	default:
		memcpy(&f, p + 4 * i, 4);
		return f;
	}
}

/* RB x TB outputs: rows w + r * rb, tokens x + t * ldx, y[t * ldy + r].
 * 2 * RB * TB accumulators + 2 * TB x registers + 2 w <= 32. */
AI void
fblock(int dtype, const char *w, size_t rb, const float *x, size_t ldx,
    float *y, size_t ldy, size_t n, int RB, int TB)
{
	float32x4_t a0[4][4], a1[4][4], x0[4], x1[4], w0, w1;
	size_t i, m = n - n % 8;
	float s;
	int r, t;

	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			a0[r][t] = a1[r][t] = vdupq_n_f32(0);
	for (i = 0; i < m; i += 8) {
		UNROLL
		for (t = 0; t < TB; t++) {
			x0[t] = vld1q_f32(x + t * ldx + i);
			x1[t] = vld1q_f32(x + t * ldx + i + 4);
		}
		UNROLL
		for (r = 0; r < RB; r++) {
			w0 = wload4(dtype, w + r * rb, i);
			w1 = wload4(dtype, w + r * rb, i + 4);
			UNROLL
			for (t = 0; t < TB; t++) {
				a0[r][t] = vfmaq_f32(a0[r][t], w0, x0[t]);
				a1[r][t] = vfmaq_f32(a1[r][t], w1, x1[t]);
			}
		}
	}
	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++) {
			s = hsum8(a0[r][t], a1[r][t]);
			for (i = m; i < n; i++)
				s = fmaf(wget1(dtype, w + r * rb, i),
				    x[t * ldx + i], s);
			y[t * ldy + r] = s;
		}
}

AI void
matvec_f_t(int dtype, const void *w, size_t rb, const float *x, float *y,
    size_t n, size_t rows)
{
	const char *p = w;
	size_t r;

	for (r = 0; r + 4 <= rows; r += 4)
		fblock(dtype, p + r * rb, rb, x, 0, y + r, 0, n, 4, 1);
	for (; r < rows; r++)
		fblock(dtype, p + r * rb, rb, x, 0, y + r, 0, n, 1, 1);
}

static void
matvec_f_neon(int dtype, const void *w, size_t row_bytes, const float *x,
    float *y, size_t n, size_t rows)
{
	BN_ROW_TYPE(matvec_f_t, dtype, w, row_bytes, x, y, n, rows);
}

/* Weight rows in chunks of about CHUNK_BYTES, kept in L2 while every
 * token passes over them; within a chunk, MM_RB rows x MM_TB tokens. */
#define MM_RB 4
#define MM_TB 2

AI void
matmul_f_t(int dtype, const void *w, size_t rb, const float *x,
    size_t ldx, float *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	size_t r0, r1, r, t, ch = chunk_rows(rb, MM_RB);
	const char *p;

	for (r0 = 0; r0 < rows; r0 = r1) {
		r1 = rows - r0 > ch ? r0 + ch : rows;
		for (t = 0; t < T; t += MM_TB) {
			const float *xt = x + t * ldx;
			float *yt = y + t * ldy;

			p = (const char *)w + r0 * rb;
			if (T - t >= MM_TB) {
				for (r = r0; r + MM_RB <= r1; r += MM_RB,
				    p += MM_RB * rb)
					fblock(dtype, p, rb, xt, ldx, yt + r,
					    ldy, n, MM_RB, MM_TB);
				for (; r < r1; r++, p += rb)
					fblock(dtype, p, rb, xt, ldx, yt + r,
					    ldy, n, 1, MM_TB);
			} else {
				for (r = r0; r + MM_RB <= r1; r += MM_RB,
				    p += MM_RB * rb)
					fblock(dtype, p, rb, xt, ldx, yt + r,
					    ldy, n, MM_RB, 1);
				for (; r < r1; r++, p += rb)
					fblock(dtype, p, rb, xt, ldx, yt + r,
					    ldy, n, 1, 1);
			}
		}
	}
}

static void
matmul_f_neon(int dtype, const void *w, size_t row_bytes, const float *x,
    size_t ldx, float *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	BN_ROW_TYPE(matmul_f_t, dtype, w, row_bytes, x, ldx, y, ldy, n, rows,
	    T);
}

/* Blocks per int16 accumulation: a product is at most 2 * 128 = 256 in
 * magnitude (code 3 included) and each int16 lane takes 16 per block
 * (4 per slice), so 7 blocks stay below 32767. */
#define T2_GROUP 7

/* RB rows x TB tokens over all n, plain NEON. */
AI void
t2tile(const uint8_t *w, size_t rb, const int8_t *x, size_t ldx,
    int32_t *y, size_t ldy, size_t n, int RB, int TB)
{
	int16x8_t p[2][4];
	int32x4_t acc[2][4];
	int8x16_t lo, hi, xl, xh;
	size_t b, nb = n / BN_T2_BLOCK, g;
	int r, t, k;

	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			acc[r][t] = vdupq_n_s32(0);
	for (b = 0; b < nb; b = g) {
		g = b + T2_GROUP < nb ? b + T2_GROUP : nb;
		UNROLL
		for (r = 0; r < RB; r++)
			UNROLL
			for (t = 0; t < TB; t++)
				p[r][t] = vdupq_n_s16(0);
		for (; b < g; b++)
			UNROLL
			for (k = 0; k < 4; k++)
				UNROLL
				for (r = 0; r < RB; r++) {
					t2codes(w + r * rb + 32 * b, k, &lo,
					    &hi);
					UNROLL
					for (t = 0; t < TB; t++) {
						const int8_t *xp = x + t * ldx +
						    b * BN_T2_BLOCK + 32 * k;

						xl = vld1q_s8(xp);
						xh = vld1q_s8(xp + 16);
						p[r][t] = vmlal_s8(p[r][t],
						    vget_low_s8(lo),
						    vget_low_s8(xl));
						p[r][t] = vmlal_high_s8(p[r][t],
						    lo, xl);
						p[r][t] = vmlal_s8(p[r][t],
						    vget_low_s8(hi),
						    vget_low_s8(xh));
						p[r][t] = vmlal_high_s8(p[r][t],
						    hi, xh);
					}
				}
		UNROLL
		for (r = 0; r < RB; r++)
			UNROLL
			for (t = 0; t < TB; t++)
				acc[r][t] = vpadalq_s16(acc[r][t], p[r][t]);
	}
	UNROLL
	for (r = 0; r < RB; r++)
		UNROLL
		for (t = 0; t < TB; t++)
			y[t * ldy + r] = vaddvq_s32(acc[r][t]);
}

/* One token: two rows at a time (two independent chains), then one. */
static void
matvec_t2_neon(const uint8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r;

	for (r = 0; r + 2 <= rows; r += 2)
		t2tile(w + r * row_bytes, row_bytes, x, 0, y + r, 0, n, 2, 1);
	if (r < rows)
		t2tile(w + r * row_bytes, row_bytes, x, 0, y + r, 0, n, 1, 1);
}

/* Tiles of 2 rows x T2_TB tokens over chunks of rows kept in L2. */
static void
matmul_t2_neon(const uint8_t *w, size_t row_bytes, const int8_t *x,
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

#define T2CASE(rb_, tb_) t2tile(wr, row_bytes, xt, ldx, yt + r, ldy, n, \
	rb_, tb_)
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

/* int8 x int8: products widened to int16 (exact: |w * x| <= 16384),
 * pairs added into int32 at once. */
static void
matvec_i8_neon(const int8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows)
{
	size_t r, i;

	for (r = 0; r < rows; r++, w += row_bytes) {
		int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);
		int32_t sum;

		for (i = 0; i + 16 <= n; i += 16) {
			int8x16_t wv = vld1q_s8(w + i), xv = vld1q_s8(x + i);

			a0 = vpadalq_s16(a0, vmull_s8(vget_low_s8(wv),
			    vget_low_s8(xv)));
			a1 = vpadalq_s16(a1, vmull_high_s8(wv, xv));
		}
		sum = vaddvq_s32(vaddq_s32(a0, a1));
		for (; i < n; i++)
			sum += (int32_t)w[i] * x[i];
		y[r] = sum;
	}
}

/* int16 products of the low and the high halves added in pairs */
AI int32x4_t
i8dot_pairs(int32x4_t acc, int8x16_t a, int8x16_t b)
{
	acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
	return vpadalq_s16(acc, vmull_high_s8(a, b));
}

/* scores_i8 (neon.h), products widened to int16 as matvec_i8's */
static void
scores_i8_neon(const int8_t *k, size_t rb, const int8_t *q, size_t ldq,
    const float *qs, size_t nh, float *y, size_t ldy, size_t n,
    size_t rows)
{
	scores_i8_rows(k, rb, q, ldq, qs, nh, y, ldy, n, rows, i8dot_pairs);
}

static void
matmul_i8_neon(const int8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_i8_each(&bn_kernels_neon, w, row_bytes, x, ldx, y, ldy, n,
	    rows, T);
}

static void
matmul_i8_neon_dp(const int8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_i8_each(&bn_kernels_neon_dotprod, w, row_bytes, x, ldx, y,
	    ldy, n, rows, T);
}

/* m = max |x| ignoring NaN, as ref's "v > m ? v : m" lane by lane (max
 * is exact, so the lanes do not matter); q = clamp(round(x * s)) with
 * ref's comparisons (NaN becomes -128); vrndnq rounds half to even,
 * as nearbyintf in the default rounding mode. */
static float
quant_i8_neon(const float *x, int8_t *q, size_t n)
{
	const float32x4_t lo = vdupq_n_f32(-128.0f), hi = vdupq_n_f32(127.0f);
	float32x4_t mv = vdupq_n_f32(0), v[4], sv;
	float m = 0, s, f;
	size_t i;
	int k;

	for (i = 0; i + 4 <= n; i += 4) {
		float32x4_t a = vabsq_f32(vld1q_f32(x + i));

		mv = vbslq_f32(vcgtq_f32(a, mv), a, mv);
	}
	for (k = 0; k < 4; k++) {
		f = vgetq_lane_f32(mv, 0);
		m = f > m ? f : m;
		mv = vextq_f32(mv, mv, 1);
	}
	for (; i < n; i++) {
		f = fabsf(x[i]);
		m = f > m ? f : m;
	}
	s = 127.0f / (m > 1e-5f ? m : 1e-5f);
	sv = vdupq_n_f32(s);
	for (i = 0; i + 16 <= n; i += 16) {
		int16x8_t a, b;

		UNROLL
		for (k = 0; k < 4; k++) {
			v[k] = vrndnq_f32(vmulq_f32(vld1q_f32(x + i + 4 * k),
			    sv));
			v[k] = vbslq_f32(vcgtq_f32(v[k], lo), v[k], lo);
			v[k] = vbslq_f32(vcltq_f32(v[k], hi), v[k], hi);
		}
		a = vcombine_s16(vmovn_s32(vcvtq_s32_f32(v[0])),
		    vmovn_s32(vcvtq_s32_f32(v[1])));
		b = vcombine_s16(vmovn_s32(vcvtq_s32_f32(v[2])),
		    vmovn_s32(vcvtq_s32_f32(v[3])));
		vst1q_s8(q + i, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
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
dot_f32_neon(const float *a, const float *b, size_t n)
{
	float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
	size_t i, m = n - n % 8;
	float s;

	for (i = 0; i < m; i += 8) {
		a0 = vfmaq_f32(a0, vld1q_f32(a + i), vld1q_f32(b + i));
		a1 = vfmaq_f32(a1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
	}
	s = hsum8(a0, a1);
	for (; i < n; i++)
		s = fmaf(a[i], b[i], s);
	return s;
}

AI void
rmsnorm_t(float *y, const float *x, int dtype, const void *w, size_t n,
    float r)
{
	float32x4_t rv = vdupq_n_f32(r);
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vmulq_f32(wload4(dtype, w, i),
		    vmulq_f32(vld1q_f32(x + i), rv)));
	for (; i < n; i++)
		y[i] = wget1(dtype, w, i) * (x[i] * r);
}

static void
rmsnorm_neon(float *y, const float *x, int wdtype, const void *w, size_t n,
    float eps)
{
	float ss = dot_f32_neon(x, x, n), r;

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

/* 4 rows a step (the divisions are most of it); the rest as ref */
static void
isum_f32_neon(const int32_t *isum, const float *scale, float as, int div,
    float *y, size_t n)
{
	const float32x4_t a = vdupq_n_f32(as);
	float32x4_t v, s;
	size_t r;

	for (r = 0; r + 4 <= n; r += 4) {
		v = vcvtq_f32_s32(vld1q_s32(isum + r));
		s = vld1q_f32(scale + r);
		vst1q_f32(y + r, div ? vdivq_f32(v, vmulq_f32(a, s)) :
		    vdivq_f32(vmulq_f32(v, s), a));
	}
	bn_kernels_ref.isum_f32(isum + r, scale + r, as, div, y + r, n - r);
}

static void
axpy_f32_neon(float *y, float a, const float *x, size_t n)
{
	float32x4_t av = vdupq_n_f32(a);
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)	/* y + a * x, one rounding */
		vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av,
		    vld1q_f32(x + i)));
	for (; i < n; i++)
		y[i] = fmaf(a, x[i], y[i]);
}

/* NV vectors of y (4 floats each, from element i0) kept in registers
 * while the rows pass: each element's fmaf chain in row order. */
AI void
arows(int dtype, float *y, const float *a, const char *x, size_t rb,
    size_t i0, size_t rows, int NV)
{
	float32x4_t acc[16], av;
	size_t r;
	int v;

	UNROLL
	for (v = 0; v < NV; v++)
		acc[v] = vld1q_f32(y + i0 + 4 * v);
	for (r = 0; r < rows; r++, x += rb) {
		av = vdupq_n_f32(a[r]);
		UNROLL
		for (v = 0; v < NV; v++)
			acc[v] = vfmaq_f32(acc[v], av, wload4(dtype, x,
			    i0 + 4 * v));
	}
	UNROLL
	for (v = 0; v < NV; v++)
		vst1q_f32(y + i0 + 4 * v, acc[v]);
}

AI void
axpy_rows_t(int dtype, float *y, const float *a, const char *x, size_t rb,
    size_t n, size_t rows)
{
	size_t i = 0, r;

	for (; i + 64 <= n; i += 64)
		arows(dtype, y, a, x, rb, i, rows, 16);
	for (; i + 32 <= n; i += 32)
		arows(dtype, y, a, x, rb, i, rows, 8);
	for (; i + 16 <= n; i += 16)
		arows(dtype, y, a, x, rb, i, rows, 4);
	for (; i + 4 <= n; i += 4)
		arows(dtype, y, a, x, rb, i, rows, 1);
	for (; i < n; i++)
		for (r = 0; r < rows; r++)
			y[i] = fmaf(a[r], wget1(dtype, x + r * rb, i), y[i]);
}

static void
axpy_rows_neon(int dtype, float *y, const float *a, const void *x,
    size_t row_bytes, size_t n, size_t rows)
{
	BN_ROW_TYPE(axpy_rows_t, dtype, y, a, x, row_bytes, n, rows);
}

/* gemm.h's micro-kernel: the 6 x 16 tile in 24 accumulators; per k one
 * fused multiply-add per element, acc = fma(a, b, acc) as gemm_ref.c
 * (vfmaq_laneq_f32(acc, b, a, l) = acc + b * a[l], one rounding). */
void
bn_gemm_ukernel_neon(size_t kc, const float *ap, const float *bp, float *c,
    size_t ldc, size_t mr, size_t nr, int acc)
{
	float32x4_t t[BN_GEMM_MR][4], b[4], a03;
	float32x2_t a45;
	float tt[BN_GEMM_MR][BN_GEMM_NR];
	size_t k, i, j;

	UNROLL
	for (i = 0; i < BN_GEMM_MR; i++)
		UNROLL
		for (j = 0; j < 4; j++)
			t[i][j] = vdupq_n_f32(0);
	for (k = 0; k < kc; k++, ap += BN_GEMM_MR, bp += BN_GEMM_NR) {
		UNROLL
		for (j = 0; j < 4; j++)
			b[j] = vld1q_f32(bp + 4 * j);
		a03 = vld1q_f32(ap);
		a45 = vld1_f32(ap + 4);
		UNROLL
		for (j = 0; j < 4; j++) {
			t[0][j] = vfmaq_laneq_f32(t[0][j], b[j], a03, 0);
			t[1][j] = vfmaq_laneq_f32(t[1][j], b[j], a03, 1);
			t[2][j] = vfmaq_laneq_f32(t[2][j], b[j], a03, 2);
			t[3][j] = vfmaq_laneq_f32(t[3][j], b[j], a03, 3);
			t[4][j] = vfmaq_lane_f32(t[4][j], b[j], a45, 0);
			t[5][j] = vfmaq_lane_f32(t[5][j], b[j], a45, 1);
		}
	}
	if (mr == BN_GEMM_MR && nr == BN_GEMM_NR) {
		UNROLL
		for (i = 0; i < BN_GEMM_MR; i++) {
			float *p = c + i * ldc;

			UNROLL
			for (j = 0; j < 4; j++) {
				if (acc)
					t[i][j] = vaddq_f32(vld1q_f32(p + 4 * j),
					    t[i][j]);
				vst1q_f32(p + 4 * j, t[i][j]);
			}
		}
		return;
	}
	UNROLL
	for (i = 0; i < BN_GEMM_MR; i++)
		UNROLL
		for (j = 0; j < 4; j++)
			vst1q_f32(tt[i] + 4 * j, t[i][j]);
	for (i = 0; i < mr; i++)
		for (j = 0; j < nr; j++)
			c[i * ldc + j] = acc ? c[i * ldc + j] + tt[i][j] :
			    tt[i][j];
}

/* t3k: ref's decoding for now (no NEON version yet), with each
 * table's own t2 products for prompts */
static void
matmul_t3_neon(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_t3_chunked(&bn_kernels_neon, w, row_bytes, x, ldx, y, ldy,
	    n, rows, T);
}

static void
matmul_t3_neon_dp(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T)
{
	bn_matmul_t3_chunked(&bn_kernels_neon_dotprod, w, row_bytes, x, ldx,
	    y, ldy, n, rows, T);
}

static void
axpy_rows_h_neon(int dtype, float *y, size_t ldy, const float *a,
    size_t lda, size_t nh, const void *x, size_t row_bytes, size_t n,
    size_t rows)
{
	bn_axpy_rows_h_each(&bn_kernels_neon, dtype, y, ldy, a, lda, nh, x,
	    row_bytes, n, rows);
}

const struct bn_kernels bn_kernels_neon = {
	.name = "neon",
	.matvec_f = matvec_f_neon,
	.matmul_f = matmul_f_neon,
	.matvec_t2 = matvec_t2_neon,
	.matmul_t2 = matmul_t2_neon,
	.matvec_t3 = bn_matvec_t3_ref,
	.matmul_t3 = matmul_t3_neon,
	.t3_t2 = bn_t3_t2_ref,
	.matvec_i8 = matvec_i8_neon,
	.matmul_i8 = matmul_i8_neon,
	.matvec_q4 = bn_matvec_q4_ref,
	.quant_i8 = quant_i8_neon,
	.scores_i8 = scores_i8_neon,
	.rmsnorm = rmsnorm_neon,
	.dot_f32 = dot_f32_neon,
	.axpy_f32 = axpy_f32_neon,
	.isum_f32 = isum_f32_neon,
	.axpy_rows = axpy_rows_neon,
	.axpy_rows_h = axpy_rows_h_neon,
	.softmax = bn_softmax_ref,
	.gemm_uk = bn_gemm_ukernel_neon,
	.int2_t2 = bn_int2_t2_ref,
};

/* The same table with the sdot int8 kernels. */
const struct bn_kernels bn_kernels_neon_dotprod = {
	.name = "neon-dotprod",
	.matvec_f = matvec_f_neon,
	.matmul_f = matmul_f_neon,
	.matvec_t2 = bn_neon_dp_matvec_t2,
	.matmul_t2 = bn_neon_dp_matmul_t2,
	.matvec_t3 = bn_matvec_t3_ref,
	.matmul_t3 = matmul_t3_neon_dp,
	.t3_t2 = bn_t3_t2_ref,
	.matvec_i8 = bn_neon_dp_matvec_i8,
	.matmul_i8 = matmul_i8_neon_dp,
	.matvec_q4 = bn_matvec_q4_ref,
	.quant_i8 = quant_i8_neon,
	.scores_i8 = bn_neon_dp_scores_i8,
	.rmsnorm = rmsnorm_neon,
	.dot_f32 = dot_f32_neon,
	.axpy_f32 = axpy_f32_neon,
	.isum_f32 = isum_f32_neon,
	.axpy_rows = axpy_rows_neon,
	.axpy_rows_h = axpy_rows_h_neon,
	.softmax = bn_softmax_ref,
	.gemm_uk = bn_gemm_ukernel_neon,
	.int2_t2 = bn_int2_t2_ref,
};
