/* kernels.h: every hot loop, as a table of functions.  kernels/ref/ is
 * the specification (plain C); kernels/x86/ has AVX2 versions and
 * kernels/arm/ NEON ones that give the same results bit for bit.
 * bn_kernels_init() picks one, once.
 *
 * Float dot products have one fixed evaluation order, shared by every
 * implementation, so that they agree to the bit:
 *   - 8 lanes: lane l accumulates elements i = 8j + l, j = 0, 1, ...,
 *     for i < n - n % 8, each step acc[l] = fmaf(w[i], x[i], acc[l]),
 *     starting from acc[l] = 0;
 *   - then the lanes are reduced as
 *     ((acc0 + acc4) + (acc2 + acc6)) + ((acc1 + acc5) + (acc3 + acc7));
 *   - then the tail elements i >= n - n % 8 are added in order:
 *     s = fmaf(w[i], x[i], s).
 * f16 and bf16 weights are widened to f32 exactly before the product.
 * Integer kernels are exact by nature. */
#ifndef BN_KERNELS_H
#define BN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Weight matrix: rows x n, row r at (const char *)w + r * row_bytes.
 * Float types: dtype f32 (0), f16 (1), bf16 (2), and i8 (3: the q8 KV
 * cache's codes, widened exactly) as in dtype.h.
 * t2: bnt(5)'s 2-bit ternary layout (32 bytes per 128 elements; n a
 * multiple of 128 here; row_bytes = n / 4). */
struct bn_kernels {
	const char *name;

	/* y[r] = dot(W[r], x), r in [0, rows); n elements per row. */
	void (*matvec_f)(int dtype, const void *w, size_t row_bytes,
	    const float *x, float *y, size_t n, size_t rows);
	/* Y[t * ldy + r] = dot(W[r], X[t * ldx .. + n]) for t in [0, T),
	 * r in [0, rows); each value equal to what matvec_f gives. */
	void (*matmul_f)(int dtype, const void *w, size_t row_bytes,
	    const float *x, size_t ldx, float *y, size_t ldy, size_t n,
	    size_t rows, size_t T);

	/* Ternary weights times int8 activations, exact int32 results:
	 * y[r] = sum_i t(W[r], i) * x[i], t in {-1, 0, +1}. */
	void (*matvec_t2)(const uint8_t *w, size_t row_bytes,
	    const int8_t *x, int32_t *y, size_t n, size_t rows);
	/* Y[t * ldy + r] for t in [0, T), X row t at x + t * ldx. */
	void (*matmul_t2)(const uint8_t *w, size_t row_bytes,
	    const int8_t *x, size_t ldx, int32_t *y, size_t ldy, size_t n,
	    size_t rows, size_t T);

	/* The same products with the weights in t3k, the kernels' 1.6-bit
	 * layout (below): n a multiple of 64, row_bytes at least
	 * bn_t3k_row_bytes(n). */
	void (*matvec_t3)(const uint8_t *w, size_t row_bytes,
	    const int8_t *x, int32_t *y, size_t n, size_t rows);
	void (*matmul_t3)(const uint8_t *w, size_t row_bytes,
	    const int8_t *x, size_t ldx, int32_t *y, size_t ldy, size_t n,
	    size_t rows, size_t T);
	/* t3k rows to t2 rows of the same n elements (a multiple of 128),
	 * out row r at out + r * out_row_bytes: how matmul_t3 takes a
	 * chunk of rows, decoded once for all its tokens. */
	void (*t3_t2)(const uint8_t *w, size_t row_bytes, uint8_t *out,
	    size_t out_row_bytes, size_t n, size_t rows);

	/* int8 weights times int8 activations, exact int32 results
	 * (the compact output head): y[r] = sum_i W[r][i] * x[i]. */
	void (*matvec_i8)(const int8_t *w, size_t row_bytes,
	    const int8_t *x, int32_t *y, size_t n, size_t rows);
	/* The same for T tokens (a batch, a prompt's logits): Y[t * ldy
	 * + r] for t in [0, T), X row t at x + t * ldx. */
	void (*matmul_i8)(const int8_t *w, size_t row_bytes,
	    const int8_t *x, size_t ldx, int32_t *y, size_t ldy, size_t n,
	    size_t rows, size_t T);

