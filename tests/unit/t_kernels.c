/* t_kernels.c: every kernel table against ref, bit for bit; ref against
 * obvious computations; the thread pool. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "kernels.h"
#include "check.h"

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

/* A float of varied magnitude: mostly [-1, 1), sometimes large or tiny. */
static float
rndf(void)
{
	float f = (float)rnd() / (float)(1u << 23) * 2.0f - 1.0f;

	switch (rnd() % 16) {
	case 0: return f * 1e6f;
	case 1: return f * 1e-6f;
	case 2: return f * 3e30f;
	default: return f;
	}
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		perror("t_kernels");
		exit(2);
	}
	return p;
}

static size_t
esize(int dtype)
{
	return dtype == BN_DTYPE_F32 ? 4 : dtype == BN_DTYPE_I8 ? 1 : 2;
}

/* Random weights of dtype; the values stay in f16 range for f16; i8
 * codes as the q8 KV cache holds them. */
static void
fill_w(int dtype, unsigned char *w, size_t count, int big)
{
	size_t i;
	uint16_t h;
	float f;

	for (i = 0; i < count; i++) {
		f = big ? rndf() : (float)rnd() / (float)(1u << 23) - 1.0f;
		switch (dtype) {
		case BN_DTYPE_F16:
			h = bn_f32_to_f16(f * 100.0f);
			memcpy(w + 2 * i, &h, 2);
			break;
		case BN_DTYPE_BF16:
			h = bn_f32_to_bf16(f);
			memcpy(w + 2 * i, &h, 2);
			break;
		case BN_DTYPE_I8:	/* big: the extremes */
			w[i] = (unsigned char)(big && i % 3 ? (i % 2 ? 0x80 :
			    0x7f) : rnd() & 0xff);
			break;
		default:
			memcpy(w + 4 * i, &f, 4);
		}
	}
}

static void
fill_x(float *x, size_t n, int big)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = big ? rndf() : (float)rnd() / (float)(1u << 23) - 1.0f;
}

/* --- ref against obvious computations --- */

static void
test_ref_float(void)
{
	static const int dt[] = { BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16,
	    BN_DTYPE_I8 };
	const struct bn_kernels *k = &bn_kernels_ref;
	size_t n, i, r, rows = 3, rb;
	unsigned char *w;
	float *x, *wf, *y, *y2, *yf;
	double d, mag, maxrel = 0;
	int j, ok;

	for (j = 0; j < 4; j++)
		for (n = 0; n < 200; n += 7) {
			rb = n * esize(dt[j]) + 6;
			w = xmalloc(rows * rb);
			wf = xmalloc(rows * n * 4 + 4);
			x = xmalloc(n * 4 + 4);
			y = xmalloc(rows * 4);
			y2 = xmalloc(rows * 4);
			yf = xmalloc(rows * 4);
			fill_w(dt[j], w, rows * rb / esize(dt[j]), 0);
			fill_x(x, n, 0);
			for (r = 0; r < rows; r++)
				bn_row_to_f32(dt[j], w + r * rb, n,
				    wf + r * n);
			k->matvec_f(dt[j], w, rb, x, y, n, rows);
			/* widening is exact: same as f32 weights */
			k->matvec_f(BN_DTYPE_F32, wf, n * 4, x, yf, n, rows);
			CHECK(memcmp(y, yf, rows * 4) == 0);
			/* matmul with T = 1 is matvec */
			k->matmul_f(dt[j], w, rb, x, n, y2, rows, n, rows, 1);
			CHECK(memcmp(y, y2, rows * 4) == 0);
			/* close to the double-precision sum */
			ok = 1;
			for (r = 0; r < rows; r++) {
				d = mag = 0;
				for (i = 0; i < n; i++) {
					d += (double)wf[r * n + i] * x[i];
					mag += fabs((double)wf[r * n + i] *
					    x[i]);
				}
				if (mag > 0 && fabs(y[r] - d) / mag > maxrel)
					maxrel = fabs(y[r] - d) / mag;
				if (fabs(y[r] - d) > 1e-5 * mag)
					ok = 0;
			}
			CHECK(ok);
			if (dt[j] == BN_DTYPE_F32)
				CHECK(k->dot_f32((const float *)(void *)w, x,
				    n) == y[0]);
			free(w), free(wf), free(x), free(y), free(y2), free(yf);
		}
	printf("ref matvec_f vs double: max |err| / sum |w x| = %.3g "
	    "(tolerance 1e-5)\n", maxrel);

	/* the documented order, spelled out for n = 11 */
	{
		float a[11], b[11], acc[8] = { 0 }, s;

		fill_x(a, 11, 1);
		fill_x(b, 11, 1);
		for (i = 0; i < 8; i++)
			acc[i] = fmaf(a[i], b[i], 0.0f);
		s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) +
		    ((acc[1] + acc[5]) + (acc[3] + acc[7]));
		for (i = 8; i < 11; i++)
			s = fmaf(a[i], b[i], s);
		CHECK(k->dot_f32(a, b, 11) == s);
	}
}