	/* The step after an integer product (BitNet's dequantization):
	 * y[r] = div ? (float)isum[r] / (as * scale[r]) :
	 * (float)isum[r] * scale[r] / as, r in [0, n), each operation
	 * rounded to f32 as written (a true division, not a reciprocal). */
	void (*isum_f32)(const int32_t *isum, const float *scale, float as,
	    int div, float *y, size_t n);

	/* Attention's scores over a q8 KV cache, the query in int8 too
	 * (as llama.cpp's flash attention quantizes Q for a q8_0 cache):
	 * nh query heads, head h's codes at q + h * ldq and its factor
	 * qs[h] (1 / quant_i8's scale, or any float), against rows key rows
	 * of n codes, row r at k + r * row_bytes; y[h * ldy + r] =
	 * (float)isum * qs[h], isum = sum_i q[h][i] * K[r][i] exactly
	 * (n <= 65536). */
	void (*scores_i8)(const int8_t *k, size_t row_bytes, const int8_t *q,
	    size_t ldq, const float *qs, size_t nh, float *y, size_t ldy,
	    size_t n, size_t rows);

	/* 4-bit weights in the q4 layout (below) times int8 activations:
	 * y[r] = the row's blocks' s_b * isum_b in the q4 order; n a
	 * multiple of 32, at most BN_Q4_MAXN; s row r at s + r * s_stride
	 * (f16 scales, one per block). */
	void (*matvec_q4)(const uint8_t *w, size_t row_bytes,
	    const uint16_t *s, size_t s_stride, const int8_t *x, float *y,
	    size_t n, size_t rows);

	/* Per-token absmax int8 quantization, as BitNet does:
	 * m = max |x[i]| (0 if n == 0); s = 127 / max(m, 1e-5f) (f32);
	 * q[i] = clamp(nearbyintf(x[i] * s), -128, 127) (round half to
	 * even); returns s. */
	float (*quant_i8)(const float *x, int8_t *q, size_t n);

	/* RMSNorm: ss = sum x[i]^2 accumulated as a float dot product
	 * (the order above); r = 1 / sqrtf(ss / n + eps);
	 * y[i] = w[i] * (x[i] * r), w in dtype (f32, f16, bf16);
	 * y may equal x. */
	void (*rmsnorm)(float *y, const float *x, int wdtype, const void *w,
	    size_t n, float eps);
	/* float dot product in the order above (attention scores, sums). */
	float (*dot_f32)(const float *a, const float *b, size_t n);
	/* y[i] += a * x[i] (fmaf), for attention's weighted sum of V. */
	void (*axpy_f32)(float *y, float a, const float *x, size_t n);
	/* rows axpys in order: for r = 0 .. rows - 1, y[i] = fmaf(a[r],
	 * X[r][i], y[i]), i < n; row r at (const char *)x + r * row_bytes
	 * in dtype (f32, f16 or bf16, widened exactly).  Attention's
	 * weighted sum of the V rows of a KV cache. */
	void (*axpy_rows)(int dtype, float *y, const float *a, const void *x,
	    size_t row_bytes, size_t n, size_t rows);
	/* axpy_rows for nh heads that share the rows (a group of query
	 * heads and its V rows): head h's y at y + h * ldy, its a at a + h
	 * * lda; each head's values what axpy_rows gives it, each row read
	 * once for all. */
	void (*axpy_rows_h)(int dtype, float *y, size_t ldy, const float *a,
	    size_t lda, size_t nh, const void *x, size_t row_bytes, size_t n,
	    size_t rows);

	/* Attention's softmax of n scores in place: x[i] = x[i] * pre[i]
	 * (where pre) * scale; m = the largest x[i] (-inf if none; a NaN is
	 * passed over); x[i] = expf(x[i] - m) (libm's), sum += x[i] in
	 * order from sum = 0; then x[i] = x[i] / sum (* post[i] where post).
	 * pre, post: a q8 KV cache's key and value scales.  The exponentials
	 * may be vectors only where they are libm's bits; the sum keeps one
	 * order everywhere. */
	void (*softmax)(float *x, size_t n, float scale, const float *pre,
	    const float *post);

	/* The float GEMM's micro-kernel (kernels/gemm.h: bn_sgemm, the
	 * training's products): one BN_GEMM_MR x BN_GEMM_NR tile from packed
	 * panels, each value accumulated with fmaf in k order. */
	void (*gemm_uk)(size_t kc, const float *ap, const float *bp,
	    float *c, size_t ldc, size_t mr, size_t nr, int acc);

	/* One 128-column block of t2 rows as ONNX's INT2, transposed (the
	 * ONNX export): w points at the block in row 0, rows 4 * groups.
	 * out[c * ld + g], c in [0, 128), g in [0, groups): the codes of
	 * column c in rows 4g .. 4g + 3, low row first, each as 2-bit two's
	 * complement (value = code - 1).  Returns nonzero if a code was 3
	 * (invalid; the output is then unspecified). */
	int (*int2_t2)(const uint8_t *w, size_t row_bytes, size_t groups,
	    uint8_t *out, size_t ld);
};

/* t3k: ternary rows in 1.6 bits a weight for generation, where the
 * bytes read per token set the speed.  Blocks of BN_T3K_BLOCK = 320
 * elements in 64 bytes; byte j of a block holds elements j + 64k,
 * k = 0..4, as q = ceil(256 v / 243), v = sum c_k 3^(4 - k), c = value
 * + 1 (0, 1, 2).  Code k comes back as c_k = floor(3 m_k / 256), m_k =
 * q 3^k mod 256 (exact for every v: tests/unit/t_kernels), so a SIMD
 * decoder needs byte adds (m_k+1 = 3 m_k) and compares, no table.
 * Since 3 m_k - m_k+1 = 256 c_k, a dot product is also (3 sum m_k x -
 * sum m_k+1 x) / 256: byte products, no decoding at all.  A row's last
 * block may hold fewer elements (n - 320 floor(n / 320), a multiple of
 * 64): codes k >= that / 64 are 1 there and read no x.  bnt(5)'s t3
 * (5 consecutive elements a byte) is repacked into t3k at load. */
#define BN_T3K_BLOCK 320
size_t bn_t3k_row_bytes(size_t n);
/* One row of n codes (0, 1, 2; n a multiple of 64) into t3k. */
void bn_t3k_pack(uint8_t *row, const uint8_t *codes, size_t n);
/* Element i's code (0, 1, 2) of a t3k row. */
int bn_t3k_get(const uint8_t *row, size_t i);
/* matmul_t3 for a table k: chunks of rows decoded by k->t3_t2 into a
 * buffer on the stack, then k->matmul_t2 over every token. */
void bn_matmul_t3_chunked(const struct bn_kernels *k, const uint8_t *w,
    size_t row_bytes, const int8_t *x, size_t ldx, int32_t *y, size_t ldy,
    size_t n, size_t rows, size_t T);
/* ref's t3k kernels, for tables without their own */
void bn_matvec_t3_ref(const uint8_t *w, size_t row_bytes, const int8_t *x,
    int32_t *y, size_t n, size_t rows);
void bn_matmul_t3_ref(const uint8_t *w, size_t row_bytes, const int8_t *x,
    size_t ldx, int32_t *y, size_t ldy, size_t n, size_t rows, size_t T);
void bn_t3_t2_ref(const uint8_t *w, size_t row_bytes, uint8_t *out,
    size_t out_row_bytes, size_t n, size_t rows);

/* q4: the compact output head in 4.5 bits a weight.  A row is blocks
 * of 32 elements, block b with an f16 scale s_b and codes u = q + 8 (q
 * in -8..7): isum_b = sum q x over the block, exactly; the row's value
 * is acc[b % 16] = fmaf((float)isum_b, s_b, acc[b % 16]) for b in order
 * from acc[] = 0, then a[l] = acc[l] + acc[l + 8] (l < 8) and the float
 * dot product's tree over a[].  Bytes: groups of up to 16 blocks (G, the
 * last group the rest); a group holds 8 slices t of 4G codes, slice t
 * byte 4L + i the code of element 4t + i of the group's block L, so that
 * one 4-byte lane of a slice is in one block; slice 2c in the low and
 * 2c + 1 in the high nibbles of the group's bytes 4Gc .. 4Gc + 4G - 1.
 * A row is n / 2 bytes. */