static void
test_ref_int(void)
{
	const struct bn_kernels *k = &bn_kernels_ref;
	size_t n, r, i, t, rows = 5, T = 3, rb;
	uint8_t *w;
	int8_t x[3 * 640], q[300];
	int32_t y[3 * 5], y2[5], want;
	float f[300], s;
	int ok;

	for (n = 0; n <= 640; n += 128) {
		rb = n / 4;
		w = xmalloc(rows * rb);
		for (i = 0; i < rows * rb; i++)
			w[i] = 0x55;	/* all zeros */
		for (r = 0; r < rows; r++)
			for (i = 0; i < n; i++)
				bn_t2_set(w + r * rb, i, (int)(rnd() % 3) - 1);
		for (i = 0; i < T * n; i++)
			x[i] = (int8_t)(rnd() & 0xff);
		k->matmul_t2(w, rb, x, n, y, rows, n, rows, T);
		ok = 1;
		for (t = 0; t < T; t++) {
			k->matvec_t2(w, rb, x + t * n, y2, n, rows);
			for (r = 0; r < rows; r++) {
				want = 0;
				for (i = 0; i < n; i++)
					want += bn_t2_get(w + r * rb, i) *
					    x[t * n + i];
				ok &= y[t * rows + r] == want &&
				    y2[r] == want;
			}
		}
		CHECK(ok);
		free(w);
	}

	/* quant_i8: m = 127 gives s = 1, so rounding is visible */
	{
		static const float in[] = { 127, 2.5f, -2.5f, 3.5f, -0.5f,
		    0.5f, 1.5f, -127, 0, -0.0f };
		static const int8_t want8[] = { 127, 2, -2, 4, 0, 0, 2, -127,
		    0, 0 };

		s = k->quant_i8(in, q, 10);
		CHECK(s == 1.0f);
		CHECK(memcmp(q, want8, 10) == 0);
	}
	s = k->quant_i8(f, q, 0);
	CHECK(s == 127.0f / 1e-5f);
	f[0] = 0, f[1] = 1e-7f, f[2] = -1e-7f;
	s = k->quant_i8(f, q, 3);
	CHECK(s == 127.0f / 1e-5f && q[0] == 0 && q[1] == 1 && q[2] == -1);
	f[0] = NAN, f[1] = 2, f[2] = -4;
	s = k->quant_i8(f, q, 3);
	CHECK(s == 127.0f / 4 && q[0] == -128 && q[1] == 64 && q[2] == -127);
	/* the formula, evaluated independently */
	fill_x(f, 300, 0);
	s = k->quant_i8(f, q, 300);
	{
		float m = 0;

		for (i = 0; i < 300; i++)
			m = fmaxf(m, fabsf(f[i]));
		CHECK(s == 127.0f / m);
		ok = 1;
		for (i = 0; i < 300; i++) {
			long v = lrintf(f[i] * s);

			v = v < -128 ? -128 : v > 127 ? 127 : v;
			ok &= q[i] == v;
		}
		CHECK(ok);
	}

	/* axpy: y += a x with one rounding */
	{
		float ya[5] = { 1, 2, 3, 4, 5 }, xa[5] = { 1, 1, 1, 1, 3 };

		k->axpy_f32(ya, 0.5f, xa, 5);
		CHECK(ya[0] == 1.5f && ya[3] == 4.5f && ya[4] == 6.5f);
	}
	/* rmsnorm: x = (3, 4), w = 1: ss = 25, r = 1 / sqrt(12.5) */
	{
		float xa[2] = { 3, 4 }, wa[2] = { 1, 2 }, ya[2];
		float rr = 1.0f / sqrtf(25.0f / 2 + 0.0f);

		k->rmsnorm(ya, xa, BN_DTYPE_F32, wa, 2, 0.0f);
		CHECK(ya[0] == 3 * rr && ya[1] == 2 * (4 * rr));
	}
}

/* --- a table against ref, bit for bit --- */

/* Bitwise equality, except that any NaN equals any NaN: C leaves NaN
 * sign and payload open (a compiler may commute a + b), so NaN-ness is
 * the contract there, and every other value is compared bit for bit. */
static int
same_f(const float *a, const float *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], 4) != 0 &&
		    !(isnan(a[i]) && isnan(b[i])))
			return 0;
	return 1;
}

static const struct bn_kernels *K, *R = &bn_kernels_ref;

/* int2_t2 on random codes, groups groups (4 rows each), out[c * ld + g]
 * with ld >= groups (bytes past groups must stay): against the definition, element
 * by element (K == R), or against ref.  bad: put a code 3 in (both
 * must say so). */
static int
cmp_int2(const struct bn_kernels *k, size_t groups, int bad)
{
	size_t rows = 4 * groups, rb = 32 + (size_t)(rnd() % 2) * 32;
	size_t ld = groups + rnd() % 5, r, c, i;
	uint8_t *w = xmalloc(rows * rb + 1), *o1 = xmalloc(128 * ld + 1);
	uint8_t *o2 = xmalloc(128 * ld + 1), v, want;
	int ok = 1, b1, b2;

	for (i = 0; i < rows * rb; i++)
		w[i] = (uint8_t)(rnd() % 3 | rnd() % 3 << 2 | rnd() % 3 << 4 |
		    rnd() % 3 << 6);
	if (bad && rows > 0)
		w[(rnd() % rows) * rb + rnd() % 32] |= (uint8_t)(3 << 2 *
		    (rnd() % 4));
	memset(o1, 0xa5, 128 * ld);
	memset(o2, 0xa5, 128 * ld);
	b2 = k->int2_t2(w, rb, groups, o2, ld);
	if (k == R) {	/* the definition */
		b1 = 0;
		for (c = 0; c < 128; c++)
			for (r = 0; r < rows; r++) {
				v = w[r * rb + c % 32] >> 2 * (c / 32) & 3;
				b1 |= v == 3;
				want = (uint8_t)((v - 1) & 3);
				if (r % 4 == 0)
					o1[c * ld + r / 4] = 0;
				o1[c * ld + r / 4] |= (uint8_t)(want << 2 *
				    (r % 4));
			}
	} else
		b1 = R->int2_t2(w, rb, groups, o1, ld);
	ok &= (b1 != 0) == (b2 != 0) && (b2 != 0) == (bad && rows > 0);
	if (!bad)	/* else the output is unspecified */
		ok &= memcmp(o1, o2, 128 * ld) == 0;
	if (!ok)
		fprintf(stderr, "%s int2_t2 groups %zu bad %d differs\n",
		    k->name, groups, bad);
	free(w), free(o1), free(o2);
	return ok;
}

static int
cmp_matf(int dtype, size_t n, size_t rows, size_t T, int big, int off)
{
	size_t rb = n * esize(dtype) + (size_t)(rnd() % 3) * 2;
	size_t ldx = n + rnd() % 3, ldy = rows + rnd() % 3, i;
	unsigned char *wb = xmalloc(rows * rb + 1), *w = wb + off;
	float *xb = xmalloc((T * ldx + 1) * 4), *x = xb + off;
	float *y1 = xmalloc(T * ldy * 4), *y2 = xmalloc(T * ldy * 4);
	int ok = 1;

	fill_w(dtype, w, rows * rb / esize(dtype), big);
	fill_x(x, T * ldx, big);
	for (i = 0; i < T * ldy; i++)
		y1[i] = y2[i] = -1;	/* the gaps must stay as they are */
	R->matmul_f(dtype, w, rb, x, ldx, y1, ldy, n, rows, T);
	K->matmul_f(dtype, w, rb, x, ldx, y2, ldy, n, rows, T);
	ok &= same_f(y1, y2, T * ldy);
	/* matvec equals every column of matmul */
	K->matvec_f(dtype, w, rb, x + (T - 1) * ldx, y2, n, rows);
	ok &= same_f(y1 + (T - 1) * ldy, y2, rows);
	R->matvec_f(dtype, w, rb, x, y1, n, rows);
	K->matvec_f(dtype, w, rb, x, y2, n, rows);
	ok &= same_f(y1, y2, rows);
	if (!ok)
		fprintf(stderr, "matmul_f dtype %d n %zu rows %zu T %zu big %d "
		    "off %d differs\n", dtype, n, rows, T, big, off);
	free(wb), free(xb), free(y1), free(y2);
	return ok;
}

/* fillw: -1 random codes 0..2; else every byte = fillw */
static int
cmp_t2(size_t n, size_t rows, size_t T, int fillw, int fillx, int off)
{
	size_t rb = n / 4 + (size_t)(rnd() % 2) * 32;
	size_t ldx = n + rnd() % 5, ldy = rows + rnd() % 3, i;
	uint8_t *wb = xmalloc(rows * rb + 1), *w = wb + off;
	int8_t *xb = xmalloc(T * ldx + 1), *x = xb + off;
	int32_t *y1 = xmalloc(T * ldy * 4), *y2 = xmalloc(T * ldy * 4);
	unsigned c;
	int ok = 1;

	for (i = 0; i < rows * rb; i++) {
		if (fillw >= 0) {
			w[i] = (uint8_t)fillw;
			continue;
		}
		c = rnd() % 3;
		c |= rnd() % 3 << 2;
		c |= rnd() % 3 << 4;
		c |= rnd() % 3 << 6;
		w[i] = (uint8_t)c;
	}
	for (i = 0; i < T * ldx; i++)
		x[i] = (int8_t)(fillx < 256 ? fillx : (int)(rnd() & 0xff) - 128);
	for (i = 0; i < T * ldy; i++)
		y1[i] = y2[i] = 7;
	R->matmul_t2(w, rb, x, ldx, y1, ldy, n, rows, T);
	K->matmul_t2(w, rb, x, ldx, y2, ldy, n, rows, T);
	ok &= memcmp(y1, y2, T * ldy * 4) == 0;
	R->matvec_t2(w, rb, x, y1, n, rows);
	K->matvec_t2(w, rb, x, y2, n, rows);
	ok &= memcmp(y1, y2, rows * 4) == 0;
	if (!ok)
		fprintf(stderr, "t2 n %zu rows %zu T %zu w %d x %d off %d "
		    "differs\n", n, rows, T, fillw, fillx, off);
	free(wb), free(xb), free(y1), free(y2);
	return ok;
}

/* axpy_rows against ref, and (ref) against axpy_f32 on each row
 * widened: rows of n elements at an odd address when off, f16 rows with
 * subnormals, infinities and NaN when big */
static int
cmp_rows(int dtype, size_t n, size_t rows, int big, int off)
{
	size_t es = esize(dtype), rb = n * es + 2 * es, r, i;
	unsigned char *xb = xmalloc(rows * rb + 8), *x = xb + off * es;
	float *a = xmalloc(rows * 4 + 4), *y0 = xmalloc(n * 4 + 4);
	float *y1 = xmalloc(n * 4 + 4), *y2 = xmalloc(n * 4 + 4);
	float *wf = xmalloc(n * 4 + 4);
	uint16_t h;
	int ok = 1;

	fill_w(dtype, x, rows * rb / es, big);
	if (big && dtype == BN_DTYPE_F16)
		for (i = 0; i < rows * rb / 2; i += 5) {
			h = (uint16_t[]){ 0x0001, 0x83ff, 0x7c00, 0xfc00,
			    0x7e01, 0x7bff, 0x8000 }[i / 5 % 7];
			memcpy(x + 2 * i, &h, 2);
		}
	fill_x(a, rows, big);
	fill_x(y0, n, big);
	memcpy(y1, y0, n * 4);
	memcpy(y2, y0, n * 4);
	R->axpy_rows(dtype, y1, a, x, rb, n, rows);
	K->axpy_rows(dtype, y2, a, x, rb, n, rows);
	ok &= same_f(y1, y2, n);
	memcpy(y2, y0, n * 4);
	for (r = 0; r < rows; r++) {
		bn_row_to_f32(dtype, x + r * rb, n, wf);
		R->axpy_f32(y2, a[r], wf, n);
	}
	ok &= same_f(y1, y2, n);
	if (!ok)
		fprintf(stderr, "axpy_rows dtype %d n %zu rows %zu big %d "
		    "off %d differs\n", dtype, n, rows, big, off);
	free(xb), free(a), free(y0), free(y1), free(y2), free(wf);
	return ok;
}

/* axpy_rows_h: nh heads over the same rows, each head's y as ref's
 * axpy_rows gives it (the rows' blocks and column tails) */
static int
cmp_rows_h(int dtype, size_t n, size_t rows, size_t nh, int big)
{
	size_t es = esize(dtype), rb = n * es + 2 * es, lda = rows + 3;
	size_t ldy = n + 5, h;
	unsigned char *x = xmalloc(rows * rb + 8);
	float *a = xmalloc(nh * lda * 4 + 4), *y0 = xmalloc(nh * ldy * 4 + 4);
	float *y1 = xmalloc(nh * ldy * 4 + 4), *y2 = xmalloc(nh * ldy * 4 + 4);
	int ok;

	fill_w(dtype, x, rows * rb / es, big);
	fill_x(a, nh * lda, big);
	fill_x(y0, nh * ldy, big);
	memcpy(y1, y0, nh * ldy * 4);
	memcpy(y2, y0, nh * ldy * 4);
	for (h = 0; h < nh; h++)
		R->axpy_rows(dtype, y1 + h * ldy, a + h * lda, x, rb, n, rows);
	K->axpy_rows_h(dtype, y2, ldy, a, lda, nh, x, rb, n, rows);
	ok = same_f(y1, y2, nh * ldy);
	if (!ok)
		fprintf(stderr, "%s axpy_rows_h dtype %d n %zu rows %zu nh %zu "
		    "differs\n", K->name, dtype, n, rows, nh);
	free(x), free(a), free(y0), free(y1), free(y2);
	return ok;
}

/* softmax against ref: scores of a scale as attention's; kind 1 puts
 * in NaN, infinities and both zeros, kind 2 makes every score equal,
 * kind 3 spreads them over every exponent below 2^7 (the exponentials
 * from 1 down to where expf underflows: the x86 tables compute glibc's
 * expf in vectors, checked here once against libm on every float of
 * magnitude below 88: 2237661184 values, all equal) */
static int
cmp_softmax(size_t n, int kind)
{
	static const float sp[] = { NAN, INFINITY, -INFINITY, 0.0f, -0.0f,
	    1e30f, -1e30f };
	float *x1 = xmalloc(n * 4 + 4), *x2 = xmalloc(n * 4 + 4);
	float *x3 = xmalloc(n * 4 + 4), *pre = xmalloc(n * 4 + 4);
	float *post = xmalloc(n * 4 + 4);
	float scale = 1.0f / sqrtf((float)(1 + rnd() % 256));
	size_t i;
	int ok;

	for (i = 0; i < n; i++) {
		x1[i] = kind == 2 ? -0.0f : ((float)rnd() / (float)(1u << 20) -
		    8.0f);
		if (kind == 1 && rnd() % 5 == 0)
			x1[i] = sp[rnd() % 7];
		if (kind == 3) {
			uint32_t u = (rnd() << 8 ^ rnd()) % (0x43000000u);

			memcpy(&x1[i], &u, 4);	/* 0 <= x < 128 */
			x1[i] = rnd() % 2 ? -x1[i] : x1[i];
		}
	}
	memcpy(x2, x1, n * 4);
	memcpy(x3, x1, n * 4);
	R->softmax(x1, n, scale, NULL, NULL);
	K->softmax(x2, n, scale, NULL, NULL);
	ok = same_f(x1, x2, n);
	/* with a q8 cache's key and value scales */
	for (i = 0; i < n; i++) {
		pre[i] = (float)(rnd() % 1000 + 1) / 4096.0f;
		post[i] = (float)(rnd() % 1000 + 1) / 8192.0f;
		x1[i] = x3[i];
	}
	memcpy(x2, x1, n * 4);
	R->softmax(x1, n, scale, pre, post);
	K->softmax(x2, n, scale, pre, post);
	ok &= same_f(x1, x2, n);
	if (!ok)
		fprintf(stderr, "%s softmax n %zu kind %d differs\n", K->name,
		    n, kind);
	free(x1), free(x2), free(x3), free(pre), free(post);
	return ok;
}