#define BN_Q4_BLOCK 32
#define BN_Q4_MAXN 32768
void bn_q4_pack(uint8_t *row, const int8_t *q, size_t n);
/* element i's q (-8..7) of a q4 row */
int bn_q4_get(const uint8_t *row, size_t n, size_t i);
/* For SIMD q4 kernels: x (n elements) in each group's slice order into
 * xp (n bytes), and 8 times each block's sum (what the codes' + 8 add)
 * into xs8 (n / 32). */
void bn_q4_prep(const int8_t *x, size_t n, int8_t *xp, int32_t *xs8);
void bn_matvec_q4_ref(const uint8_t *w, size_t row_bytes, const uint16_t *s,
    size_t s_stride, const int8_t *x, float *y, size_t n, size_t rows);

/*
 * BN_ROW_TYPE(f, dtype, args...): f(T, args...) with T the constant for
 * the row type dtype (f16, bf16, int8, else f32), so that a float kernel
 * written once for every row type is compiled once for each.
 */
#define BN_ROW_TYPE(f, dtype, ...) do {					\
	switch (dtype) {						\
	case BN_DTYPE_F16: f(BN_DTYPE_F16, __VA_ARGS__); break;		\
	case BN_DTYPE_BF16: f(BN_DTYPE_BF16, __VA_ARGS__); break;	\
	case BN_DTYPE_I8: f(BN_DTYPE_I8, __VA_ARGS__); break;		\
	default: f(BN_DTYPE_F32, __VA_ARGS__); break;			\
	}								\
} while (0)

/* axpy_rows_h as nh calls of a table's axpy_rows (ref's, NEON's) */
void bn_axpy_rows_h_each(const struct bn_kernels *k, int dtype, float *y,
    size_t ldy, const float *a, size_t lda, size_t nh, const void *x,
    size_t row_bytes, size_t n, size_t rows);

/* matmul_i8 as T calls of a table's matvec_i8 (ref's, AVX2's, NEON's) */
void bn_matmul_i8_each(const struct bn_kernels *k, const int8_t *w,
    size_t row_bytes, const int8_t *x, size_t ldx, int32_t *y, size_t ldy,
    size_t n, size_t rows, size_t T);

/* ref's softmax, for tables without their own */
void bn_softmax_ref(float *x, size_t n, float scale, const float *pre,
    const float *post);

/* ref's int2_t2, for tables without their own */
int bn_int2_t2_ref(const uint8_t *w, size_t row_bytes, size_t groups,
    uint8_t *out, size_t ld);

extern const struct bn_kernels bn_kernels_ref;
/* x86-64 builds only: AVX2, and AVX2 with the AVX-512 VNNI integer
 * kernels */
extern const struct bn_kernels bn_kernels_avx2, bn_kernels_avx512;
/* aarch64 builds only: NEON, and NEON with the sdot int8 kernels */
extern const struct bn_kernels bn_kernels_neon, bn_kernels_neon_dotprod;
extern const struct bn_kernels *bn_k;		/* the selected table */

/* Pick the kernels: force NULL reads BN_KERNEL (ref | avx2 | avx512 |
 * neon | neon-dotprod; unset or empty: the best this CPU runs).  Returns
 * 0; -1 if this CPU (or this build) cannot run the forced path; -2 if it
 * is no path's name (the tools exit 69 for both). */
int bn_kernels_init(const char *force);

/* A persistent pool of worker threads; the caller takes part. */
struct bn_pool;

/* nthreads >= 1 (1: no extra threads).  NULL on failure. */
struct bn_pool *bn_pool_create(int nthreads);
int bn_pool_size(const struct bn_pool *p);
/* Run fn(ctx, i, nthreads) for i = 0 .. nthreads - 1, one per thread,
 * and return when all are done.  No allocation. */
void bn_pool_run(struct bn_pool *p, void (*fn)(void *ctx, int i, int n),
    void *ctx);
void bn_pool_free(struct bn_pool *p);
/* The default thread count: the CPUs this process may run on (its
 * affinity mask), no more than its cgroup CPU quota allows, 1 to 64. */
int bn_pool_default_threads(void);

#endif