static int
cmp_vec(size_t n, int big, int off)
{
	static const int dt[] = { BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16,
	    BN_DTYPE_I8 };
	float *ab = xmalloc((n + 1) * 4), *a = ab + off;
	float *bb = xmalloc((n + 1) * 4), *b = bb + off;
	float *y1 = xmalloc(n * 4 + 4), *y2 = xmalloc(n * 4 + 4), s1, s2;
	unsigned char *w = xmalloc(n * 4 + 1);
	int8_t *q1 = xmalloc(n + 1), *q2 = xmalloc(n + 1);
	int ok = 1, j;

	fill_x(a, n, big);
	fill_x(b, n, big);
	if (n > 3 && big) {
		a[n / 2] = NAN;		/* quant_i8 ignores NaN in the max */
		a[n / 3] = -INFINITY;
	}
	s1 = R->quant_i8(a, q1, n);
	s2 = K->quant_i8(a, q2, n);
	ok &= memcmp(&s1, &s2, 4) == 0 && memcmp(q1, q2, n) == 0;
	fill_x(a, n, big);
	s1 = R->dot_f32(a, b, n);
	s2 = K->dot_f32(a, b, n);
	ok &= same_f(&s1, &s2, 1);
	memcpy(y1, b, n * 4);
	memcpy(y2, b, n * 4);
	R->axpy_f32(y1, 0.37f, a, n);
	K->axpy_f32(y2, 0.37f, a, n);
	ok &= same_f(y1, y2, n);
	for (j = 0; j < 2; j++) {	/* a product's int32 sums to f32 */
		int32_t *is = (int32_t *)(void *)w;
		size_t i;

		for (i = 0; i < n; i++) {
			is[i] = (int32_t)(rnd() << 8 ^ rnd());
			b[i] = fabsf(b[i]) + 1e-30f;	/* row scales > 0 */
		}
		if (n > 2) {
			is[0] = INT32_MAX;
			is[1] = INT32_MIN;
			is[2] = 0;
		}
		R->isum_f32(is, b, big ? 3e-7f : 12.5f, j, y1, n);
		K->isum_f32(is, b, big ? 3e-7f : 12.5f, j, y2, n);
		ok &= same_f(y1, y2, n);
		for (i = 0; i < n; i++) {	/* ref is the expression */
			float v = (float)is[i], e = j ? v / ((big ? 3e-7f :
			    12.5f) * b[i]) : v * b[i] / (big ? 3e-7f : 12.5f);

			ok &= memcmp(&e, y1 + i, 4) == 0;
		}
	}
	for (j = 0; j < 3; j++) {	/* norm weights are float */
		fill_w(dt[j], w + off, n, 0);
		R->rmsnorm(y1, a, dt[j], w + off, n, 1e-6f);
		K->rmsnorm(y2, a, dt[j], w + off, n, 1e-6f);
		ok &= same_f(y1, y2, n);
		memcpy(y1, a, n * 4);	/* in place: y == x */
		memcpy(y2, a, n * 4);
		R->rmsnorm(y1, y1, dt[j], w + off, n, 1e-5f);
		K->rmsnorm(y2, y2, dt[j], w + off, n, 1e-5f);
		ok &= same_f(y1, y2, n);
	}
	if (!ok)
		fprintf(stderr, "vector kernels n %zu big %d off %d differ\n",
		    n, big, off);
	free(ab), free(bb), free(y1), free(y2), free(w), free(q1), free(q2);
	return ok;
}

/* matvec_i8 of rows x n against ref and the plain sum; fill: 256
 * random, else every w and x byte is fill, or (fill = 257) w and x
 * alternate -128 and 127 (the largest magnitudes of both signs). */
static int
cmp_i8(size_t n, size_t rows, int fill, int off)
{
	size_t rb = n + (size_t)(rnd() % 3), i, r;
	int8_t *wb = xmalloc(rows * rb + 1), *w = wb + off;
	int8_t *xb = xmalloc(n + 1), *x = xb + off;
	int32_t *y1 = xmalloc(rows * 4 + 4), *y2 = xmalloc(rows * 4 + 4), v;
	int ok = 1;

	for (i = 0; i < rows * rb; i++)
		w[i] = (int8_t)(fill == 256 ? (int)(rnd() % 256) - 128 :
		    fill == 257 ? (i % 2 ? 127 : -128) : fill);
	for (i = 0; i < n; i++)
		x[i] = (int8_t)(fill == 256 ? (int)(rnd() % 256) - 128 :
		    fill == 257 ? (i % 3 ? -128 : 127) : fill);
	R->matvec_i8(w, rb, x, y1, n, rows);
	K->matvec_i8(w, rb, x, y2, n, rows);
	ok &= memcmp(y1, y2, rows * 4) == 0;
	for (r = 0; r < rows; r++) {
		v = 0;
		for (i = 0; i < n; i++)
			v += w[r * rb + i] * x[i];
		ok &= y1[r] == v;
	}
	if (!ok)
		fprintf(stderr, "%s matvec_i8 n %zu rows %zu fill %d off %d "
		    "differs\n", K->name, n, rows, fill, off);
	free(wb), free(xb), free(y1), free(y2);
	return ok;
}

/* matmul_i8 of rows x n over T tokens against ref's matvec_i8 token by
 * token (ext: every byte -128) */
static int
cmp_mi8(size_t n, size_t rows, size_t T, int off, int ext)
{
	size_t rb = n + (size_t)(rnd() % 3), ldx = n + (size_t)(rnd() % 4);
	size_t ldy = rows + (size_t)(rnd() % 3), i, t;
	int8_t *wb = xmalloc(rows * rb + 1), *w = wb + off;
	int8_t *xb = xmalloc(T * ldx + 1), *x = xb + off;
	int32_t *y1 = xmalloc((T * ldy + 1) * 4), *y2 = xmalloc((T * ldy + 1) * 4);
	int ok;

	for (i = 0; i < rows * rb; i++)
		w[i] = (int8_t)(ext ? -128 : (int)(rnd() % 256) - 128);
	for (i = 0; i < T * ldx; i++)
		x[i] = (int8_t)(ext ? -128 : (int)(rnd() % 256) - 128);
	for (i = 0; i < T * ldy + 1; i++)
		y1[i] = y2[i] = -7;
	for (t = 0; t < T; t++)
		R->matvec_i8(w, rb, x + t * ldx, y1 + t * ldy, n, rows);
	K->matmul_i8(w, rb, x, ldx, y2, ldy, n, rows, T);
	ok = memcmp(y1, y2, (T * ldy + 1) * 4) == 0;
	if (!ok)
		fprintf(stderr, "%s matmul_i8 n %zu rows %zu T %zu off %d ext %d "
		    "differs\n", K->name, n, rows, T, off, ext);
	free(wb), free(xb), free(y1), free(y2);
	return ok;
}

/* scores_i8 of nh heads against rows key rows of n codes, against ref
 * and the plain sums; ext: the extreme codes (-128 times -128). */
static int
cmp_scores(size_t n, size_t rows, size_t nh, int off, int ext)
{
	size_t rb = n + (size_t)(rnd() % 5), ldq = n + (size_t)(rnd() % 3);
	size_t ldy = rows + (size_t)(rnd() % 3), i, r, h;
	int8_t *kb = xmalloc(rows * rb + 1), *k = kb + off;
	int8_t *qb = xmalloc(nh * ldq + 1), *q = qb + off;
	float *qs = xmalloc(nh * 4), *y1 = xmalloc(nh * ldy * 4 + 4);
	float *y2 = xmalloc(nh * ldy * 4 + 4);
	int32_t v;
	int ok = 1;

	for (i = 0; i < rows * rb; i++)
		k[i] = (int8_t)(ext && i % 2 ? -128 : (int)(rnd() % 256) - 128);
	for (i = 0; i < nh * ldq; i++)
		q[i] = (int8_t)(ext && i % 3 ? -128 : (int)(rnd() % 256) - 128);
	for (h = 0; h < nh; h++)
		qs[h] = (0.01f + (float)(rnd() % 1000) / 10.0f) / 127.0f;
	for (i = 0; i < nh * ldy + 1; i++)
		y1[i] = y2[i] = -7.0f;
	R->scores_i8(k, rb, q, ldq, qs, nh, y1, ldy, n, rows);
	K->scores_i8(k, rb, q, ldq, qs, nh, y2, ldy, n, rows);
	ok &= memcmp(y1, y2, (nh * ldy + 1) * 4) == 0;
	for (h = 0; h < nh; h++)
		for (r = 0; r < rows; r++) {
			v = 0;
			for (i = 0; i < n; i++)
				v += q[h * ldq + i] * k[r * rb + i];
			ok &= y1[h * ldy + r] == (float)v * qs[h];
		}
	if (!ok)
		fprintf(stderr, "%s scores_i8 n %zu rows %zu heads %zu off %d "
		    "ext %d differs\n", K->name, n, rows, nh, off, ext);
	free(kb), free(qb), free(qs), free(y1), free(y2);
	return ok;
}

/* The shapes SIMD tiles and tails cut: n of one and two blocks (one
 * 64-byte vector holds half a block), every row count up to 17 (tiles of
 * 2, 4, 8 or 16 rows and their rests) with every token count up to 11,
 * extreme activations; int8 lengths around 16, 32, 64 and 128. */
static void
test_edges(void)
{
	size_t n, rows, T;
	int ok;

	for (n = 128; n <= 256; n += 128) {
		ok = 1;
		for (rows = 1; rows <= 17; rows++)
			for (T = 1; T <= 11; T++)
				ok &= cmp_t2(n, rows, T, -1, 256,
				    (int)((rows + T) % 2));
		CHECK(ok);
		for (T = 1; T <= 9; T++) {
			CHECK(cmp_t2(n, 2 * T + 3, T, -1, -128, 0));
			CHECK(cmp_t2(n, 2 * T + 3, T, -1, 127, 1));
			CHECK(cmp_t2(n, 15, T, 0xaa, -128, 0));
			CHECK(cmp_t2(n, 17, T, 0x00, 127, 1));
			CHECK(cmp_t2(n, 13, T, 0xff, 127, 0));
		}
	}
	for (T = 1; T <= 9; T++)	/* odd block counts, larger n */
		CHECK(cmp_t2(128 * (2 * T + 1), 4 * T + 1, T, -1, 256,
		    (int)(T % 2)));
	ok = 1;
	for (n = 0; n <= 260; n++)
		ok &= cmp_i8(n, 1 + n % 5, 256, (int)(n % 2));
	CHECK(ok);
	for (n = 1; n <= 1025; n += 64) {
		CHECK(cmp_i8(n, 3, -128, 0));
		CHECK(cmp_i8(n + 63, 2, 127, 1));
		CHECK(cmp_i8(n + 62, 3, 257, 0));
	}
	CHECK(cmp_i8(2560, 33, 256, 1));
	CHECK(cmp_i8(6912, 5, 257, 0));
}

/* t3k: codes of rows packed with bn_t3k_pack; the expected products
 * from the codes themselves (not ref's decoder); every table's matvec,
 * matmul and t3_t2 against them.  fill: -1 random codes, else every
 * code = fill.  n a multiple of 64 (128 where matmul and t3_t2 run). */
static int
cmp_t3(size_t n, size_t rows, size_t T, int fill, int fillx, int off)
{
	size_t rb = bn_t3k_row_bytes(n) + (size_t)(rnd() % 2) * 64;
	size_t ldx = n + rnd() % 5, ldy = rows + rnd() % 3, ob = n / 4;
	size_t i, r, t;
	uint8_t *wb = xmalloc(rows * rb + 1), *w = wb + off;
	uint8_t *codes = xmalloc(rows * n + 1), *o1, *o2;
	int8_t *xb = xmalloc(T * ldx + 1), *x = xb + off;
	int32_t *y0 = xmalloc(T * ldy * 4), *y1 = xmalloc(T * ldy * 4);
	int32_t *y2 = xmalloc(T * ldy * 4);
	int ok = 1;

	memset(wb, 0xee, rows * rb + 1);
	for (i = 0; i < rows * n; i++)
		codes[i] = (uint8_t)(fill >= 0 ? fill : (int)(rnd() % 3));
	for (r = 0; r < rows; r++)
		bn_t3k_pack(w + r * rb, codes + r * n, n);
	for (i = 0; i < T * ldx; i++)
		x[i] = (int8_t)(fillx < 256 ? fillx : (int)(rnd() & 0xff) - 128);
	for (i = 0; i < T * ldy; i++)
		y0[i] = y1[i] = y2[i] = 7;
	for (t = 0; t < T; t++)
		for (r = 0; r < rows; r++) {
			int32_t s = 0;

			for (i = 0; i < n; i++)
				s += (codes[r * n + i] - 1) * x[t * ldx + i];
			y0[t * ldy + r] = s;
		}
	for (i = 0; i < rows * n; i++)
		ok &= bn_t3k_get(w + i / n * rb, i % n) == codes[i];
	R->matvec_t3(w, rb, x, y1, n, rows);
	K->matvec_t3(w, rb, x, y2, n, rows);
	ok &= memcmp(y0, y1, rows * 4) == 0 && memcmp(y0, y2, rows * 4) == 0;
	if (n % 128 == 0) {
		R->matmul_t3(w, rb, x, ldx, y1, ldy, n, rows, T);
		K->matmul_t3(w, rb, x, ldx, y2, ldy, n, rows, T);
		ok &= memcmp(y0, y1, T * ldy * 4) == 0 &&
		    memcmp(y0, y2, T * ldy * 4) == 0;
		o1 = xmalloc(rows * ob + 1);
		o2 = xmalloc(rows * ob + 1);
		memset(o2, 0x55, rows * ob);
		for (r = 0; r < rows; r++)
			for (i = 0; i < n; i++)
				bn_t2_set(o2 + r * ob, i, codes[r * n + i] - 1);
		K->t3_t2(w, rb, o1, ob, n, rows);
		ok &= memcmp(o1, o2, rows * ob) == 0;
		R->t3_t2(w, rb, o1, ob, n, rows);
		ok &= memcmp(o1, o2, rows * ob) == 0;
		free(o1), free(o2);
	}
	if (!ok)
		fprintf(stderr, "%s t3 n %zu rows %zu T %zu fill %d x %d off %d "
		    "differs\n", K->name, n, rows, T, fill, fillx, off);
	free(wb), free(codes), free(xb), free(y0), free(y1), free(y2);
	return ok;
}

/* Every byte value a 5-code group packs to decodes back, and the
 * shapes t3k's blocks, short last blocks, tiles and segments cut. */
static void
test_t3(void)
{
	uint8_t codes[320], row[64];
	size_t n, k, j;
	unsigned v, d;
	int ok = 1;

	for (v = 0; v < 243; v++) {
		for (k = 0, d = v; k < 5; k++, d /= 3)	/* code 4 - k */
			for (j = 0; j < 64; j++)
				codes[64 * (4 - k) + j] = (uint8_t)(d % 3);
		bn_t3k_pack(row, codes, 320);
		for (j = 0; j < 320; j++)
			ok &= bn_t3k_get(row, j) == codes[j];
	}
	CHECK(ok);
	for (n = 64; n <= 64 * 12; n += 64)
		CHECK(cmp_t3(n, 1 + rnd() % 9, 1 + rnd() % 7, -1, 256,
		    (int)(n % 3 == 0)));
	for (n = 128; n <= 1280; n += 128) {
		ok = 1;
		for (k = 1; k <= 13; k++)
			ok &= cmp_t3(n, k, 1 + (k + n / 128) % 11, -1, 256,
			    (int)(k % 2));
		CHECK(ok);
	}
	CHECK(cmp_t3(2560, 37, 9, -1, 256, 1));
	CHECK(cmp_t3(6912, 11, 13, -1, 256, 0));
	CHECK(cmp_t3(6912, 75 * 2 + 3, 5, -1, 256, 1));	/* chunks */
	CHECK(cmp_t3(320 * 64 + 128, 3, 2, -1, 256, 0));	/* segments */
	CHECK(cmp_t3(320 * 130, 2, 3, -1, 256, 1));
	for (n = 320 * 64; n <= 320 * 130; n += 320 * 66) {
		CHECK(cmp_t3(n, 3, 2, 2, -128, 0));	/* the extremes */
		CHECK(cmp_t3(n, 3, 2, 0, -128, 1));
		CHECK(cmp_t3(n, 3, 2, 2, 127, 0));
		CHECK(cmp_t3(n, 3, 2, 0, 127, 1));
		CHECK(cmp_t3(n, 3, 2, 1, -128, 0));
	}
	CHECK(cmp_t3(262144 + 128, 2, 2, -1, 256, 0));	/* past the buffer */
}

/* q4: rows packed with bn_q4_pack, f16 scales; the spec's value from the
 * codes themselves (block sums, fmaf into lane b % 16, the tree), then
 * ref and the table to the bit.  fill: -100 random codes, else every
 * code; s_stride past the row's blocks when off. */
static int
cmp_q4(size_t n, size_t rows, int fill, int fillx, int off)
{
	size_t nb = n / BN_Q4_BLOCK, rb = n / 2 + (size_t)off * 16;
	size_t ss = nb + (size_t)off * 3, r, i, b;
	uint8_t *wb = xmalloc(rows * rb + 1), *w = wb + off;
	int8_t *q = xmalloc(n + 1), *xb = xmalloc(n + 1), *x = xb + off;
	uint16_t *sc = xmalloc((rows * ss + 1) * 2);
	float *y0 = xmalloc(rows * 4 + 4), *y1 = xmalloc(rows * 4 + 4);
	float *y2 = xmalloc(rows * 4 + 4), acc[16], a[8];
	int32_t isum;
	int ok = 1, l;

	for (i = 0; i < n; i++)
		x[i] = (int8_t)(fillx < 256 ? fillx : (int)(rnd() & 0xff) - 128);
	for (i = 0; i < rows * ss; i++)	/* positive, negative, tiny, 0 */
		sc[i] = (uint16_t)(rnd() % 7 == 0 ? 0 : (rnd() & 0x7bff) |
		    (rnd() % 2) << 15);
	for (r = 0; r < rows; r++) {
		for (i = 0; i < n; i++)
			q[i] = (int8_t)(fill > -100 ? fill : (int)(rnd() % 16) -
			    8);
		bn_q4_pack(w + r * rb, q, n);
		for (i = 0; i < n; i++)
			ok &= bn_q4_get(w + r * rb, n, i) == q[i];
		memset(acc, 0, sizeof acc);
		for (b = 0; b < nb; b++) {
			for (isum = 0, i = 0; i < BN_Q4_BLOCK; i++)
				isum += q[BN_Q4_BLOCK * b + i] *
				    x[BN_Q4_BLOCK * b + i];
			acc[b % 16] = fmaf((float)isum, bn_f16_to_f32(
			    sc[r * ss + b]), acc[b % 16]);
		}
		for (l = 0; l < 8; l++)
			a[l] = acc[l] + acc[l + 8];
		y0[r] = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) +
		    (a[3] + a[7]));
	}
	R->matvec_q4(w, rb, sc, ss, x, y1, n, rows);
	K->matvec_q4(w, rb, sc, ss, x, y2, n, rows);
	ok &= same_f(y0, y1, rows) && same_f(y0, y2, rows);
	if (!ok)
		fprintf(stderr, "%s q4 n %zu rows %zu fill %d x %d off %d "
		    "differs\n", K->name, n, rows, fill, fillx, off);
	free(wb), free(q), free(xb), free(sc), free(y0), free(y1), free(y2);
	return ok;
}

static void
test_q4(void)
{
	size_t n;
	int ok = 1;

	for (n = 32; n <= 32 * 40; n += 32)	/* short groups, 1-2 whole */
		ok &= cmp_q4(n, 1 + n % 7, -100, 256, (int)(n / 32 % 2));
	CHECK(ok);
	CHECK(cmp_q4(256, 50, -100, 256, 0));	/* the austen head */
	CHECK(cmp_q4(2560, 33, -100, 256, 1));	/* 2B-4T's */
	CHECK(cmp_q4(2048 + 32 * 5, 9, -100, 256, 0));
	CHECK(cmp_q4(BN_Q4_MAXN, 3, -100, 256, 1));
	CHECK(cmp_q4(2560, 5, -8, -128, 0));	/* extremes */
	CHECK(cmp_q4(2560, 5, 7, 127, 1));
	CHECK(cmp_q4(2560 + 32 * 3, 5, -8, 127, 0));
	CHECK(cmp_q4(2560 + 32 * 3, 5, 7, -128, 1));
}


static void
test_table(void)
{
	static const int dt[] = { BN_DTYPE_F32, BN_DTYPE_F16, BN_DTYPE_BF16,
	    BN_DTYPE_I8 };
	size_t n, rows, T;
	int j, k;

	for (n = 0; n <= 72; n++)
		CHECK(cmp_vec(n, (int)(n % 2), (int)(n % 3 == 0)));
	/* head sizes and every width below and between the blocks */
	for (j = 0; j < 4; j++) {
		for (n = 0; n <= 200; n += 1 + (n > 72) * 7)
			CHECK(cmp_rows(dt[j], n, 1 + rnd() % 9, (int)(n % 2),
			    (int)(n % 3 == 0)));
		CHECK(cmp_rows(dt[j], 64, 300, 0, 0));
		CHECK(cmp_rows(dt[j], 96, 257, 1, 1));
		CHECK(cmp_rows(dt[j], 128, 130, 0, 1));
		CHECK(cmp_rows(dt[j], 40, 0, 0, 0));
		for (n = 1; n <= 8; n++)	/* heads: groups of 4, rests */
			CHECK(cmp_rows_h(dt[j], n * 17 % 140 + 1, 1 + rnd() %
			    100, n, (int)(n % 2)));
		CHECK(cmp_rows_h(dt[j], 128, 2049, 4, 0));
		CHECK(cmp_rows_h(dt[j], 96, 32, 5, 1));
		CHECK(cmp_rows_h(dt[j], 64, 0, 4, 0));
		CHECK(cmp_rows_h(dt[j], 16, 33, 4, 0));
	}
	/* q8 scores: head sizes, the tails of 16 and 64 bytes, groups of
	 * 1 to 9 heads (blocks of 4, 2, 1), rows around the 2 to 16 a
	 * step */
	for (n = 0; n <= 200; n += 1 + (n > 40) * 7)
		CHECK(cmp_scores(n, 1 + rnd() % 37, 1 + n % 9, (int)(n % 2),
		    n % 5 == 0));
	for (k = 1; k <= 9; k++) {
		CHECK(cmp_scores(128, 2049, (size_t)k, k % 2, 0));
		CHECK(cmp_scores(64, 17 * (size_t)k, (size_t)k, 0, k == 3));
		CHECK(cmp_scores(80, (size_t)k, (size_t)k, 1, 0));
	}
	CHECK(cmp_scores(256, 0, 4, 0, 0));
	CHECK(cmp_mi8(2560, 37, 9, 1, 0));	/* the head's shape */
	CHECK(cmp_mi8(2560, 3, 4, 0, 1));
	CHECK(cmp_mi8(100, 0, 3, 0, 0));
	CHECK(cmp_scores(128, 33, 4, 1, 1));
	for (n = 0; n <= 40; n++)	/* whole eights and the rest */
		CHECK(cmp_int2(K, n, (int)(n % 7 == 3)));
	CHECK(cmp_int2(K, 384, 0));
	CHECK(cmp_int2(K, 384 + 5, 1));
	for (n = 100; n < 5000; n += 997) {
		CHECK(cmp_vec(n, 0, 0));
		CHECK(cmp_vec(n, 1, 1));
	}
	for (n = 0; n <= 40; n++)
		for (k = 0; k < 3; k++)
			CHECK(cmp_softmax(n, (int)k));
	CHECK(cmp_softmax(2049, 0));
	CHECK(cmp_softmax(2049, 1));
	for (k = 0; k < 20; k++)
		CHECK(cmp_softmax(50000, 3));
	for (j = 0; j < 4; j++) {
		for (n = 0; n <= 40; n++)
			CHECK(cmp_matf(dt[j], n, 1 + rnd() % 13, 1 + rnd() % 9,
			    (int)(n % 2), (int)(n % 5 == 0)));
		for (k = 0; k < 20; k++) {
			n = 64 + rnd() % 700;
			rows = 1 + rnd() % 37;
			T = 1 + rnd() % 9;
			CHECK(cmp_matf(dt[j], n, rows, T, k % 2, k % 3 == 0));
		}
		/* more rows than one cache chunk */
		CHECK(cmp_matf(dt[j], 2560 + 3, 70, 7, 0, 0));
	}
	for (n = 0; n <= 128 * 6; n += 128)
		for (k = 0; k < 8; k++)
			CHECK(cmp_t2(n, 1 + rnd() % 37, 1 + rnd() % 9, -1, 256,
			    k == 3));
	for (k = 0; k < 10; k++)
		CHECK(cmp_t2(128 * (1 + rnd() % 40), 1 + rnd() % 37,
		    1 + rnd() % 9, -1, 256, k % 2));
	CHECK(cmp_t2(128 * 20, 700, 5, -1, 256, 0));	/* several chunks */
	/* the matmul's tiles: 2 rows x 6 tokens (n <= 4096) or x 4 (larger
	 * n): every token count up to two tiles and a remainder, odd and
	 * even rows, n on both sides of the switch and not a multiple of
	 * the 8-block int16 group (6912 = 54 blocks) */
	for (T = 1; T <= 13; T++) {
		CHECK(cmp_t2(128 * 3, 2 * T + 1, T, -1, 256, (int)(T % 2)));
		CHECK(cmp_t2(128 * 32, 2 * T, T, -1, 256, 0));
		CHECK(cmp_t2(128 * 33, 1 + T % 4, T, -1, 256, (int)(T % 3 == 0)));
	}
	CHECK(cmp_t2(6912, 11, 13, -1, 256, 1));
	CHECK(cmp_t2(6912, 75 * 2 + 3, 9, -1, 256, 0));	/* several chunks */
	CHECK(cmp_t2(6912, 5, 9, 0xaa, -128, 0));
	CHECK(cmp_t2(6912, 5, 9, 0xff, -128, 1));
	CHECK(cmp_t2(6912, 5, 9, 0x00, 127, 0));
	/* extremes: all +1 with x = -128, all -1 with x = 127, code 3 */
	for (n = 128; n <= 128 * 20; n += 128 * 19) {
		CHECK(cmp_t2(n, 9, 7, 0xaa, -128, 0));
		CHECK(cmp_t2(n, 9, 7, 0x00, 127, 1));
		CHECK(cmp_t2(n, 9, 7, 0x00, -128, 0));
		CHECK(cmp_t2(n, 9, 7, 0xff, -128, 1));
		CHECK(cmp_t2(n, 9, 7, 0xff, 127, 0));
	}
	/* int8 x int8 (the compact head): every length class, extremes */
	for (k = 0; k < 40; k++) {
		size_t nn = k < 20 ? (size_t)k * 7 : 16 + rnd() % 3000;
		size_t rr = 1 + rnd() % 9, i;
		int8_t *w = xmalloc(nn * rr + 1), *x = xmalloc(nn + 1);
		int32_t ya[9], yb[9], yn[9];

		for (i = 0; i < nn * rr + 1; i++)
			w[i] = (int8_t)(k == 5 ? -128 : (int)(rnd() % 256) - 128);
		for (i = 0; i < nn + 1; i++)
			x[i] = (int8_t)(k == 5 ? -128 : (int)(rnd() % 256) - 128);
		R->matvec_i8(w + 1, nn, x + 1, ya, nn, rr);
		K->matvec_i8(w + 1, nn, x + 1, yb, nn, rr);
		CHECK(cmp_mi8(nn, rr + (size_t)k % 5, 1 + (size_t)k % 11,
		    k % 2, k == 5));
		for (i = 0; i < rr; i++) {
			size_t c;

			yn[i] = 0;
			for (c = 0; c < nn; c++)
				yn[i] += w[1 + i * nn + c] * x[1 + c];
		}
		CHECK(memcmp(ya, yn, rr * 4) == 0);
		CHECK(memcmp(ya, yb, rr * 4) == 0);
		free(w);
		free(x);
	}
	test_edges();
	test_t3();
	test_q4();
	/* and the values ref gives there */
	{
		uint8_t w[32 * 20];
		int8_t x[128 * 20];
		int32_t y;

		memset(w, 0xaa, sizeof w);
		memset(x, -128, sizeof x);
		K->matvec_t2(w, 32 * 20, x, &y, 128 * 20, 1);
		CHECK(y == -128 * 128 * 20);
		memset(w, 0x00, sizeof w);
		memset(x, 127, sizeof x);
		K->matvec_t2(w, 32 * 20, x, &y, 128 * 20, 1);
		CHECK(y == -127 * 128 * 20);
	}
}

/* --- the pool --- */

struct pool_ctx {
	long sum[8];
	int bad;
};

static void
pool_fn(void *arg, int i, int n)
{
	struct pool_ctx *c = arg;

	c->sum[i] += i;
	if (n != c->bad)	/* bad holds the expected n until checked */
		c->sum[7] = -1000000;
}

static void
test_pool(void)
{
	static const int sizes[] = { 1, 2, 4 };
	struct bn_pool *p;
	struct pool_ctx c;
	long total;
	int j, k, i;

	for (j = 0; j < 3; j++) {
		p = bn_pool_create(sizes[j]);
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		CHECK(bn_pool_size(p) == sizes[j]);
		memset(&c, 0, sizeof c);
		c.bad = sizes[j];
		for (k = 0; k < 1000; k++)
			bn_pool_run(p, pool_fn, &c);
		total = 0;
		for (i = 0; i < 8; i++)
			total += c.sum[i];
		CHECK(total == 1000L * sizes[j] * (sizes[j] - 1) / 2);
		for (i = 1; i < sizes[j]; i++)
			CHECK(c.sum[i] == 1000L * i);
		bn_pool_free(p);
	}
	CHECK(bn_pool_create(0) == NULL);
	bn_pool_free(NULL);
}

int
main(void)
{
	size_t g;
	int have, have512 = -1;

	CHECK(bn_kernels_init("ref") == 0 && bn_k == &bn_kernels_ref);
	CHECK(bn_kernels_init("nonesuch") == -2);
	CHECK(bn_kernels_init("AVX2") == -2);
	CHECK(bn_kernels_init("") == 0);
	test_ref_float();
	test_ref_int();
	for (g = 0; g <= 20; g++)
		CHECK(cmp_int2(R, g, g % 5 == 2));
	CHECK(cmp_int2(R, 96 + 3, 0));
	test_pool();
	have = bn_kernels_init("avx2") == 0;
#if defined(__x86_64__)
	if (have) {
		CHECK(bn_k == &bn_kernels_avx2);
		K = &bn_kernels_avx2;
		test_table();
	}
	/* AVX-512 VNNI where the CPU (and the OS) has it, as the compiler's
	 * own CPU detection also says; else it is refused, and not tested */
	have512 = bn_kernels_init("avx512") == 0;
#if defined(__GNUC__) && !defined(__clang__)
	CHECK(have512 == (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512vnni") && have));
#endif
	if (have512) {
		CHECK(bn_k == &bn_kernels_avx512);
		CHECK(bn_kernels_init("") == 0 && bn_k == &bn_kernels_avx512);
		K = &bn_kernels_avx512;
		test_table();
	} else {
		CHECK(bn_kernels_init("avx512") == -1);
		printf("avx512: NOT TESTED: this CPU (or its OS) lacks AVX-512 "
		    "F, BW, VL or VNNI\n");
	}
#endif
#if defined(__aarch64__)
	/* NEON always; the sdot variant where the CPU has it (under
	 * qemu-aarch64: -cpu max has it, -cpu cortex-a72 does not) */
	have = bn_kernels_init("neon") == 0;
	if (have) {
		CHECK(bn_k == &bn_kernels_neon);
		K = &bn_kernels_neon;
		test_table();
	}
	if (bn_kernels_init("neon-dotprod") == 0) {
		CHECK(bn_k == &bn_kernels_neon_dotprod);
		K = &bn_kernels_neon_dotprod;
		test_table();
	} else
		printf("neon-dotprod: not on this CPU\n");
#endif
	bn_kernels_init("ref");
	if (!have) {
		printf("%u passed, %u failed, 1 skipped: no AVX2 on this CPU\n",
		    check_pass, check_fail);
		return check_fail != 0;
	}
	if (have512 == 0 && check_fail == 0) {
		printf("%u passed, %u failed, avx512 not tested: no AVX-512 "
		    "VNNI on this CPU\n", check_pass, check_fail);
		return 0;
	}
	return check_done();
}
